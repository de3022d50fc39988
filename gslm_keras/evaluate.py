r"""Evaluates a trained model on a dataset split.

  python -m gslm_keras.evaluate --model_dir=build/models/quickstart --split=test

Writes <model_dir>/metrics/<split>.json (accuracy, AUROC, AUPRC, MCC, F1, per
class for multi-class; Pearson and Spearman for regression),
<model_dir>/predictions/<split>.tsv and PNG plots in <model_dir>/plots/. On
another --data_dir than the run's own the same files go to
<model_dir>/evaluations/<dataset name>/ (the run's own results are never
replaced), and the metrics count the split's sequences that were in the model's
train or dev split (overlap_with_training; a warning when there are any).
"""

from __future__ import annotations

import json

from absl import flags

from gslm_keras import cli

_MODEL_DIR = flags.DEFINE_string("model_dir", None, "A model directory written by train.")
_DATA_DIR = flags.DEFINE_string(
    "data_dir", None, "Dataset to evaluate on; the training dataset if unset.")
_SPLIT = flags.DEFINE_string("split", "test", "Split to evaluate.")
_BATCH_SIZE = flags.DEFINE_integer("batch_size", 256, "Prediction batch size.")


def main(argv):
  del argv
  from gslm_keras.evaluation.evaluator import evaluate, output_dir

  cli.require(_MODEL_DIR)
  metrics = evaluate(_MODEL_DIR.value, _DATA_DIR.value, _SPLIT.value,
                           _BATCH_SIZE.value)
  summary = {k: v for k, v in metrics.items() if isinstance(v, (int, float, str))}
  print(json.dumps(summary, indent=2))
  out = output_dir(_MODEL_DIR.value, _DATA_DIR.value)
  print(f"Metrics written to {out}/metrics/{_SPLIT.value}.json, predictions to "
        f"{out}/predictions/{_SPLIT.value}.tsv, plots to {out}/plots/")
  overlap = metrics.get("overlap_with_training", {})
  if "unknown" in overlap:
    print(f"warning: {overlap['unknown']}")
  for part in ("train", "dev"):
    if overlap.get(f"shared_with_{part}"):
      print(f"warning: {overlap[f'shared_with_{part}']} of {overlap['records']} "
            f"sequences were in the model's {part} split (exact, either strand): these "
            "metrics are inflated")


def run():
  cli.run(main)


if __name__ == "__main__":
  run()
