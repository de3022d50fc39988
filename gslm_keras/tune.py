r"""Searches the training recipe on the dev split (KerasTuner), resumably.

  python -m gslm_keras.tune --flagfile=models/default.flags \
      --data_dir=build/datasets/prom_300_tata --model_dir=build/tune/prom \
      --budget_minutes=60

Takes every flag of `gslm_keras.train` (the config each trial starts from) and
searches the inputs (both branches, the sequence alone or the features alone, where
the dataset has features), the pooling of the sequence branch, the wide path, the
fusion activation, modality dropout, the fusion width, dropout, learning rate,
weight decay and the auxiliary heads (`gslm_keras.training.tune.space`), each trial
scored on dev by the metric that
selects a trained model's epoch. Writes `trials.tsv`, `best.flags` (train the best
recipe with it) and `tune.json` into --model_dir; the same command again goes on
from the trials done. The test split is never read.
"""

from __future__ import annotations

import importlib

from absl import flags

from gslm_keras import cli

# The train command's flags (the module, not the verb gslm_keras.train).
train_flags = importlib.import_module("gslm_keras.train")

_BUDGET_MINUTES = flags.DEFINE_float(
    "budget_minutes", 30.0, "Stop starting trials after this many minutes (a trial "
    "under way finishes).")
_MAX_TRIALS = flags.DEFINE_integer("max_trials", 50, "At most this many trials in all.")
_TUNER = flags.DEFINE_enum("tuner", "bayesian", ["bayesian", "random"],
                           "KerasTuner's search: Bayesian optimisation or random.")


def main(argv):
  del argv
  config = train_flags.config_from_flags()  # Before TensorFlow loads.
  from gslm_keras.data.builder.flags import build_missing
  from gslm_keras.training.tune import tune

  build_missing(config.data.data_dir, config.dataset_flagfile,
                config.runtime.distribution_strategy)
  result = tune(config, _BUDGET_MINUTES.value, _MAX_TRIALS.value, _TUNER.value)
  d = config.model_dir
  print(f"{result['trials']} trials in {result['seconds'] / 60:.1f} min; best dev "
        f"{result['monitor']} {result['best_score']:.4f}: "
        + ", ".join(f"{k}={v}" for k, v in result["best"].items()))
  kept = result["best"].get("ablation", "both")
  if kept != "both":
    print(f"The best trial reads the {kept} alone: in this search the other branch "
          "did not help on dev.")
  print(f"Trials:       {d}/trials.tsv\n"
        f"Train it:     python -m gslm_keras.train "
        f"--flagfile={cli.quoted(d + '/best.flags')}")


def run():
  cli.run(main)


if __name__ == "__main__":
  run()
