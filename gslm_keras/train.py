r"""Trains a dual-input model on a dataset directory.

  python -m gslm_keras.train --flagfile=models/quickstart.flags
  python -m gslm_keras.train --flagfile=models/default.flags \
      --data_dir=build/datasets/prom_300_tata --model_dir=build/models/prom

Later flags override the flagfile's. Model flags left unset take the preset's
value (--model_preset). The model directory receives the resolved config, a
re-runnable flagfile, a copy of dataset_info.json, resumable checkpoints,
TensorBoard logs, the best dev model (model.keras), metrics/<split>.json and
plots. A killed run resumes when started again with the same flags.
"""

from __future__ import annotations

from absl import flags

from gslm_keras import cli, config_flags
from gslm_keras.training.config import TrainConfig, model_from_preset

# One flag per field of TrainConfig and its parts, the fields' documentation as
# help (config_flags). Model flags left unset keep the preset's value.
OPTIONS = config_flags.define_config(TrainConfig, bases=("model",),
                                     module_name=__name__)
_LOGICAL_CPUS = flags.DEFINE_integer(
    "logical_cpus", 0, "Split the CPU into this many logical devices (for mirrored "
    "training on a CPU-only machine).")


def config_from_flags() -> TrainConfig:
  """Turns the parsed flags into a TrainConfig, once."""
  return OPTIONS.config(bases={"model": model_from_preset})


def _headline(metrics: dict) -> str:
  keys = ("accuracy", "auroc", "auprc", "mcc", "f1", "auroc_macro", "pearson",
          "spearman")
  return ", ".join(f"{k} {metrics[k]:.4f}" for k in keys
                   if isinstance(metrics.get(k), float))


def main(argv):
  del argv
  config = config_from_flags()  # Before TensorFlow loads: a bad option costs nothing.
  from gslm_keras.training.strategy import configure_logical_cpus

  configure_logical_cpus(_LOGICAL_CPUS.value)
  from gslm_keras.data.builder.flags import build_missing
  from gslm_keras.training.trainer import train

  build_missing(config.data.data_dir, config.dataset_flagfile,
                config.runtime.distribution_strategy)
  result = train(config)
  d = result.model_dir
  print(f"\nTrained {result.steps} steps{' (resumed)' if result.resumed else ''}"
        f"{' (stopped early)' if result.stopped_early else ''}.")
  for restart in result.restarts:
    print(f"Restarted: seed {restart['seed']} collapsed after epoch 1 "
          f"({restart['reason']}); see {result.model_dir}/restarts.json")
  if result.best.get("best") is not None:
    print(f"Best dev {result.best.get('monitor', 'metric')}: {result.best['best']:.4f}"
          + (f" at step {result.best['best_step']}" if "best_step" in result.best else ""))
  for split, metrics in result.metrics.items():
    print(f"{split}: {_headline(metrics)}")
  print(f"Weights fingerprint: {result.weights_fingerprint}")
  print(f"\nModel:        {d}/model.keras\n"
        f"Metrics:      {d}/metrics/\n"
        f"Plots:        {d}/plots/\n"
        f"Predictions:  {d}/predictions/\n"
        f"TensorBoard:  tensorboard --logdir {cli.quoted(d + '/logs')}\n"
        "Re-run:       python -m gslm_keras.train "
        f"--flagfile={cli.quoted(d + '/train.flags')}")


def run():
  cli.run(main)


if __name__ == "__main__":
  run()
