r"""Evaluates a trained model on a dataset split, or a language model on DNA.

  python -m gslm_keras.evaluate --model=build/models/quickstart --split=test
  python -m gslm_keras.evaluate --model=gslm-lm-multispecies \
      --input=genome.fa --output=bits.json

A language model (python -m gslm_keras.pretrain, or a preset name) is measured
on 15% of single positions masked (seeded): bits_per_base and accuracy, beside
its yardsticks (base frequencies, the k-mer model it kept), overall and per
source; on a FASTA file (--input, --output) or on its corpus's --split
(<model>/metrics/<split>.json).

Writes <model>/metrics/<split>.json (accuracy, AUROC, AUPRC, MCC, F1, per
class for multi-class; Pearson and Spearman for regression),
<model>/predictions/<split>.tsv and PNG plots in <model>/plots/. On
another --data_dir than the run's own the same files go to
<model>/evaluations/<dataset name>/ (the run's own results are never
replaced), and the metrics count the split's sequences that were in the model's
train or dev split (overlap_with_training; a warning when there are any).
"""

from __future__ import annotations

import json

from absl import flags

from gslm_keras import cli, config_flags
from gslm_keras.errors import ConfigError
from gslm_keras.evaluation.config import EvaluateConfig

# One flag per field of EvaluateConfig, its documentation as help (config_flags).
OPTIONS = config_flags.define(EvaluateConfig, module_name=__name__)
_OLD_MODEL_DIR = flags.DEFINE_string("model_dir", None, "Old spelling of --model.")


def _language_model(report: dict, config: EvaluateConfig) -> None:
  kmer = report["yardsticks"].get("kmer")
  print(json.dumps({k: report[k] for k in ("bits_per_base", "accuracy", "positions")},
                   indent=2))
  if kmer:
    print(f"k-mer yardstick (k={report['kmer_k']}): {kmer['bits_per_base']:.4f} bits "
          f"per base; margin {report['margin_over_kmer_bits']:+.4f}")
  for source, entry in report["by_source"].items():
    print(f"  {source}: {entry['bits_per_base']:.4f} bits per base over "
          f"{entry['positions']} positions")
  where = config.output or f"{config.model}/metrics/{config.split}.json"
  print(f"Report written to {where}")


def main(argv):
  del argv
  import os

  from gslm_keras import api, presets

  config = OPTIONS.build(model=cli.model_to_read(OPTIONS.holders["model"],
                                                 _OLD_MODEL_DIR))
  if not os.path.exists(presets.resolve(config.model)):
    raise ConfigError(f"--model={config.model}: no such directory")
  metrics = api.evaluate(config)
  if "bits_per_base" in metrics:
    return _language_model(metrics, config)
  from gslm_keras.evaluation.evaluator import output_dir

  summary = {k: v for k, v in metrics.items() if isinstance(v, (int, float, str))}
  print(json.dumps(summary, indent=2))
  out = output_dir(config.model, config.data_dir)
  print(f"Metrics written to {out}/metrics/{config.split}.json, predictions to "
        f"{out}/predictions/{config.split}.tsv, plots to {out}/plots/")
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
