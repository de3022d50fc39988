"""The recipe searched on dev with KerasTuner: the fusion design and the optimiser.

`tune(config, budget_minutes)` runs trials of the dual-input model on the
dataset of `config` (its train split; its dev split scores each trial by the
metric that selects a trained model's epoch, `recipe.monitor_for`). The search
space is what the fusion sweep of `benchmarks/fusion.py` varies: the pooling of
the sequence branch (and the dropout of its positions), the wide path, the fusion
activation, modality dropout, the fusion width, dropout, learning rate and weight
decay, and the weight of the auxiliary heads (aux_heads.py, measured by
`benchmarks/aux_heads.py`); everything else is the config's. Trials stop when the
budget is spent (a trial under way finishes) or after `max_trials`.

Where the dataset has features and the config both branches, the inputs are
searched too (`ablation`: both branches, the sequence alone or the features
alone), so that the search says on dev when one view adds nothing the other does
not carry: on GUE prom_300_tata and mouse/2 the sequence branch alone is ahead of
the pair on every seed (`benchmarks/results/gue_positions_ablations.md`).

Into `config.model_dir`: `tuner/` (KerasTuner's state: a search started again
with the same folder goes on from the trials done), `trials.tsv` (every trial,
best first), `best.flags` (a `train` flagfile of the best trial) and
`tune.json`. The test split is never read.
"""

from __future__ import annotations

import os
import time
from typing import Any

from absl import logging

from gslm_keras.errors import ConfigError
from gslm_keras.training.config import TrainConfig

TUNERS = ("bayesian", "random")
# The space: (name, kind, values). Names are `train` flags.
SPACE = (("pooling", "choice", ("flatten", "maxavg", "maxavg_positions")),
         ("position_dropout", "choice", (0.0, 0.5)),
         ("wide", "boolean", None),
         ("fusion_activation", "choice", ("relu", "gelu")),
         ("modality_dropout", "choice", (0.0, 0.3)),
         ("fusion_units", "choice", (32, 96, 192)),
         ("dropout", "choice", (0.1, 0.2, 0.3)),
         ("learning_rate", "log", (5e-4, 5e-3)),
         ("weight_decay", "choice", (1e-5, 1e-4, 1e-3)),
         ("aux_weight", "choice", (0.0, 0.5)))
# The inputs, searched where both branches can be built (`space`).
INPUTS = ("ablation", "choice", ("both", "sequence", "features"))
MODEL_FIELDS = ("ablation", "pooling", "position_dropout", "wide", "fusion_activation",
                "modality_dropout", "fusion_units", "dropout")


def space(config: TrainConfig, n_features: int) -> tuple:
  """SPACE, and the inputs first where the dataset has features and `config` both
  branches (an ablation the user chose is kept)."""
  if n_features and config.model.ablation == "both":
    return (INPUTS, *SPACE)
  return SPACE


def _hyperparameter(hp, name: str, kind: str, values):
  if kind == "choice":
    return hp.Choice(name, list(values))
  if kind == "boolean":
    return hp.Boolean(name)
  return hp.Float(name, values[0], values[1], sampling="log")


def apply(config: TrainConfig, values: dict[str, Any]) -> TrainConfig:
  """`config` with a trial's values in place."""
  model = config.model.replace(**{k: values[k] for k in MODEL_FIELDS if k in values})
  changes = {f"optim__{k}": values[k]
             for k in ("learning_rate", "weight_decay", "aux_weight") if k in values}
  if not values.get("aux_weight", config.optim.aux_weight):
    changes["optim__isolate_branches"] = False  # Isolation needs the heads.
  return config.replace(model=model, **changes)


def _oracle_with_deadline(kind: str, objective, max_trials: int, seed: int,
                          deadline: float):
  import keras_tuner as kt

  base = {"bayesian": kt.oracles.BayesianOptimizationOracle,
          "random": kt.oracles.RandomSearchOracle}[kind]

  class Deadline(base):
    """Ends the search once the budget is spent (a trial under way finishes)."""

    def populate_space(self, trial_id):
      if time.monotonic() > deadline:
        return {"status": kt.engine.trial.TrialStatus.STOPPED, "values": None}
      return super().populate_space(trial_id)

  return Deadline(objective=objective, max_trials=max_trials, seed=seed)


def _hypermodel(config: TrainConfig, info, plan, policy: str, searched: tuple):
  import keras_tuner as kt

  from gslm_keras.training import aux_heads, recipe, session

  class DualInput(kt.HyperModel):
    def build(self, hp):
      trial = apply(config, {name: _hyperparameter(hp, name, kind, values)
                             for name, kind, values in searched})
      model = session.build_for_dataset(trial, info, policy)
      trainer = aux_heads.training_model(model, info.task, trial.optim.aux_weight,
                                         trial.optim.isolate_branches)
      loss, metrics = recipe.compile_spec(info.task, model.output.shape[-1])
      trainer.compile(optimizer=recipe.make_optimizer(trial.optim, plan, policy, trainer),
                      loss=loss, metrics=metrics)
      return trainer

  return DualInput()


