"""Training callbacks whose state survives a kill and a resume.

`fit` runs in "segments" of `checkpoint_every` steps (Keras epochs), so that
`BackupAndRestore` can back up mid-epoch; these callbacks count real epochs from
the segments and keep their own state on disk next to the backup.
"""

from __future__ import annotations

import json
import math
import os
import time

import keras

from gslm_keras.io.files import write_json_atomic


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
  """

  def __init__(self, monitor: str, mode: str, best_path: str, state_path: str,
               patience: int = 0):
    super().__init__()
    self.monitor = monitor
    self.mode = mode
    self.best_path = best_path
    self.state_path = state_path
    self.patience = patience
    self.state = {"monitor": monitor, "mode": mode, "best": None,
                  "best_segment": None, "wait": 0}

  def on_train_begin(self, logs=None):
    if os.path.exists(self.state_path):
      with open(self.state_path, encoding="utf-8") as handle:
        self.state = json.load(handle)

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
      self.model.save(self.best_path)
    else:
      self.state["wait"] += 1
      if self.patience and self.state["wait"] >= self.patience:
        self.model.stop_training = True
        self.state["stopped_early_at_segment"] = epoch
    write_json_atomic(self.state_path, self.state)


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
