"""The k-mer regression a DNA model must beat: logistic regression on the frequencies
of all k-mers up to k = 6, regularisation and threshold chosen on dev.

  from benchmarks.baselines import kmer_regression
  kmer_regression("../shared/data/gue/mouse/0")   # {"dev_mcc", "mcc", "C", ...}

Frequencies are counted per sequence (k-mers holding a letter other than A, C, G,
T are left out), standardised on the train split, and fitted for C in
`C_GRID`; the C and the decision threshold with the best dev MCC are kept
(`logistic_on_dev`, the search the feature regression and the embedding probe use
too: the threshold by `evaluation.threshold.dev_threshold`, a tie going to the
smaller C), and the test split is scored once with them. The grid reaches
1e-7: as C falls the fit tends to a fixed direction (that of the gradient at zero,
the class difference of the standardised frequencies), so the smallest C chosen
is that limit, not a missed optimum below the grid.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import time

import numpy as np

C_GRID = (1e-7, 1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1.0)
_CODES = np.full(256, 4, np.int64)
for _i, _base in enumerate(b"ACGT"):
  _CODES[_base] = _CODES[_base + 32] = _i


def kmer_frequencies(sequences: list[str], kmax: int = 6) -> np.ndarray:
  """float32 [N, 4 + 16 + ... + 4**kmax]: each sequence's k-mer frequencies for
  k = 1..kmax (counts over the k-mers of only A, C, G, T, divided by their number)."""
  blocks = []
  for k in range(1, kmax + 1):
    out = np.zeros((len(sequences), 4**k), np.float32)
    for row, sequence in enumerate(sequences):
      codes = _CODES[np.frombuffer(sequence.encode("ascii"), np.uint8)]
      n = len(codes) - k + 1
      if n <= 0:
        continue
      index = np.zeros(n, np.int64)
      valid = np.ones(n, bool)
      for offset in range(k):
        part = codes[offset:offset + n]
        valid &= part < 4
        index = index * 4 + np.minimum(part, 3)
      counts = np.bincount(index[valid], minlength=4**k)
      out[row] = counts / max(valid.sum(), 1)
    blocks.append(out)
  return np.concatenate(blocks, axis=1)


def read_split(folder: str, split: str) -> tuple[list[str], np.ndarray]:
  """(sequences, int labels) of a GUE-style `<split>.csv` (sequence,label)."""
  with open(os.path.join(folder, f"{split}.csv"), newline="") as handle:
    rows = list(csv.DictReader(handle))
  return [r["sequence"] for r in rows], np.array([int(r["label"]) for r in rows])


def _mcc(y: np.ndarray, predicted: np.ndarray) -> float:
  from sklearn.metrics import matthews_corrcoef

  return float(matthews_corrcoef(y, predicted))


def logistic_on_dev(x: dict[str, np.ndarray], y: dict[str, np.ndarray], grid,
                    max_iter: int = 3000, binary: bool | None = None) -> dict:
  """A logistic regression per C of `grid`, fitted on x["train"]; the C with the best
  dev score is kept (on a tie the smaller C, the more regularised fit). A binary
  task's score is the dev MCC at `evaluation.threshold.dev_threshold` (the one rule
  for a decision threshold); a multi-class task's is the dev accuracy of the argmax.

  Returns:
    {"C", "dev_score", "threshold" (binary only), "model"}.
  """
  from sklearn import metrics as skm
  from sklearn.linear_model import LogisticRegression

  from gslm_keras.evaluation.threshold import dev_threshold

  if binary is None:
    binary = len(np.unique(y["train"])) == 2
  best = None
  for c in sorted(grid):
    model = LogisticRegression(C=c, max_iter=max_iter).fit(x["train"], y["train"])
    entry = {"C": c, "model": model}
    if binary:
      dev = model.predict_proba(x["dev"])[:, 1]
      entry["threshold"] = dev_threshold(y["dev"], dev)
      entry["dev_score"] = float(skm.matthews_corrcoef(
          y["dev"], (dev >= entry["threshold"]).astype(int)))
    else:
      entry["dev_score"] = float((model.predict(x["dev"]) == y["dev"]).mean())
    if best is None or entry["dev_score"] > best["dev_score"]:
      best = entry
  return best


def kmer_regression(folder: str, kmax: int = 6, keep_predictions: bool = False) -> dict:
  """Dev and test MCC of the k-mer regression on a binary task's CSV splits;
  `keep_predictions`: its test decisions too (`task_runs.decisions`)."""
  from sklearn.preprocessing import StandardScaler

  data = {split: read_split(folder, split) for split in ("train", "dev", "test")}
  x = {split: kmer_frequencies(seqs, kmax) for split, (seqs, _) in data.items()}
  scaler = StandardScaler().fit(x["train"])
  x = {split: scaler.transform(values) for split, values in x.items()}
  found = logistic_on_dev(x, {split: labels for split, (_, labels) in data.items()},
                          C_GRID, max_iter=2000)
  test_probability = found.pop("model").predict_proba(x["test"])[:, 1]
  out = {"C": found["C"], "threshold": found["threshold"],
         "dev_mcc": found["dev_score"],
         "mcc": _mcc(data["test"][1], (test_probability >= found["threshold"]).astype(int)),
         "features": int(x["train"].shape[1])}
  if keep_predictions:
    from benchmarks.task_runs import decisions

    out.update(decisions(data["test"][1], test_probability, found["threshold"]))
  return out


def main():
  from benchmarks import common
  from benchmarks.task_runs import find_tasks

  parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
  parser.add_argument("--data_root", default="../shared/data/gue")
  parser.add_argument("--tasks", default="all")
  parser.add_argument("--output", default="benchmarks/results/kmer_regression.json")
  parser.add_argument("--resume", action="store_true")
  parser.add_argument("--against", help="an accuracy suite's JSON (benchmarks.accuracy "
                      "--suite=tasks): its dual-input model and branches beside the "
                      "regression, with issue 22's margin")
  args = parser.parse_args()
  results = common.header("benchmarks.baselines")
  results["tasks"] = {}
  if args.against:
    with open(args.against) as handle:
      suite = json.load(handle)
    results["against"] = {"path": args.against, "date": suite["date"], "tasks": {
        name: {key: entry[key] for key in ("summary", "logistic_regression")}
        for name, entry in suite["tasks"].items()}}
  if args.resume and os.path.exists(args.output):
    with open(args.output) as handle:
      previous = json.load(handle)
    results["tasks"] = previous["tasks"]
    results["note"] = (f"the fits of {', '.join(previous['tasks']) or 'no task'} come "
                       f"from the run of {previous.get('fitted', previous['date'])}")
    results["fitted"] = previous.get("fitted", previous["date"])
  for name in find_tasks(args.data_root, args.tasks):
    if name in results["tasks"]:
      continue
    start = time.time()
    found = kmer_regression(os.path.join(args.data_root, name))
    results["tasks"][name] = {**found, "seconds": time.time() - start}
    print(f"{name}: dev MCC {found['dev_mcc']:.4f}, test MCC {found['mcc']:.4f} "
          f"(C {found['C']})", flush=True)
    common.write_results(args.output, results, markdown(results))
  common.write_results(args.output, results, markdown(results))
  print(markdown(results))


def markdown(results: dict) -> str:
  from benchmarks import common

  lines = ["# The k-mer regression on each task", "", common.machine_lines(results),
           "Logistic regression on the frequencies of all k-mers for k = 1..6 (5,460 "
           "features, standardised on train); C from "
           f"{', '.join(map(str, C_GRID))} and the decision threshold chosen by dev MCC; "
           "the test split scored once with them. MCC x100.", "",
           "| task | dev MCC | test MCC | C | seconds |", "|---|---:|---:|---:|---:|"]
  for name, found in results["tasks"].items():
    lines.append(f"| {name} | {100 * found['dev_mcc']:.1f} | {100 * found['mcc']:.1f} | "
                 f"{found['C']} | {found['seconds']:.0f} |")
  if results.get("against"):
    lines += _against(results["against"], results["tasks"])
  return "\n".join(lines) + "\n"


def _against(against: dict, kmers: dict) -> list[str]:
  """The suite's models beside the regression, and the margin issue 22 asks about."""
  from benchmarks.accuracy_report import margin

  lines = ["", f"Beside the accuracy suite of `{against['path']}` ({against['date']}). "
           "Test MCC x100; margin: the dual-input mean minus the strongest of its two "
           "single branches and the two regressions (issue 22 asks for at least +1).", "",
           "| task | dual-input | sequence only | features only | feature regression | "
           "k-mer regression | margin |", "|---|---:|---:|---:|---:|---:|---:|"]
  for name, entry in against["tasks"].items():
    if name not in kmers:
      continue
    entry = {**entry, "kmer_regression": kmers[name]}
    s = entry["summary"]
    lines.append(
        f"| {name} | {100 * s['both']['mcc_mean']:.1f} ± {100 * s['both']['mcc_sd']:.1f} | "
        f"{100 * s['sequence']['mcc_mean']:.1f} | {100 * s['features']['mcc_mean']:.1f} | "
        f"{100 * entry['logistic_regression']['mcc']:.1f} | "
        f"{100 * kmers[name]['mcc']:.1f} | {margin(entry):+.1f} |")
  return lines


if __name__ == "__main__":
  from benchmarks import common

  common.run(main)
