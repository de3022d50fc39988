"""Training callbacks whose state survives a kill and a resume.

`fit` runs in "segments" of `checkpoint_every` steps (Keras epochs), so that a
backup is written mid-epoch; these callbacks count real epochs from the
segments. `ResumableBackup` saves, atomically at every segment end, everything
the rest of the run depends on, so that a run killed at any point and started
again ends with the same weights as one that was never interrupted.
"""

from __future__ import annotations

import json
import math
import os
import time

import keras
import numpy as np
from absl import logging

from gslm_keras.io.files import atomic_path, write_json_atomic
from gslm_keras.io.model_files import load_npz, save_model
from gslm_keras.io.progress import Progress

BACKUP_FILE = "state.npz"
# Seconds between progress lines inside a training run.
PROGRESS_SECONDS = 30.0


def backed_up_segments(directory: str) -> int:
  """Segments finished by the run whose backup is in `directory` (0: none)."""
  path = os.path.join(directory, BACKUP_FILE)
  if not os.path.exists(path):
    return 0
  with load_npz(path, _restart_hint(directory)) as state:
    return int(state["segment"])


def _restart_hint(directory: str) -> str:
  return (f"the backup of an unfinished run; remove {directory} to train again from "
          "the beginning")


class ResumableBackup(keras.callbacks.Callback):
  """At every segment end, one atomic file with all that the run's future needs.

  Keras' BackupAndRestore saves the weights, but not the random states of the
  dropout layers (so a resumed run drew other dropout masks and diverged from the
  uninterrupted one from the first step after the restart), and it writes its
  file in place (a kill during the write left a backup that could not be read).
  This backup holds every model variable (weights, batch-norm statistics, the
  dropout layers' seed states), every optimizer variable (step count, moments,
  loss scale), the number of finished segments and the state of the stateful
  callbacks, written to a temporary file and renamed into place.

  Args:
    directory: where the backup lives (removed once the run's files are complete).
    stateful: callbacks with `get_state()` and `set_state(dict)`, saved with it.
  """

  def __init__(self, directory: str, stateful=()):
    super().__init__()
    self.directory = directory
    self.path = os.path.join(directory, BACKUP_FILE)
    self.stateful = list(stateful)

  def _optimizer_variables(self):
    optimizer = self.model.optimizer
    if not optimizer.built:
      optimizer.build(self.model.trainable_variables)
    return optimizer.variables

  def on_train_begin(self, logs=None):
    if not os.path.exists(self.path):
      return
    with load_npz(self.path, _restart_hint(self.directory)) as state:
      model_vars, optimizer_vars = self.model.variables, self._optimizer_variables()
      if (int(state["n_model"]) != len(model_vars)
          or int(state["n_optimizer"]) != len(optimizer_vars)):
        raise ValueError(f"the backup {self.path} does not fit this model and optimizer")
      for i, variable in enumerate(model_vars):
        variable.assign(state[f"model_{i}"])
      for i, variable in enumerate(optimizer_vars):
        variable.assign(state[f"optimizer_{i}"])
      callbacks = json.loads(str(state["callbacks"]))
      self.model._initial_epoch = int(state["segment"])  # What fit resumes from.
    for callback, saved in zip(self.stateful, callbacks):
      callback.set_state(saved)

  def on_epoch_end(self, epoch, logs=None):
    arrays = {f"model_{i}": np.asarray(v.numpy())
              for i, v in enumerate(self.model.variables)}
    optimizer_vars = self._optimizer_variables()
    arrays.update({f"optimizer_{i}": np.asarray(v.numpy())
                   for i, v in enumerate(optimizer_vars)})
    arrays.update(n_model=len(self.model.variables), n_optimizer=len(optimizer_vars),
                  segment=epoch + 1, callbacks=np.array(json.dumps(
                      [c.get_state() for c in self.stateful])))
    os.makedirs(self.directory, exist_ok=True)
    with atomic_path(self.path) as tmp:
      with open(tmp, "wb") as handle:
        np.savez(handle, **arrays)

  # The backup stays after training: until the run's last file (the model card)
  # is in place, a killed run resumes from it; `session.complete` removes it.


class HistoryLog(keras.callbacks.Callback):
  """Appends each segment's logs (with the global step) to a JSON file.

  On resume, entries of segments after the restored backup are dropped: those
  segments are trained again.

  Args:
    path: the JSON file.
    segment_steps: optimizer steps per segment.
    segments_per_epoch: segments in one epoch.
    initial_segment: segments restored from the backup (0 for a new run).
  """

  def __init__(self, path: str, segment_steps: int, segments_per_epoch: int,
               initial_segment: int = 0):
    super().__init__()
    self.path = path
    self.segment_steps = segment_steps
    self.segments_per_epoch = segments_per_epoch
    self.initial_segment = initial_segment
    self.entries: list[dict] = []

  def on_train_begin(self, logs=None):
    if os.path.exists(self.path):
      with open(self.path, encoding="utf-8") as handle:
        self.entries = [e for e in json.load(handle)
                        if e["segment"] < self.initial_segment]

  def on_epoch_end(self, epoch, logs=None):
    entry = {"segment": epoch, "step": (epoch + 1) * self.segment_steps,
             "epoch": (epoch + 1) / self.segments_per_epoch, "time": time.time()}
    entry.update({k: float(v) for k, v in (logs or {}).items()})
    self.entries.append(entry)
    write_json_atomic(self.path, self.entries)


