r"""How far each batch norm's moving statistics are from those of its input as the
model predicts, and what measuring them again changes (`--recalibrate_norms`).

  python -m benchmarks.norm_statistics --data=../shared/data/uci/promoters.data \
      --seeds=3 --output=benchmarks/results/norm_statistics_uci.json
  python -m benchmarks.norm_statistics --data_root=../shared/data/gue --task=mouse/3 \
      --seeds=3 --output=benchmarks/results/norm_statistics_mouse3.json

Trains the default without its `recalibrate_norms`, with the accuracy suite's recipe
and seeds (on the UCI promoters its 10 folds, the suite's split), then reads each
kept model:
- for every batch norm, its moving variance over the variance of its input on the
  training sample that `--recalibrate_norms` reads (dropout off), and how far the
  moving mean is from that input's mean, in its standard deviations; medians over
  channels;
- the test decisions at the dev-chosen threshold with the moving statistics (the
  suite's numbers, reproduced) and with the same kept model's statistics measured
  again. This is not the model `--recalibrate_norms` keeps: that one chooses its
  epoch on dev with the new statistics (the accuracy suite measures it).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile

import numpy as np

from benchmarks import common
from benchmarks.accuracy import uci_fold_dataset, uci_folds
from benchmarks.task_runs import (RC_TASKS, Settings, _binary_scores, build_task,
                                  model_of, pair_recipe, train_one)
from gslm_keras.evaluation.threshold import dev_threshold


def _settings() -> Settings:
  # The default without its recalibration (default since 2026-12-07): the positions
  # design with the fusion's batch norm, whose moving statistics are measured here.
  return pair_recipe(design="wide_maxavgpos_gelu_pdrop5", fusion_norm=True)


def _scores(model, data_dir: str) -> dict:
  """Test decisions at the dev-chosen threshold, as the suite scores a run."""
  from gslm_keras.data.pipeline import make_dataset

  found = {}
  for split in ("dev", "test"):
    truth, prob = [], []
    for inputs, labels in make_dataset(data_dir, split, batch_size=256, verify="none"):
      prob.append(np.asarray(model(inputs, training=False))[:, -1])
      truth.append(np.asarray(labels).reshape(-1))
    found[split] = (np.concatenate(truth).astype(int), np.concatenate(prob))
  threshold = dev_threshold(*found["dev"])
  test = _binary_scores(*found["test"], threshold)
  return {"mcc": test["mcc"], "errors": int(round((1 - test["accuracy"]) * len(found["test"][0]))),
          "dev_mcc": _binary_scores(*found["dev"], threshold)["mcc"]}


def one_model(data_dir: str, model_dir: str, seed: int, reverse_complement: bool) -> dict:
  import keras

  import gslm_keras.models.layers  # noqa: F401  Registers the layers to load.
  from gslm_keras.data.dataset_info import DatasetInfo
  from gslm_keras.training import batch_norm

  suite = train_one(data_dir, model_dir, _settings(), "both", seed, reverse_complement)
  model = keras.models.load_model(os.path.join(model_dir, "model.keras"), compile=False)
  norms = batch_norm.batch_norms(model)
  stored = [(np.asarray(n.moving_mean).copy(), np.asarray(n.moving_variance).copy())
            for n in norms]
  moving = _scores(model, data_dir)
  info = DatasetInfo.load(data_dir, verify="none")
  batch_norm.recalibrate(model, batch_norm.training_sample(data_dir, info, seed))
  layers = {}
  for norm, (mean, variance) in zip(norms, stored):
    new_mean, new_variance = np.asarray(norm.moving_mean), np.asarray(norm.moving_variance)
    spread = np.sqrt(new_variance + norm.epsilon)
    layers[norm.path] = {  # The path: the residual blocks' norms share names.
        "variance_ratio": float(np.median(variance / (new_variance + norm.epsilon))),
        "mean_shift_sd": float(np.median(np.abs(mean - new_mean) / spread))}
  return {"seed": seed, "suite_mcc": suite["mcc"], "moving": moving,
          "recalibrated": _scores(model, data_dir), "layers": layers}


def markdown(results: dict) -> str:
  lines = [f"# Batch-norm statistics: {results['data']}", "", common.machine_lines(results),
           "The default without its `recalibrate_norms`, the accuracy suite's recipe and "
           "seeds. Per batch norm, medians over its channels, then the median over "
           "runs (and their range): moving variance / variance of its input on the "
           "training sample with dropout off; |moving mean - that mean| in its "
           "standard deviations.", "",
           "| batch norm | variance ratio | mean shift (sd) |", "|---|---:|---:|"]
  runs = results["runs"]
  for name in sorted(runs[0]["layers"]) if runs else []:
    ratio = [r["layers"][name]["variance_ratio"] for r in runs]
    shift = [r["layers"][name]["mean_shift_sd"] for r in runs]
    lines.append(f"| {name} | {np.median(ratio):.2f} ({min(ratio):.2f} to {max(ratio):.2f}) "
                 f"| {np.median(shift):.2f} ({min(shift):.2f} to {max(shift):.2f}) |")
  lines += ["", "The same kept models' test decisions at the dev-chosen threshold, with "
            "the moving statistics and with the statistics measured again:", "",
            "| seed | moving: test errors | MCC x100 | dev MCC x100 | measured again: "
            "test errors | MCC x100 | dev MCC x100 |", "|---:|---:|---:|---:|---:|---:|---:|"]
  for seed in sorted({r["seed"] for r in runs}):
    mine = [r for r in runs if r["seed"] == seed]
    cells = []
    for kind in ("moving", "recalibrated"):
      cells += [str(sum(r[kind]["errors"] for r in mine)),
                f"{100 * np.mean([r[kind]['mcc'] for r in mine]):.1f}",
                f"{100 * np.mean([r[kind]['dev_mcc'] for r in mine]):.1f}"]
    lines.append(f"| {seed} | " + " | ".join(cells) + " |")
  if results.get("folds"):
    lines += ["", "On the UCI promoters errors are summed over the 10 folds (106 "
              "sequences) and MCC is each fold's, averaged."]
  return "\n".join(lines) + "\n"


def main():
  parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
  parser.add_argument("--data", help="the UCI promoters file (promoters.data)")
  parser.add_argument("--data_root", help="the folder of GUE tasks, with --task")
  parser.add_argument("--task", help="a task folder under --data_root, e.g. mouse/3")
  parser.add_argument("--seeds", type=int, default=3)
  parser.add_argument("--split_seed", type=int, default=0, help="the UCI folds' seed")
  parser.add_argument("--output", required=True, help="JSON path; .md written beside it")
  args = parser.parse_args()
  if bool(args.data) == bool(args.data_root and args.task):
    parser.error("give --data (the UCI promoters), or --data_root and --task")
  results = common.header("benchmarks.norm_statistics")
  results.update(data=args.data or f"{args.data_root}/{args.task}",
                 model=model_of(_settings()).to_json(), folds=bool(args.data), runs=[])
  with tempfile.TemporaryDirectory() as tmp:
    if args.data:
      records, folds = uci_folds(args.data, args.split_seed)
      jobs = [(uci_fold_dataset(os.path.join(tmp, f"fold{f}"), records, folds, f), False)
              for f in range(10)]
    else:
      _, data_dir, info = build_task(args.data_root, args.task, tmp)
      if info.task != "binary":  # Scored at a dev-chosen threshold, as the suite does.
        sys.exit(f"error: {args.task} is a {info.task} task; norm_statistics reads "
                 "binary tasks")
      jobs = [(data_dir, args.task.startswith(RC_TASKS))]
    for seed in range(args.seeds):
      for index, (data_dir, reverse_complement) in enumerate(jobs):
        results["runs"].append({"fold": index, **one_model(
            data_dir, os.path.join(tmp, f"run_{index}_{seed}"), seed, reverse_complement)})
        common.write_results(args.output, results, markdown(results))
  print(markdown(results))


if __name__ == "__main__":
  common.run(main)
