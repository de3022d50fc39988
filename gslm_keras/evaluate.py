r"""Evaluates a trained model on a dataset split, or a language model on DNA.

  python -m gslm_keras.evaluate --model_dir=build/models/quickstart --split=test
  python -m gslm_keras.evaluate --model_dir=gslm-lm-multispecies \
      --input=genome.fa --output=bits.json

A language model (python -m gslm_keras.pretrain, or a preset name) is measured
on 15% of single positions masked (seeded): bits_per_base and accuracy, beside
its yardsticks (base frequencies, the k-mer model it kept), overall and per
source; on a FASTA file (--input, --output) or on its corpus's --split
(<model_dir>/metrics/<split>.json).

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
from gslm_keras.errors import ConfigError

_MODEL_DIR = flags.DEFINE_string("model_dir", None, "A model directory written by train.")
_DATA_DIR = flags.DEFINE_string(
    "data_dir", None, "Dataset to evaluate on; the training dataset if unset.")
_SPLIT = flags.DEFINE_string("split", "test", "Split to evaluate.")
_BATCH_SIZE = flags.DEFINE_integer("batch_size", 256, "Prediction batch size.")
_INPUT = flags.DEFINE_string(
    "input", None, "Language models: a FASTA file to measure bits per base on (cut "
    "into windows of the corpus length).")
_OUTPUT = flags.DEFINE_string("output", None, "Language models: the JSON report of "
                              "--input.")
_SOURCE = flags.DEFINE_string("source", None, "Language models: the source name of "
                              "--input in the report (default: the file name).")
_SEED = flags.DEFINE_integer("seed", 1234, "Language models: seed of the masks.")


def _language_model():
  from gslm_keras.evaluation.language import evaluate_language_model

  if _DATA_DIR.value:
    raise ConfigError("--data_dir is for classifiers; a language model is measured "
                          "on --input=<FASTA> or on its corpus's --split")
  report = evaluate_language_model(_MODEL_DIR.value, _INPUT.value, _OUTPUT.value,
                                   _SPLIT.value, _SOURCE.value, _SEED.value)
  kmer = report["yardsticks"].get("kmer")
  print(json.dumps({k: report[k] for k in ("bits_per_base", "accuracy", "positions")},
                   indent=2))
  if kmer:
    print(f"k-mer yardstick (k={report['kmer_k']}): {kmer['bits_per_base']:.4f} bits "
          f"per base; margin {report['margin_over_kmer_bits']:+.4f}")
  for source, entry in report["by_source"].items():
    print(f"  {source}: {entry['bits_per_base']:.4f} bits per base over "
          f"{entry['positions']} positions")
  print(f"Report written to {_OUTPUT.value or _MODEL_DIR.value + '/metrics/' + _SPLIT.value + '.json'}")


def main(argv):
  del argv
  from gslm_keras.evaluation.evaluator import evaluate, output_dir

  cli.require(_MODEL_DIR)
  import os

  from gslm_keras import presets
  from gslm_keras.inference.language import is_language_model

  if not os.path.exists(presets.resolve(_MODEL_DIR.value)):
    raise ConfigError(f"--model_dir={_MODEL_DIR.value}: no such directory")
  if is_language_model(_MODEL_DIR.value):
    return _language_model()
  if _INPUT.value:
    raise ConfigError(f"--input is for language models; {_MODEL_DIR.value} is a "
                          "classifier: evaluate it on a dataset (--data_dir, --split)")
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
