"""The training recipe: loss and metrics (from the task's row, tasks/supervised.py),
optimizer and schedule, model selection, class weights and seeds."""

from __future__ import annotations

from typing import Any

from gslm_keras.errors import ConfigError
from gslm_keras.tasks.supervised import task_type
from gslm_keras.training.config import OptimConfig
from gslm_keras.training.plan import Plan


def monitor_for(task: str, monitor: str) -> tuple[str, str]:
  """(metric, "max" or "min") for model selection."""
  if monitor == "auto":
    monitor = task_type(task).monitor
  mode = "min" if any(k in monitor for k in ("loss", "mae", "mse")) else "max"
  return monitor, mode


def compile_spec(task: str, n_outputs: int):
  """(loss, metrics) for a task; metric names are stable: accuracy, auroc ..."""
  kind = task_type(task)
  return kind.loss(), kind.metrics(n_outputs)


def make_optimizer(optim: OptimConfig, plan: Plan, policy: str, model=None):
  """The optimizer with its schedule; loss scaling under mixed_float16.

  With --freeze_trunk_steps or --trunk_learning_rate_multiplier, the variables of
  `model`'s sequence backbone get their own rate (see trunk_rate.py).
  """
  import keras

  rate: Any = optim.learning_rate
  if optim.lr_schedule == "cosine":
    warmup = min(optim.warmup_steps, plan.total_steps - 1)
    rate = keras.optimizers.schedules.CosineDecay(
        initial_learning_rate=0.0 if warmup else optim.learning_rate,
        decay_steps=max(1, plan.total_steps - warmup),
        warmup_target=optim.learning_rate if warmup else None, warmup_steps=warmup)
  elif optim.lr_schedule == "exponential":
    rate = keras.optimizers.schedules.ExponentialDecay(
        optim.learning_rate, decay_steps=plan.steps_per_epoch, decay_rate=0.5)
  options = {"clipnorm": optim.clipnorm} if optim.clipnorm else {}
  if optim.optimizer == "adamw":
    options["weight_decay"] = optim.weight_decay
  elif optim.optimizer == "sgd":
    options["momentum"] = 0.9
  classes = {"adam": keras.optimizers.Adam, "adamw": keras.optimizers.AdamW,
             "sgd": keras.optimizers.SGD}
  if optim.freeze_trunk_steps or optim.trunk_learning_rate_multiplier != 1.0:
    from gslm_keras.models.backbone import find_backbone
    from gslm_keras.training import trunk_rate

    classes = trunk_rate.CLASSES
    options.update(
        trunk_paths=[v.path for v in find_backbone(model).trainable_variables],
        freeze_steps=optim.freeze_trunk_steps,
        trunk_multiplier=optim.trunk_learning_rate_multiplier)
  optimizer = classes[optim.optimizer](rate, **options)
  if policy == "mixed_float16":
    # Keras 3 wraps only when asked: float16 gradients need dynamic loss scaling.
    optimizer = keras.optimizers.LossScaleOptimizer(optimizer)
  if model is not None:
    # Its variables made now (in the caller's strategy scope), not by the first
    # traced step: a step that creates variables is traced twice, which cost a
    # quarter of a short run's time.
    optimizer.build(model.trainable_variables)
  return optimizer


def class_weight_map(class_weights: str, task: str, classes: list[str],
                     counts: dict[str, int] | None) -> dict[int, float] | None:
  """Keras `class_weight` from "none", "balanced" or explicit weights."""
  if class_weights == "none":
    return None
  if not task_type(task).classes:
    raise ConfigError(f"class_weights apply to binary and multiclass tasks, not {task}")
  if class_weights == "balanced":
    total = sum(counts.values())
    return {i: total / (len(counts) * max(counts[c], 1)) for i, c in enumerate(classes)}
  weights = [float(w) for w in class_weights.split(",")]
  if len(weights) != len(classes):
    raise ConfigError(f"class_weights has {len(weights)} values, the dataset has "
                      f"{len(classes)} classes ({', '.join(classes)})")
  return dict(enumerate(weights))


def dataset_class_weights(class_weights: str, info) -> dict[int, float] | None:
  """`class_weight_map` for a dataset (a DatasetInfo): its task, classes and the
  class counts of its train split."""
  return class_weight_map(class_weights, info.task, info.classes,
                          info.data["splits"]["train"].get("class_counts"))


def set_seeds(seed: int, deterministic: bool) -> None:
  import keras
  import tensorflow as tf

  keras.utils.set_random_seed(seed)
  if deterministic:
    tf.config.experimental.enable_op_determinism()
