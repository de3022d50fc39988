r"""Pretrains the sequence backbone as a nucleotide language model on a corpus.

  python -m gslm_keras.pretrain --flagfile=models/pretrain_tiny.flags
  python -m gslm_keras.pretrain --list_presets

The corpus comes from `build_dataset --task=unlabelled` (--data_dir, or built
from --dataset_flagfile when missing). Takes the backbone and optimisation flags
of `gslm_keras.train` (same architecture presets, same recipe flags) and the
masking flags; it refuses the classifier's (head, feature branch, labels) in one
line. `--helpshort` lists them all. The model directory receives what a training run's does
(resolved config, re-runnable flagfile, resumable checkpoints, TensorBoard,
history, model.keras), plus metrics/<split>.json with the yardsticks, the
fitted yardsticks (yardsticks.npz) and MODEL_CARD.md. A killed run resumes when
started again with the same flags.
"""

from __future__ import annotations

from absl import flags

from gslm_keras import cli, config_flags
from gslm_keras.training.config import PretrainConfig, model_from_preset

# One flag per field of PretrainConfig and its parts (the fields' documentation as
# help); the classifier's options (head, feature branch, labels) are refused.
OPTIONS = config_flags.define_config(PretrainConfig, bases=("model",),
                                     why="a classifier option", module_name=__name__)
_LIST_PRESETS = flags.DEFINE_boolean(
    "list_presets", False, "Print the shipped pretrained models (name, path, "
    "description), one per line, and exit.")


def config_from_flags() -> PretrainConfig:
  """Turns the parsed flags into a PretrainConfig, once."""
  return OPTIONS.config(bases={"model": model_from_preset})


def main(argv):
  del argv
  if _LIST_PRESETS.value:
    from gslm_keras import presets

    for name, text in presets.available().items():
      print(f"{name}\t{presets.path(name)}\t{text}")
    return
  config = config_from_flags()  # Before TensorFlow loads: a bad option costs nothing.
  from gslm_keras.data.builder.flags import build_missing
  from gslm_keras.training.pretrain import pretrain

  build_missing(config.data.data_dir, config.dataset_flagfile,
                config.runtime.distribution_strategy)
  result = pretrain(config)
  d = result.model_dir
  print(f"\nPretrained {result.steps} steps{' (resumed)' if result.resumed else ''}"
        f"{' (stopped early)' if result.stopped_early else ''}.")
  for split, report in result.metrics.items():
    kmer = report["yardsticks"]["kmer"]["bits_per_base"]
    print(f"{split}: {report['bits_per_base']:.4f} bits per base (k-mer k="
          f"{report['kmer_k']}: {kmer:.4f}, frequencies "
          f"{report['yardsticks']['frequencies']['bits_per_base']:.4f}), accuracy "
          f"{report['accuracy']:.4f}")
  print(f"Weights fingerprint: {result.weights_fingerprint}")
  print(f"\nModel:        {d}/model.keras\n"
        f"Model card:   {d}/MODEL_CARD.md\n"
        f"Metrics:      {d}/metrics/\n"
        f"TensorBoard:  tensorboard --logdir {cli.quoted(d + '/logs')}\n"
        "Re-run:       python -m gslm_keras.pretrain "
        f"--flagfile={cli.quoted(d + '/train.flags')}")


def run():
  cli.run(main)


if __name__ == "__main__":
  run()