class DevMonitor(keras.callbacks.Callback):
  """Keeps the best model on a dev metric and stops after `patience` epochs.

  Args:
    monitor: the metric, e.g. "val_auroc".
    mode: "max" or "min".
    best_path: where the best model is saved (.keras).
    state_path: JSON with best value, epoch and patience count, for resuming.
    patience: epochs without improvement before stopping; 0 never stops.
    saved: the model saved, when it is not the one trained (the model inside a
      training model with auxiliary heads); the trained one when None.
  """

  def __init__(self, monitor: str, mode: str, best_path: str, state_path: str,
               patience: int = 0, saved=None):
    super().__init__()
    self.saved = saved
    self.monitor = monitor
    self.mode = mode
    self.best_path = best_path
    self.state_path = state_path
    self.patience = patience
    self.state = {"monitor": monitor, "mode": mode, "best": None,
                  "best_segment": None, "wait": 0}

  def get_state(self) -> dict:
    return dict(self.state)

  def set_state(self, state: dict) -> None:
    self.state = dict(state)

  def _improved(self, value):
    best = self.state["best"]
    if best is None:
      return True
    return value > best if self.mode == "max" else value < best

  def on_epoch_end(self, epoch, logs=None):
    value = (logs or {}).get(self.monitor)
    if value is None:
      return  # A segment without validation.
    value = float(value)
    if not math.isfinite(value):
      return
    if self._improved(value):
      self.state.update(best=value, best_segment=epoch, wait=0)
      save_model(self.model if self.saved is None else self.saved, self.best_path)
    else:
      self.state["wait"] += 1
      if self.patience and self.state["wait"] >= self.patience:
        self.model.stop_training = True
        self.state["stopped_early_at_segment"] = epoch
    write_json_atomic(self.state_path, self.state)


class NormRecalibration(keras.callbacks.Callback):
  """Before each dev evaluation, every batch norm's inference statistics measured
  again on a fixed sample of the training split (`batch_norm.recalibrate`), so that
  the model judged on dev, and kept, predicts with them.

  Args:
    target: the model whose batch norms are set (the one inside a training model
      with auxiliary heads shares them); None: the model `fit` trains.
    batches: the sample, batches of model inputs (`batch_norm.training_sample`).
  """

  def __init__(self, target, batches):
    super().__init__()
    self.target = target
    self.batches = batches

  def on_test_begin(self, logs=None):
    from gslm_keras.training import batch_norm

    batch_norm.recalibrate(self.model if self.target is None else self.target,
                           self.batches)


class NanGuard(keras.callbacks.Callback):
  """Stops training at the first non-finite loss and remembers where."""

  def __init__(self):
    super().__init__()
    self.failure: dict | None = None
    self._segment = 0

  def on_epoch_begin(self, epoch, logs=None):
    self._segment = epoch

  def on_train_batch_end(self, batch, logs=None):
    loss = (logs or {}).get("loss")
    if loss is not None and not math.isfinite(float(loss)):
      self.failure = {"segment": self._segment, "batch": batch, "loss": float(loss)}
      self.model.stop_training = True


class StepProgress(keras.callbacks.Callback):
  """A progress line every `every` seconds inside the run's segments: the global
  step, the loss, and how long is left (Keras' own lines come only at segment
  ends, and a first epoch of minutes showed nothing).

  Args:
    segment_steps: optimizer steps per segment (Keras epoch).
    total_steps: the run's planned steps.
    initial_segment: segments restored from a backup.
    freeze_steps: steps the sequence backbone is frozen (`--freeze_trunk_steps`):
      its release is logged at the step it happens.
    every: seconds between lines.
  """

  def __init__(self, segment_steps: int, total_steps: int, initial_segment: int = 0,
               freeze_steps: int = 0, every: float = PROGRESS_SECONDS):
    super().__init__()
    self.freeze_steps = freeze_steps
    self.segment_steps = segment_steps
    self.total_steps = total_steps
    self.first = initial_segment * segment_steps
    self.every = every
    self._segment = initial_segment
    self._last = self.first
    self.meter = None

  def on_train_begin(self, logs=None):
    self.meter = Progress("steps", self.every,
                          total=max(self.total_steps - self.first, 1))

  def on_epoch_begin(self, epoch, logs=None):
    self._segment = epoch

  def on_train_batch_end(self, batch, logs=None):
    step = self._segment * self.segment_steps + batch + 1
    if self.freeze_steps and self._last < self.freeze_steps <= step:
      logging.info("Step %d: the sequence backbone is released (frozen for the first "
                   "%d steps) and trains from here on", step, self.freeze_steps)
    self._last = step
    loss = (logs or {}).get("loss")
    self.meter.update(step - self.first, f"step {step}/{self.total_steps}" + (
        f", loss {float(loss):.4f}" if loss is not None else ""))
