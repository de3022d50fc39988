r"""What the fusion layer's units do on dev, and what pushes the silent ones down.

  python -m benchmarks.fusion_units --data_root=../shared/data/gue --task=tf/0 \
      --seeds=2 --output=benchmarks/results/fusion_units.json
  python -m benchmarks.fusion_units ... --design=wide_maxavgpos_gelu_pdrop5
      # the default until 2026-12-07: no batch norm before the GELU

Without --design it trains the preset `default` (batch norm before the GELU since
2026-12-07); --design names a design of `benchmarks.fusion`, and --fusion_norm adds
the batch norm to it.

Trains the dual-input model with the accuracy suite's recipe (`benchmarks.accuracy`:
the same runs, the same seeds) and reads its fusion layer over the whole dev split:
- each unit's pre-activation (before the GELU or ReLU): its largest value and on
  how much of dev it is positive;
- three counts of dead units: output never changing by 1e-6 (the rule for GELU
  until 2026-12-07), never positive (the rule since, as for ReLU), never above -3
  (GELU there is within 0.004 of zero, with a slope under 0.012);
- how much each input of the fusion layer (the global max pool, the global average
  pool, the projected positions, the feature branch) adds to the pre-activation of
  the never-positive units and of the others: the mean of its part of x @ W, which
  sums with the bias to the fusion layer's Dense output (the pre-activation without
  `--fusion_norm`, the input of its batch norm with it). The parts are checked to
  be, in order, the fusion layer's input (`parts_error`).
"""

from __future__ import annotations

import argparse
import os
import tempfile

import numpy as np

from benchmarks import common
from benchmarks.fusion import refuse_unknown_design
from benchmarks.task_runs import (RC_TASKS, Settings, build_task, model_of,
                                  pair_recipe, train_one)

QUANTILES = (0.0, 0.25, 0.5, 0.75, 0.9, 1.0)


def _inputs(head):
  """The layers whose outputs enter the fusion layer, the pooling's parts one by one."""
  names = []
  for tensor in head.get_layer("fusion_concat").input:
    layer = tensor._keras_history[0]
    if layer.name == "pool_concat":
      names += [t._keras_history[0].name for t in layer.input]
    else:
      names.append(layer.name)
  return names


def read_units(model, batches) -> dict:
  """The fusion units of a dual-input `model` on `batches` of (inputs, labels)."""
  import keras

  head = model.get_layer("task_head")
  backbone = model.get_layer("sequence_backbone")
  names = _inputs(head)
  dense = head.get_layer("fusion_dense")
  layer_names = [layer.name for layer in head.layers]
  batch_norm = "fusion_norm" in layer_names
  activation = next(n for n in ("fusion_gelu", "fusion_relu", "fusion_dense")
                    if n in layer_names)
  # Read from the model: each input, the fusion layer's input, its output, and with
  # the batch norm the norm's output (the pre-activation; without it the
  # pre-activation is the Dense layer's x @ W + b, computed below).
  read = names + ["fusion_concat", activation] + (["fusion_norm"] if batch_norm else [])
  inner = keras.Model(head.input, [head.get_layer(n).output for n in read])
  found = [[] for _ in read]
  for inputs, _ in batches:
    outputs = inner({"features": keras.ops.convert_to_tensor(inputs["features"]),
                     "positions": backbone(inputs["sequence"], training=False)},
                    training=False)
    for values, value in zip(found, outputs):
      values.append(np.asarray(value))
  found = [np.concatenate(values) for values in found]
  parts, concat, post = found[:len(names)], found[len(names)], found[len(names) + 1]
  kernel = np.asarray(dense.kernel)
  bias = np.asarray(dense.bias) if dense.use_bias else np.zeros(kernel.shape[1])
  edges = np.cumsum([0] + [p.shape[1] for p in parts])
  shares = [p @ kernel[edges[i]:edges[i + 1]] for i, p in enumerate(parts)]
  pre = found[-1] if batch_norm else sum(shares) + bias
  silent = pre.max(axis=0) <= 0
  return {
      "units": int(pre.shape[1]), "examples": int(pre.shape[0]),
      "batch_norm": batch_norm,
      "dead_never_changes": int((np.abs(post - post[0]) <= 1e-6).all(axis=0).sum()),
      "dead_never_positive": int(silent.sum()),
      "dead_never_above_minus_3": int((pre.max(axis=0) <= -3).sum()),
      "max_pre_quantiles": np.quantile(pre.max(axis=0), QUANTILES).tolist(),
      "positive_fraction_quantiles": np.quantile((pre > 0).mean(axis=0), QUANTILES).tolist(),
      "contributions": {
          name: {"input_min": float(p.min()), "input_mean": float(p.mean()),
                 "never_positive": float(s[:, silent].mean()) if silent.any() else None,
                 "others": float(s[:, ~silent].mean()) if (~silent).any() else None}
          for name, p, s in zip(names, parts, shares)},
      # The parts, in this order, are the fusion layer's input (so their shares
      # and the bias add up to its Dense output): the largest difference.
      "parts_error": float(np.abs(np.concatenate(parts, axis=1) - concat).max()),
  }


