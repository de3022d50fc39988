"""The single-machine (and mirrored / TPU) path: Keras `fit` with resumable backups.

`fit` runs in segments of `checkpoint_every` optimizer steps (Keras "epochs");
BackupAndRestore saves at every segment end, and the training stream is one
seeded, repeated sequence of batches from which a resumed run skips the batches
already trained on. A run killed mid-epoch therefore resumes from its last
backup, redoes at most one segment from the backed-up state, and ends after the
same number of optimizer steps as an uninterrupted run.
"""

from __future__ import annotations

import os

from absl import logging

from gslm_keras.data.dataset_info import DatasetInfo
from gslm_keras.io.outputs import exclusive_output
from gslm_keras.run_dir import RunDir
from gslm_keras.training import callbacks as callbacks_lib
from gslm_keras.training import recipe, session
from gslm_keras.training.config import TrainConfig
from gslm_keras.training.plan import Plan


def _callbacks(config: TrainConfig, run: RunDir, info: DatasetInfo, plan: Plan,
               done_segments: int, has_dev: bool):
  import keras

  monitor, mode = recipe.monitor_for(info.task, config.optim.monitor)
  history = callbacks_lib.HistoryLog(run.history, plan.segment_steps,
                                     plan.segments_per_epoch,
                                     initial_segment=done_segments)
  dev_monitor = callbacks_lib.DevMonitor(monitor, mode, run.best_model, run.monitor_state,
                                         config.optim.early_stopping_patience)
  nan_guard = callbacks_lib.NanGuard()
  callbacks = [history, nan_guard,
               keras.callbacks.TensorBoard(run.logs, update_freq="epoch")]
  if has_dev:
    callbacks.append(dev_monitor)
  # Last, so that a backup is written only after the logs and monitor state of
  # its segment.
  callbacks.append(callbacks_lib.ResumableBackup(run.backup, [dev_monitor]))
  return callbacks, dev_monitor, nan_guard


def fit(config: TrainConfig, info: DatasetInfo, strategy, policy: str
        ) -> session.TrainResult:
  """Trains with `model.fit`, keeps the best dev model as `model.keras`, evaluates it.

  The model directory is held with a lock for the whole run.
  """
  with exclusive_output(config.model_dir, "model directory"):
    run, resumed = session.prepare_run(config, lambda r: r.backup)
    result = _fit(config, run, resumed, info, strategy, policy)
    session.finish_run(config, run)
  return result


def _fit(config: TrainConfig, run: RunDir, resumed: bool, info: DatasetInfo, strategy,
         policy: str) -> session.TrainResult:
  import keras

  plan = session.plan_for(config, info, strategy.num_replicas_in_sync)
  session.write_run_files(config, run, info, policy, plan)
  with strategy.scope():
    model = session.build_for_dataset(config, info, policy, plan.replicas)
    loss, metrics = recipe.compile_spec(info.task, model.output.shape[-1])
    model.compile(optimizer=recipe.make_optimizer(config.optim, plan, policy),
                  loss=loss, metrics=metrics)
  done_segments = callbacks_lib.backed_up_segments(run.backup)
  train_ds, dev_ds = session.train_datasets(
      config, info, config.data.batch_size,
      skip_batches=done_segments * plan.segment_steps,
      drop_remainder=config.runtime.distribution_strategy == "tpu")
  if dev_ds is None:
    logging.warning("Dataset %s has no dev split: no model selection or early "
                    "stopping; the last model is kept", config.data.data_dir)
  callbacks, dev_monitor, nan_guard = _callbacks(config, run, info, plan, done_segments,
                                                 dev_ds is not None)
  logging.info("Training %d steps (%d epochs of %d steps, backups every %d steps), "
               "precision %s, %d replica(s)%s", plan.total_steps, config.optim.epochs,
               plan.steps_per_epoch, plan.segment_steps, policy, plan.replicas,
               f", resuming after step {done_segments * plan.segment_steps}"
               if done_segments else "")
  class_weight = recipe.class_weight_map(
      config.optim.class_weights, info.task, info.classes,
      info.data["splits"]["train"].get("class_counts"))
  model.fit(train_ds, epochs=plan.total_segments, steps_per_epoch=plan.segment_steps,
            validation_data=dev_ds, validation_freq=plan.segments_per_epoch,
            class_weight=class_weight, callbacks=callbacks, verbose=config.verbose,
            shuffle=False)  # The stream is already shuffled.
  if nan_guard.failure is not None:
    failure = nan_guard.failure
    step = failure["segment"] * plan.segment_steps + failure["batch"] + 1
    raise session.TrainingError(
        f"training stopped: the loss became {failure['loss']} at step {step} (epoch "
        f"{step / plan.steps_per_epoch:.2f}); lower --learning_rate, check the "
        "features for extreme values, or use --mixed_precision=float32")
  steps = int(model.optimizer.iterations.numpy())
  final = (keras.models.load_model(run.best_model) if os.path.exists(run.best_model)
           else model)
  final.save(run.model)
  return session.TrainResult(
      model_dir=config.model_dir, steps=steps, best=dev_monitor.state,
      metrics=session.evaluate_splits(config, run, info),
      stopped_early="stopped_early_at_segment" in dev_monitor.state, resumed=resumed,
      weights_fingerprint=session.weights_fingerprint(final))
