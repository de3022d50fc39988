"""The one Keras `fit` loop of single-machine runs, a classifier's (`fit.py`) and a
language model's (`pretrain.py`) alike.

`fit` runs in segments of `checkpoint_every` optimizer steps (Keras "epochs");
the callbacks every run has are assembled here, in the order that makes a resumed
run exact: the history and TensorBoard logs, the NaN guard, progress lines, the
dev monitor (model selection and early stopping) and, last, the resumable backup,
so that a backup is written only after the logs and monitor state of its segment.
What differs between tasks comes in as arguments: the dev metric, a class weight,
an extra callback (the classifier's collapse guard).
"""

from __future__ import annotations

import dataclasses

from gslm_keras.run_dir import RunDir
from gslm_keras.training import callbacks as callbacks_lib
from gslm_keras.training.plan import Plan
from gslm_keras.training.session import TrainingError


@dataclasses.dataclass
class Loop:
  """The callbacks of one run and the ones read after `fit`.

  Attributes:
    callbacks: in the order Keras calls them.
    dev_monitor: the dev selection's state (best value and step).
    nan_guard: where a non-finite loss stopped the run, if it did.
  """

  callbacks: list
  dev_monitor: callbacks_lib.DevMonitor
  nan_guard: callbacks_lib.NanGuard

  def add_before_backup(self, callback) -> None:
    """A callback whose verdict on a segment must come before that segment's backup
    (the collapse guard: a collapsed segment is not kept)."""
    self.callbacks.insert(-1, callback)

  def fit(self, model, train_ds, dev_ds, plan: Plan, verbose: int,
          class_weight: dict | None = None, hint: str = "") -> int:
    """`model.fit` over the plan's segments; the optimizer steps taken.

    Raises:
      TrainingError: the loss became NaN or infinite (where, and what to try;
        `hint` adds a task's own advice).
    """
    model.fit(train_ds, epochs=plan.total_segments, steps_per_epoch=plan.segment_steps,
              validation_data=dev_ds, validation_freq=plan.segments_per_epoch,
              class_weight=class_weight, callbacks=self.callbacks, verbose=verbose,
              shuffle=False)  # The stream is already shuffled.
    failure = self.nan_guard.failure
    if failure is not None:
      step = failure["segment"] * plan.segment_steps + failure["batch"] + 1
      raise TrainingError(
          f"training stopped: the loss became {failure['loss']} at step {step} (epoch "
          f"{step / plan.steps_per_epoch:.2f}); lower --learning_rate{hint}, or use "
          "--mixed_precision=float32")
    return int(model.optimizer.iterations.numpy())


def make_loop(run: RunDir, plan: Plan, done_segments: int, monitor: str, mode: str,
              patience: int, has_dev: bool, freeze_steps: int = 0, saved=None) -> Loop:
  """The callbacks of a run resuming after `done_segments` segments.

  Args:
    monitor, mode: the dev metric that selects the model ("val_auroc", "max").
    patience: epochs without dev improvement before stopping (0: never).
    has_dev: whether the dataset has a dev split (no selection without one).
    freeze_steps: steps the backbone is frozen for (said in progress lines).
    saved: the model the dev monitor saves, when it is not the one `fit` trains
      (a training model with auxiliary heads around it).
  """
  import keras

  dev_monitor = callbacks_lib.DevMonitor(monitor, mode, run.best_model,
                                         run.monitor_state, patience, saved)
  nan_guard = callbacks_lib.NanGuard()
  callbacks = [
      callbacks_lib.HistoryLog(run.history, plan.segment_steps, plan.segments_per_epoch,
                               initial_segment=done_segments),
      nan_guard,
      callbacks_lib.StepProgress(plan.segment_steps, plan.total_steps, done_segments,
                                 freeze_steps),
      keras.callbacks.TensorBoard(run.logs, update_freq="epoch")]
  if has_dev:
    callbacks.append(dev_monitor)
  callbacks.append(callbacks_lib.ResumableBackup(run.backup, [dev_monitor]))
  return Loop(callbacks, dev_monitor, nan_guard)
