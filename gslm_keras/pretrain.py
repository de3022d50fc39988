r"""Pretrains the sequence backbone as a nucleotide language model on a corpus.

  python -m gslm_keras.pretrain --flagfile=models/pretrain_tiny.flags
  python -m gslm_keras.pretrain --list_presets

The corpus comes from `build_dataset --task=unlabelled` (--data_dir, or built
from --dataset_flagfile when missing). Takes the model and optimisation flags of
`gslm_keras.train` (same architecture presets, same recipe flags) and the
masking flags below. The model directory receives what a training run's does
(resolved config, re-runnable flagfile, resumable checkpoints, TensorBoard,
history, model.keras), plus metrics/<split>.json with the yardsticks, the
fitted yardsticks (yardsticks.npz) and MODEL_CARD.md. A killed run resumes when
started again with the same flags.
"""

from __future__ import annotations

from absl import flags

from gslm_keras import cli
from gslm_keras import train as train_flags

_MASK_RATE = flags.DEFINE_float("mask_rate", 0.15, "Share of bases chosen per window.")
_MASK_SPAN = flags.DEFINE_integer("mask_span", 1, "Bases per chosen span.")
_MASK_SHARE = flags.DEFINE_float("mask_share", 0.8, "Share of chosen bases set to N.")
_RANDOM_SHARE = flags.DEFINE_float("random_share", 0.1,
                                   "Share of chosen bases set to a random base.")
_REPEAT_WEIGHT = flags.DEFINE_float("repeat_weight", 0.1,
                                    "Loss weight of soft-masked (repeat) bases.")
_HEAD_UNITS = flags.DEFINE_integer("head_units", 64, "Width of the nucleotide head.")
_LOCAL_WIDTH = flags.DEFINE_integer("local_width", 5,
                                    "Kernel of the head's convolution over the input.")
_EVAL_SEED = flags.DEFINE_integer("eval_seed", 1234, "Seed of the dev and test masks.")
_YARDSTICK_WINDOWS = flags.DEFINE_integer(
    "yardstick_windows", 0, "Training windows the yardsticks are counted on, the "
    "first of the train split (0: all of it).")
_LIST_PRESETS = flags.DEFINE_boolean(
    "list_presets", False, "Print the shipped pretrained models (name, path, "
    "description), one per line, and exit.")


def config_from_flags():
  import dataclasses

  from gslm_keras.training.pretrain import LmConfig, PretrainConfig

  base = train_flags.config_from_flags()
  lm = LmConfig(mask_rate=_MASK_RATE.value, mask_span=_MASK_SPAN.value,
                mask_share=_MASK_SHARE.value, random_share=_RANDOM_SHARE.value,
                repeat_weight=_REPEAT_WEIGHT.value, head_units=_HEAD_UNITS.value,
                local_width=_LOCAL_WIDTH.value, eval_seed=_EVAL_SEED.value)
  fields = {f.name: getattr(base, f.name) for f in dataclasses.fields(base)}
  return PretrainConfig(**fields, lm=lm, yardstick_windows=_YARDSTICK_WINDOWS.value)


def main(argv):
  del argv
  if _LIST_PRESETS.value:
    from gslm_keras import presets

    for name, text in presets.available().items():
      print(f"{name}\t{presets.path(name)}\t{text}")
    return
  from gslm_keras.training.pretrain import pretrain

  config = config_from_flags()
  train_flags.build_missing_dataset(config.data.data_dir, config.dataset_flagfile)
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
