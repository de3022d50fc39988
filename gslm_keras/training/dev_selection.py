"""Model selection on dev and early stopping for the multi-worker loop.

The single-machine path does this with Keras callbacks (`callbacks.DevMonitor`).
The multi-worker loop cannot: every worker must take the same decision at the
same step, or they fall out of step in their collectives. Here the chief measures
the dev metric after each epoch; the value reaches every worker through one
all-reduce (the others contribute 0), and every worker applies the same rule to
the same number: keep the best step, stop after `patience` epochs without
improvement. The state (best value, its step, epochs without improvement) lives in
variables saved with the step checkpoints, so a restarted cluster resumes it; the
chief saves the best model, which every worker loads at the end.
"""

from __future__ import annotations

import math

import numpy as np
import tensorflow as tf

from gslm_keras.training import recipe


def share(strategy, value: float) -> float:
  """`value` of the chief, on every worker (the others pass 0.0)."""
  per_replica = strategy.run(tf.function(lambda v: v),
                             args=(tf.constant(value, tf.float32),))
  return float(strategy.reduce(tf.distribute.ReduceOp.SUM, per_replica, axis=None))


def dev_value(model, dev, task: str, monitor: str) -> float:
  """The monitored metric (val_loss, val_auroc, val_accuracy ...) on the dev set,
  with the same loss and metric objects as `fit` compiles."""
  loss_fn, metrics = recipe.compile_spec(task, model.output.shape[-1])
  name = monitor[4:] if monitor.startswith("val_") else monitor
  chosen = None if name == "loss" else next((m for m in metrics if m.name == name), None)
  if name != "loss" and chosen is None:
    raise ValueError(f"monitor {monitor}: not a metric of a {task} model")
  total, count = 0.0, 0
  for inputs, labels in dev:
    predictions = model(inputs, training=False)
    if chosen is None:
      n = int(tf.shape(labels)[0])
      total += float(loss_fn(labels, predictions)) * n
      count += n
    else:
      chosen.update_state(labels, predictions)
  return total / max(count, 1) if chosen is None else float(chosen.result())


class SharedDevSelection(tf.Module):
  """The selection state, identical on every worker."""

  def __init__(self, monitor: str, mode: str, patience: int):
    super().__init__(name="dev_selection")
    self.monitor, self.mode, self.patience = monitor, mode, patience
    self.best = tf.Variable(np.nan, dtype=tf.float64, trainable=False)
    self.best_step = tf.Variable(-1, dtype=tf.int64, trainable=False)
    self.wait = tf.Variable(0, dtype=tf.int64, trainable=False)

  def update(self, value: float, step: int) -> tuple[bool, bool]:
    """(improved, stop) after an epoch whose dev metric is `value`."""
    if not math.isfinite(value):
      return False, False
    best = float(self.best.numpy())
    improved = (math.isnan(best) or (value > best if self.mode == "max" else value < best))
    if improved:
      self.best.assign(value)
      self.best_step.assign(step)
      self.wait.assign(0)
    else:
      self.wait.assign_add(1)
    return improved, bool(self.patience and int(self.wait.numpy()) >= self.patience)

  def state(self) -> dict:
    best = float(self.best.numpy())
    return {"monitor": self.monitor, "mode": self.mode,
            "best": None if math.isnan(best) else best,
            "best_step": int(self.best_step.numpy()), "wait": int(self.wait.numpy())}