def tune(config: TrainConfig, budget_minutes: float, max_trials: int = 50,
         tuner: str = "bayesian") -> dict[str, Any]:
  """Searches the recipe on dev; returns {"best": values, "best_score", "trials",
  "monitor", "seconds"} and writes the files of the module docstring."""
  import keras
  import keras_tuner as kt

  from gslm_keras.io.outputs import exclusive_output
  from gslm_keras.training import batch_norm, recipe, session
  from gslm_keras.training.callbacks import NormRecalibration

  if tuner not in TUNERS:
    raise ConfigError(f"tuner={tuner!r}: expected one of {', '.join(TUNERS)}")
  if budget_minutes <= 0 or max_trials < 1:
    raise ConfigError("budget_minutes must be > 0 and max_trials >= 1")
  info = session.load_dataset(config)
  if "dev" not in info.splits:
    raise ConfigError(f"dataset {config.data.data_dir} has no dev split: the search "
                      "scores trials on dev (and never on test)")
  start = time.monotonic()
  recipe.set_seeds(config.runtime.seed, config.runtime.deterministic)
  plan = session.plan_for(config, info, 1)
  monitor, mode = recipe.monitor_for(info.task, config.optim.monitor)
  train_ds, dev_ds = session.train_datasets(config, info, config.data.batch_size)
  searched = space(config, info.n_features)
  callbacks = [keras.callbacks.EarlyStopping(
      monitor, mode=mode,
      patience=config.optim.early_stopping_patience or config.optim.epochs)]
  sample = batch_norm.run_sample(config, info)
  if sample is not None:  # Each trial scored as `train` would keep it.
    callbacks.append(NormRecalibration(None, sample))
  with exclusive_output(config.model_dir, "tuning output"):
    os.makedirs(config.model_dir, exist_ok=True)
    search = kt.Tuner(
        oracle=_oracle_with_deadline(tuner, kt.Objective(monitor, mode), max_trials,
                                     config.runtime.seed, start + 60 * budget_minutes),
        hypermodel=_hypermodel(config, info, plan, "float32", searched),
        directory=config.model_dir, project_name="tuner", overwrite=False)
    search.search(train_ds, validation_data=dev_ds, epochs=config.optim.epochs,
                  steps_per_epoch=plan.steps_per_epoch, verbose=0,
                  shuffle=False,  # The stream is shuffled already.
                  class_weight=recipe.dataset_class_weights(
                      config.optim.class_weights, info),
                  callbacks=callbacks)
    return _write(config, search, monitor, searched, time.monotonic() - start)


def _write(config: TrainConfig, search, monitor: str, searched: tuple,
           seconds: float) -> dict[str, Any]:
  from gslm_keras.io.files import write_json_atomic, write_text_atomic
  from gslm_keras.io.tables import TableWriter
  from gslm_keras.training.session import to_flagfile

  trials = [t for t in search.oracle.trials.values() if t.score is not None]
  if not trials:
    raise ConfigError("no trial finished within the budget; give more --budget_minutes")
  reverse = search.oracle.objective.direction == "max"
  trials.sort(key=lambda t: t.score, reverse=reverse)
  names = [name for name, _, _ in searched]
  with TableWriter(os.path.join(config.model_dir, "trials.tsv"),
                   ["rank", "trial", f"dev_{monitor}", *names]) as table:
    table.write([{"rank": i + 1, "trial": t.trial_id, f"dev_{monitor}": t.score,
                  **{n: t.hyperparameters.values.get(n) for n in names}}
                 for i, t in enumerate(trials)])
  best = dict(trials[0].hyperparameters.values)
  chosen = apply(config, best).replace(
      model_dir=os.path.join(config.model_dir, "best_run"))
  path = os.path.join(config.model_dir, "best.flags")
  body = to_flagfile(chosen).split("\n", 2)[2]  # Below to_flagfile's own header.
  write_text_atomic(path, f"# The best of {len(trials)} trials of gslm_keras.tune (dev "
                    f"{monitor} {trials[0].score:.4f}); train it with\n"
                    f"# python -m gslm_keras.train --flagfile={path}\n{body}")
  result = {"monitor": monitor, "best": best, "best_score": trials[0].score,
            "trials": len(trials), "seconds": seconds}
  write_json_atomic(os.path.join(config.model_dir, "tune.json"), result)
  logging.info("Best of %d trials: dev %s %.4f with %s", len(trials), monitor,
               trials[0].score, best)
  return result