def _settings(fusion_norm: bool, design: str = "") -> Settings:
  return pair_recipe(fusion_norm=fusion_norm, design=design)


def one_run(data_dir: str, work: str, task: str, seed: int, settings: Settings) -> dict:
  import keras

  import gslm_keras.models.layers  # noqa: F401  Registers the layers to load.
  from gslm_keras.data.pipeline import make_dataset

  model_dir = os.path.join(work, f"seed_{seed}")
  scores = train_one(data_dir, model_dir, settings, "both", seed,
                     any(task.startswith(p) for p in RC_TASKS))
  model = keras.models.load_model(os.path.join(model_dir, "model.keras"), compile=False)
  units = read_units(model, make_dataset(data_dir, "dev", batch_size=256, verify="none"))
  return {"seed": seed, "dev_mcc": scores["dev_mcc"], "mcc": scores["mcc"], **units}


def _q(values) -> str:
  return ", ".join(f"{v:.2f}" for v in values)


def _model_words(results: dict) -> str:
  if "model" not in results:  # Written before 2026-12-07: the default had no batch norm.
    return ("batch norm before the GELU (`--fusion_norm`)" if results["fusion_norm"]
            else "the default model of its date (no batch norm before the GELU)")
  name = f"design `{results['design']}`" if results.get("design") else "the default model"
  return name + (", batch norm before the GELU" if results["model"]["fusion_norm"]
                 else ", no batch norm before the GELU")


def markdown(results: dict) -> str:
  lines = [f"# Fusion units on dev: {results['task']}", "", common.machine_lines(results),
           "The accuracy suite's recipe and seeds (`benchmarks.accuracy`), "
           + _model_words(results) + ". Pre-activation: the fusion layer's "
           "input to its GELU, over every dev sequence. Quantiles over units "
           f"({', '.join(str(q) for q in QUANTILES)}).", "",
           "| seed | dev MCC x100 | dead: never changes | never positive | never above -3 "
           "| largest pre-activation per unit | fraction of dev positive per unit |",
           "|---:|---:|---:|---:|---:|---|---|"]
  for run in results["runs"]:
    lines.append(f"| {run['seed']} | {100 * run['dev_mcc']:.1f} | "
                 f"{run['dead_never_changes']} of {run['units']} | "
                 f"{run['dead_never_positive']} | {run['dead_never_above_minus_3']} | "
                 f"{_q(run['max_pre_quantiles'])} | {_q(run['positive_fraction_quantiles'])} |")
  lines += ["", "What each input adds to the pre-activation (mean over dev and units), "
            "for the never-positive units and the others:", "",
            "| seed | input | its smallest value | its mean | never-positive units | others |",
            "|---:|---|---:|---:|---:|---:|"]
  for run in results["runs"]:
    for name, c in run["contributions"].items():
      cells = [f"{c['input_min']:.2f}", f"{c['input_mean']:.3f}"] + [
          "-" if c[k] is None else f"{c[k]:+.2f}" for k in ("never_positive", "others")]
      lines.append(f"| {run['seed']} | {name} | " + " | ".join(cells) + " |")
  return "\n".join(lines) + "\n"


def main():
  parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
  parser.add_argument("--data_root", required=True, help="the folder of GUE tasks")
  parser.add_argument("--task", required=True, help="a task folder under it, e.g. tf/0")
  parser.add_argument("--seeds", type=int, default=1)
  parser.add_argument("--fusion_norm", action="store_true",
                      help="batch-normalise the fusion layer before its GELU (the "
                      "default model has it; for a --design without it)")
  parser.add_argument("--design", default="",
                      help="a design of benchmarks.fusion instead of the preset default")
  parser.add_argument("--output", required=True, help="JSON path; .md written beside it")
  args = parser.parse_args()
  results = common.header("benchmarks.fusion_units")
  refuse_unknown_design(args.design)
  settings = _settings(args.fusion_norm, args.design)
  model = model_of(settings)
  results.update(task=args.task, fusion_norm=model.fusion_norm, design=args.design,
                 model=model.to_json(), runs=[])
  with tempfile.TemporaryDirectory() as tmp:
    _, data_dir, _ = build_task(args.data_root, args.task, tmp)
    for seed in range(args.seeds):
      results["runs"].append(one_run(data_dir, tmp, args.task, seed, settings))
      common.write_results(args.output, results, markdown(results))
  print(markdown(results))


if __name__ == "__main__":
  common.run(main)
