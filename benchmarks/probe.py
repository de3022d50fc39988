r"""Frozen embeddings against fine-tuning: a logistic-regression probe on the
shipped language model's pooled embeddings, on the GUE tasks.

  python -m benchmarks.probe --data_root=../shared/data/gue --tasks=all \
      --against=benchmarks/results/gue_transfer.json \
      --output=benchmarks/results/probe.json --resume

Each sequence of every split is embedded whole (no cropping: the backbone is
convolutional) with `Embedder.of_windows`, both strands averaged; the features are
standardised on train; a logistic regression per C of `C_GRID` (1e-4 to 100; from
C = 1 on the fit is hardly penalised, so 100 stands for no penalty) is fitted on train and the C and
decision threshold with the best dev MCC are kept
(`baselines.logistic_on_dev`, the k-mer regression's search); test MCC at that threshold. Beside it, from
--against (the accuracy suite run with --init_from=<the same preset>
--compare_scratch): the same preset fine-tuned, and the same model from scratch,
3 seeds each; and the published DNABERT-2. The probe is deterministic (one run).
"""

from __future__ import annotations

import argparse
import json
import os
import time

import numpy as np

from benchmarks import common

BATCH = 512
C_GRID = (1e-4, 1e-3, 1e-2, 0.1, 1.0, 10.0, 100.0)


def embed(embedder, sequences: list[str]) -> np.ndarray:
  return np.concatenate([embedder.of_windows(sequences[i:i + BATCH])
                         for i in range(0, len(sequences), BATCH)])


def probe(embedder, folder: str) -> dict:
  from sklearn import metrics as skm

  from benchmarks.baselines import logistic_on_dev, read_split

  start = time.time()
  data = {split: read_split(folder, split) for split in ("train", "dev", "test")}
  x = {split: embed(embedder, seqs) for split, (seqs, _) in data.items()}
  embed_seconds = time.time() - start
  mean, std = x["train"].mean(axis=0), x["train"].std(axis=0) + 1e-6
  x = {split: (values - mean) / std for split, values in x.items()}
  found = logistic_on_dev(x, {split: labels for split, (_, labels) in data.items()},
                          C_GRID, binary=True)
  best = {"C": found["C"], "threshold": found["threshold"], "dev_mcc": found["dev_score"],
          "model": found["model"]}
  test = best.pop("model").predict_proba(x["test"])[:, 1]
  truth = data["test"][1]
  best.update(mcc=float(skm.matthews_corrcoef(truth, (test >= best["threshold"]).astype(int))),
              auroc=float(skm.roc_auc_score(truth, test)),
              sizes=[len(data[s][1]) for s in ("train", "dev", "test")],
              embed_seconds=embed_seconds, seconds=time.time() - start)
  return best


def main():
  from benchmarks.task_runs import find_tasks
  from gslm_keras.inference.embedding import Embedder

  parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
  parser.add_argument("--data_root", default="../shared/data/gue")
  parser.add_argument("--tasks", default="all")
  parser.add_argument("--model", default="gslm-lm-multispecies")
  parser.add_argument("--against", default="benchmarks/results/gue_transfer.json")
  parser.add_argument("--output", default="benchmarks/results/probe.json")
  parser.add_argument("--resume", action="store_true")
  parser.add_argument("--note", default="")
  args = parser.parse_args()
  results = common.header("benchmarks.probe")
  results.update(note=args.note, model=args.model, tasks={})
  if args.resume and os.path.exists(args.output):
    with open(args.output) as handle:
      previous = json.load(handle)
    if previous.get("model") == args.model:
      results["tasks"] = previous["tasks"]
  with open(args.against) as handle:
    against = json.load(handle)
  results["against"] = {"path": args.against, "date": against["date"],
                        "init_from": against.get("init_from")}
  embedder = Embedder(args.model)
  for name in find_tasks(args.data_root, args.tasks):
    if name in results["tasks"]:
      continue
    runs = against["tasks"].get(name, {}).get("runs", [])
    results["tasks"][name] = {
        "probe": probe(embedder, os.path.join(args.data_root, name)),
        "fine_tuned": [r["mcc"] for r in runs if r["ablation"] == "both"],
        "scratch": [r["mcc"] for r in runs if r["ablation"] == "scratch"]}
    common.write_results(args.output, results, markdown(results))
    print(f"{name}: probe MCC {results['tasks'][name]['probe']['mcc']:.3f}", flush=True)
  print(markdown(results))


def markdown(results: dict) -> str:
  from benchmarks.published import GUE

  def spread(values):
    return (f"{100 * np.mean(values):.1f} ± {100 * np.std(values, ddof=1):.1f}" if values
            else "not run")

  lines = ["# Frozen embeddings: a probe against fine-tuning", "",
           common.machine_lines(results),
           f"Logistic regression on the pooled embeddings of `{results['model']}` "
           "(whole sequence, both strands, standardised on train; C and threshold on "
           "dev). Fine-tuned and scratch: the same preset's trunk fine-tuned with the "
           "dual-input model, and that model from random weights, 3 seeds each, from "
           f"`{results['against']['path']}` ({results['against']['date'][:10]}). "
           "Test MCC x100.", "",
           "| task | probe | fine-tuned | scratch | probe minus fine-tuned | DNABERT-2 "
           "| C | embedding s |", "|---|---:|---:|---:|---:|---:|---:|---:|"]
  for name, entry in results["tasks"].items():
    p = entry["probe"]
    gap = (f"{100 * (p['mcc'] - np.mean(entry['fine_tuned'])):+.1f}"
           if entry["fine_tuned"] else "-")
    lines.append(f"| {name} | {100 * p['mcc']:.1f} | {spread(entry['fine_tuned'])} | "
                 f"{spread(entry['scratch'])} | {gap} | {GUE[name][0]} | {p['C']:g} | "
                 f"{p['embed_seconds']:.0f} |")
  return "\n".join(lines + [""])


if __name__ == "__main__":
  common.run(main)
