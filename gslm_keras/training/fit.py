"""The single-machine (and mirrored / TPU) path of a classifier: the one `fit` loop
(loop.py) with the supervised task's dev metric, class weights and collapse guard.

`fit` runs in segments of `checkpoint_every` optimizer steps (Keras "epochs");
a backup is saved at every segment end, and the training stream is one
seeded, repeated sequence of batches from which a resumed run skips the batches
already trained on. A run killed mid-epoch therefore resumes from its last
backup, redoes at most one segment from the backed-up state, and ends after the
same number of optimizer steps as an uninterrupted run.
"""

from __future__ import annotations

from absl import logging

from gslm_keras.data.dataset_info import DatasetInfo
from gslm_keras.io.model_files import save_model
from gslm_keras.io.outputs import exclusive_output
from gslm_keras.run_dir import RunDir
from gslm_keras.training import callbacks as callbacks_lib
from gslm_keras.training import aux_heads, batch_norm, collapse, recipe, session
from gslm_keras.training import init_from as warm_start
from gslm_keras.training.config import TrainConfig
from gslm_keras.training.loop import make_loop
from gslm_keras.training.plan import Plan


def fit(config: TrainConfig, info: DatasetInfo, strategy, policy: str
        ) -> session.TrainResult:
  """Trains with `model.fit`, keeps the best dev model as `model.keras`, evaluates it.

  The model directory is held with a lock for the whole run. A run that collapses
  to a constant model (see `collapse.py`) is restarted from a new seed, at most
  twice, and each restart is recorded in the run's files.
  """
  with exclusive_output(config.model_dir, "model directory"):
    with session.prepared(config, lambda r: r.backup) as (run, resumed):
      restarts = session.read_restarts(run)
      while True:
        seed = collapse.attempt_seed(config.runtime, restarts)
        result, diagnosis = _fit(config, run, resumed, info, strategy, policy, seed,
                                 restarts)
        if diagnosis is None or not diagnosis["collapsed"]:
          break
        collapse.record_restart(restarts, seed, diagnosis)
        session.reset_run(run, restarts)
        resumed = False
    session.finish_run(config, run)
  return result


def _guard(config: TrainConfig, info: DatasetInfo, plan: Plan, done_segments: int,
           restarts: list[dict], model):
  """The collapse check of `model` after the first epoch (None once past it, or
  after the last restart: a run that collapses every time is kept, with a
  warning)."""
  check = plan.segments_per_epoch - 1
  if done_segments > check:
    return None
  if len(restarts) >= collapse.MAX_RESTARTS:
    logging.warning("The run collapsed %d times; this attempt is kept whatever it "
                    "learns (is there signal in the labels?)", len(restarts))
    return None
  return collapse.CollapseGuard(check, collapse.probe_batches(config.data.data_dir, info),
                                info.task, model)


def _compiled_model(config: TrainConfig, info: DatasetInfo, strategy, policy: str,
                    plan: Plan, architecture, resolved: dict):
  """(the model, its training model): the model's weights started from --init_from
  when given (the parts copied go into `resolved`); the training model is the
  model, or with --aux_weight the model with its auxiliary heads (aux_heads.py),
  compiled with the recipe."""
  if config.optim.freeze_trunk_steps >= plan.total_steps:
    logging.warning("--freeze_trunk_steps=%d covers the whole run (%d steps): the "
                    "sequence backbone never learns", config.optim.freeze_trunk_steps,
                    plan.total_steps)
  elif config.optim.freeze_trunk_steps:
    logging.info("The sequence backbone is frozen for the first %d of %d steps, then "
                 "trains at %g times the learning rate", config.optim.freeze_trunk_steps,
                 plan.total_steps, config.optim.trunk_learning_rate_multiplier)
  with strategy.scope():
    model = session.build_for_dataset(config, info, policy, plan.replicas, architecture)
    if config.optim.init_from:
      resolved["init_from"] = warm_start.start(model, config.optim.init_from, info)
    trainer = aux_heads.training_model(model, info.task, config.optim.aux_weight,
                                       config.optim.isolate_branches)
    loss, metrics = recipe.compile_spec(info.task, model.output.shape[-1])
    trainer.compile(optimizer=recipe.make_optimizer(config.optim, plan, policy, trainer),
                    loss=loss, metrics=metrics)
  return model, trainer


def _fit(config: TrainConfig, run: RunDir, resumed: bool, info: DatasetInfo, strategy,
         policy: str, seed: int, restarts: list[dict]
         ) -> tuple[session.TrainResult | None, dict | None]:
  """One attempt: (the result, or None when it collapsed; the collapse check)."""

  plan = session.plan_for(config, info, strategy.num_replicas_in_sync)
  architecture = collapse.after_restarts(config.model, restarts)
  resolved = collapse.resolved(config.model, seed, restarts, architecture)
  model, trainer = _compiled_model(config, info, strategy, policy, plan, architecture,
                                   resolved)
  if trainer is not model:
    logging.info("Auxiliary heads on both branches, weight %g%s", config.optim.aux_weight,
                 "; each branch learns from its own head only"
                 if config.optim.isolate_branches else "")
  elif config.optim.aux_weight:
    logging.info("--aux_weight=%g: the model has one branch, so no auxiliary heads",
                 config.optim.aux_weight)
  session.write_run_files(config, run, info, policy, plan, resolved)
  done_segments = callbacks_lib.backed_up_segments(run.backup)
  train_ds, dev_ds = session.train_datasets(
      config, info, config.data.batch_size,
      skip_batches=done_segments * plan.segment_steps,
      drop_remainder=config.runtime.distribution_strategy == "tpu", seed=seed)
  if dev_ds is None:
    logging.warning("Dataset %s has no dev split: no model selection or early "
                    "stopping; the last model is kept", config.data.data_dir)
  loop = make_loop(run, plan, done_segments,
                   *recipe.monitor_for(info.task, config.optim.monitor),
                   config.optim.early_stopping_patience, dev_ds is not None,
                   config.optim.freeze_trunk_steps, saved=model)
  sample = batch_norm.run_sample(config, info)
  if sample is not None:
    loop.add_before_backup(callbacks_lib.NormRecalibration(model, sample))
  guard = _guard(config, info, plan, done_segments, restarts, model)
  if guard is not None:
    loop.add_before_backup(guard)
  logging.info("Training %d steps (%d epochs of %d steps, backups every %d steps), "
               "precision %s, %d replica(s)%s", plan.total_steps, config.optim.epochs,
               plan.steps_per_epoch, plan.segment_steps, policy, plan.replicas,
               f", resuming after step {done_segments * plan.segment_steps}"
               if done_segments else "")
  class_weight = recipe.dataset_class_weights(config.optim.class_weights, info)
  steps = loop.fit(trainer, train_ds, dev_ds, plan, config.verbose, class_weight,
                   hint=", check the features for extreme values")
  if guard is not None and guard.collapsed:
    return None, guard.diagnosis
  final = session.kept_model(run, model)
  if sample is not None and dev_ds is None:  # No dev evaluation recalibrated it.
    batch_norm.recalibrate(final, sample)
  save_model(final, run.model)
  metrics = session.finish(config, run, info, steps)
  return session.TrainResult(
      model_dir=config.model_dir, steps=steps, best=loop.dev_monitor.state,
      metrics=metrics,
      stopped_early=steps < plan.total_steps, resumed=resumed,  # Not at the last step.
      weights_fingerprint=session.weights_fingerprint(final), restarts=list(restarts)
  ), guard.diagnosis if guard is not None else None
