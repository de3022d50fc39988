"""`train(config)`: builds the model, fits it with resumable checkpoints, keeps the
best dev model, and evaluates it.

`fit` runs in segments of `checkpoint_every` optimizer steps (Keras "epochs");
BackupAndRestore saves at every segment end, and the training stream is one
seeded, repeated sequence of batches from which a resumed run skips the batches
already trained on. A run killed mid-epoch therefore resumes from its last
backup, redoes at most one segment from the backed-up state, and ends after the
same number of optimizer steps as an uninterrupted run.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import shutil
from typing import Any

import numpy as np
from absl import logging

from gslm_keras.data.manifest import MANIFEST, DatasetInfo, write_json_atomic
from gslm_keras.errors import ConfigError, DatasetError, GslmError
from gslm_keras.training.config import TrainConfig

CONFIG_FILE = "config.json"
FLAGFILE = "train.flags"
HISTORY_FILE = "history.json"
BEST_FILE = os.path.join("checkpoints", "best.keras")
MONITOR_STATE = os.path.join("checkpoints", "monitor_state.json")
BACKUP_DIR = os.path.join("checkpoints", "backup")
MODEL_FILE = "model.keras"


class TrainingError(GslmError):
  """Training could not go on (for example a non-finite loss)."""


@dataclasses.dataclass
class Plan:
  """Step accounting of one run.

  Attributes:
    replicas: replicas in sync.
    steps_per_epoch: optimizer steps per epoch (a multiple of segment_steps).
    segment_steps: steps between backups (one Keras "epoch" of fit).
    segments_per_epoch: segments in an epoch.
    total_steps: steps of the whole run.
  """

  replicas: int
  steps_per_epoch: int
  segment_steps: int
  segments_per_epoch: int
  total_steps: int

  @property
  def total_segments(self) -> int:
    return self.total_steps // self.segment_steps


@dataclasses.dataclass
class TrainResult:
  """What a finished run produced.

  Attributes:
    model_dir: the model directory.
    steps: optimizer steps taken.
    best: the dev monitor's state (best value and where).
    metrics: metrics per evaluated split.
    stopped_early: whether early stopping ended the run.
    resumed: whether this call resumed a killed run.
    weights_fingerprint: sha256 of the final weights (to compare runs).
  """

  model_dir: str
  steps: int
  best: dict[str, Any]
  metrics: dict[str, dict[str, Any]]
  stopped_early: bool
  resumed: bool
  weights_fingerprint: str = ""


def make_plan(config: TrainConfig, n_train: int, replicas: int) -> Plan:
  steps_per_epoch = config.steps_per_epoch or max(1, math.ceil(n_train / config.batch_size))
  checkpoint_every = min(config.checkpoint_every or steps_per_epoch, steps_per_epoch)
  segments_per_epoch = math.ceil(steps_per_epoch / checkpoint_every)
  segment_steps = math.ceil(steps_per_epoch / segments_per_epoch)
  steps_per_epoch = segment_steps * segments_per_epoch
  return Plan(replicas, steps_per_epoch, segment_steps, segments_per_epoch,
              steps_per_epoch * config.epochs)


def monitor_for(task: str, monitor: str) -> tuple[str, str]:
  """(metric, "max" or "min") for model selection."""
  if monitor == "auto":
    monitor = {"binary": "val_auroc", "multilabel": "val_auroc",
               "multiclass": "val_accuracy", "regression": "val_loss"}[task]
  mode = "min" if any(k in monitor for k in ("loss", "mae", "mse")) else "max"
  return monitor, mode


def compile_spec(task: str, n_outputs: int):
  """(loss, metrics) for a task; metric names are stable: accuracy, auroc ..."""
  import keras

  if task == "binary":
    return keras.losses.BinaryCrossentropy(), [
        keras.metrics.BinaryAccuracy(name="accuracy"),
        keras.metrics.AUC(name="auroc"), keras.metrics.AUC(curve="PR", name="auprc")]
  if task == "multiclass":
    return keras.losses.SparseCategoricalCrossentropy(), [
        keras.metrics.SparseCategoricalAccuracy(name="accuracy")]
  if task == "multilabel":
    return keras.losses.BinaryCrossentropy(), [
        keras.metrics.BinaryAccuracy(name="accuracy"),
        keras.metrics.AUC(multi_label=True, num_labels=n_outputs, name="auroc")]
  return keras.losses.MeanSquaredError(), [keras.metrics.MeanAbsoluteError(name="mae")]


def make_optimizer(config: TrainConfig, plan: Plan, policy: str):
  import keras

  rate: Any = config.learning_rate
  if config.lr_schedule == "cosine":
    warmup = min(config.warmup_steps, plan.total_steps - 1)
    rate = keras.optimizers.schedules.CosineDecay(
        initial_learning_rate=0.0 if warmup else config.learning_rate,
        decay_steps=max(1, plan.total_steps - warmup),
        warmup_target=config.learning_rate if warmup else None, warmup_steps=warmup)
  elif config.lr_schedule == "exponential":
    rate = keras.optimizers.schedules.ExponentialDecay(
        config.learning_rate, decay_steps=plan.steps_per_epoch, decay_rate=0.5)
  clip = {"clipnorm": config.clipnorm} if config.clipnorm else {}
  if config.optimizer == "adam":
    optimizer = keras.optimizers.Adam(rate, **clip)
  elif config.optimizer == "adamw":
    optimizer = keras.optimizers.AdamW(rate, weight_decay=config.weight_decay, **clip)
  else:
    optimizer = keras.optimizers.SGD(rate, momentum=0.9, **clip)
  if policy == "mixed_float16":
    # Keras 3 wraps only when asked: float16 gradients need dynamic loss scaling.
    optimizer = keras.optimizers.LossScaleOptimizer(optimizer)
  return optimizer


def class_weight_map(config: TrainConfig, info: DatasetInfo) -> dict[int, float] | None:
  if config.class_weights == "none":
    return None
  if info.task not in ("binary", "multiclass"):
    raise ConfigError(f"class_weights apply to binary and multiclass tasks, not "
                      f"{info.task}")
  counts = info.data["splits"]["train"]["class_counts"]
  if config.class_weights == "balanced":
    total = sum(counts.values())
    return {i: total / (len(counts) * max(counts[c], 1))
            for i, c in enumerate(info.classes)}
  weights = [float(w) for w in config.class_weights.split(",")]
  if len(weights) != len(info.classes):
    raise ConfigError(f"class_weights has {len(weights)} values, the dataset has "
                      f"{len(info.classes)} classes ({', '.join(info.classes)})")
  return dict(enumerate(weights))


def weights_fingerprint(model) -> str:
  """sha256 over every weight's bytes, in order: equal only for equal weights."""
  import hashlib

  digest = hashlib.sha256()
  for weight in model.weights:
    digest.update(np.ascontiguousarray(weight.numpy()).tobytes())
  return digest.hexdigest()


def ensure_dataset(config: TrainConfig, build: bool = True) -> DatasetInfo:
  """The dataset's manifest, building the dataset first when a flagfile says how."""
  manifest = os.path.join(config.data_dir, MANIFEST)
  if build and not os.path.exists(manifest) and config.dataset_flagfile:
    from gslm_keras.build_dataset import config_from_flagfile
    from gslm_keras.data.builder import build_dataset

    logging.info("No dataset at %s yet: building it from %s", config.data_dir,
                 config.dataset_flagfile)
    build_dataset(config_from_flagfile(config.dataset_flagfile,
                                       output_dir=config.data_dir))
  info = DatasetInfo.load(config.data_dir)
  if "train" not in info.splits:
    raise DatasetError(f"dataset {config.data_dir} has no train split")
  return info


def _comparable(data: dict[str, Any]) -> dict[str, Any]:
  """The parts of a config a backup depends on, as JSON values (lists, not tuples)."""
  ignored = ("verbose", "evaluate_splits", "overwrite", "dataset_flagfile",
             "early_stopping_patience", "resolved")
  return json.loads(json.dumps({k: v for k, v in data.items() if k not in ignored}))


def prepare_model_dir(config: TrainConfig, resume_dir: str = BACKUP_DIR) -> bool:
  """Creates or checks model_dir; True when a killed run is to be resumed.

  Args:
    config: the run's configuration.
    resume_dir: the model_dir subdirectory whose presence means an unfinished
      run (the fit backup, or the multi-worker step checkpoints).
  """
  model_dir = config.model_dir
  backup = os.path.join(model_dir, resume_dir)
  config_path = os.path.join(model_dir, CONFIG_FILE)
  if os.path.isdir(backup) and os.listdir(backup) and os.path.exists(config_path):
    with open(config_path, encoding="utf-8") as handle:
      previous = json.load(handle)
    if _comparable(previous) != _comparable(config.to_json()):
      changed = sorted(k for k, v in _comparable(config.to_json()).items()
                       if previous.get(k) != v)
      raise ConfigError(
          f"{model_dir} holds an unfinished run with another configuration "
          f"(differs in {', '.join(changed)}); resume it with the same flags, or use "
          "another --model_dir")
    logging.info("Resuming the unfinished run in %s", model_dir)
    return True
  if os.path.exists(os.path.join(model_dir, MODEL_FILE)):
    if not config.overwrite:
      raise ConfigError(f"{model_dir} already holds a trained model; pass --overwrite "
                        "to train again there, or choose another --model_dir")
  if os.path.isdir(model_dir):
    for name in (CONFIG_FILE, FLAGFILE, HISTORY_FILE, MODEL_FILE, MANIFEST,
                 "checkpoints", "logs", "metrics", "plots", "predictions"):
      path = os.path.join(model_dir, name)
      if os.path.isdir(path):
        shutil.rmtree(path)
      elif os.path.exists(path):
        os.remove(path)
  os.makedirs(os.path.join(model_dir, "checkpoints"), exist_ok=True)
  return False


def to_flagfile(config: TrainConfig) -> str:
  """A flagfile that re-runs this training with `python -m gslm_keras.train`."""

  def text(value):
    if isinstance(value, bool):
      return "true" if value else "false"
    if isinstance(value, (tuple, list)):
      return ",".join(str(v) for v in value)
    return str(value)

  lines = ["# Written by gslm_keras.train; re-run with",
           f"# python -m gslm_keras.train --flagfile={os.path.join(config.model_dir, FLAGFILE)}"]
  data = config.to_json()
  model = data.pop("model")
  for key, value in list(data.items()) + list(model.items()):
    if value is None:
      continue
    if isinstance(value, bool):
      lines.append(f"--{key}" if value else f"--no{key}")
    else:
      lines.append(f"--{key}={text(value)}")
  return "\n".join(lines) + "\n"


def write_run_files(config: TrainConfig, info: DatasetInfo, policy: str, plan: Plan):
  model_dir = config.model_dir
  data = config.to_json()
  data["resolved"] = {"precision": policy, "plan": dataclasses.asdict(plan)}
  write_json_atomic(os.path.join(model_dir, CONFIG_FILE), data)
  tmp = os.path.join(model_dir, FLAGFILE + ".tmp")
  with open(tmp, "w", encoding="utf-8") as handle:
    handle.write(to_flagfile(config))
  os.replace(tmp, os.path.join(model_dir, FLAGFILE))
  write_json_atomic(os.path.join(model_dir, MANIFEST), info.to_json())


def _backed_up_segments(model_dir: str) -> int:
  path = os.path.join(model_dir, BACKUP_DIR, "training_metadata.json")
  if not os.path.exists(path):
    return 0
  with open(path, encoding="utf-8") as handle:
    return int(json.load(handle)["epoch"])


def set_seeds(config: TrainConfig) -> None:
  import keras
  import tensorflow as tf

  keras.utils.set_random_seed(config.seed)
  if config.deterministic:
    tf.config.experimental.enable_op_determinism()


def train_datasets(config: TrainConfig, info: DatasetInfo, batch_size: int,
                   skip_batches: int = 0, shard=None, drop_remainder: bool = False):
  """(train stream, dev dataset or None), labels shaped for the model's head."""
  import tensorflow as tf

  from gslm_keras import make_dataset

  def shape_labels(inputs, label):
    if info.task == "binary":
      label = tf.cast(label, tf.float32)[:, None]
    return inputs, label

  train = make_dataset(
      config.data_dir, "train", "train", batch_size, normalize=False,
      reverse_complement=config.reverse_complement, max_shift=config.max_shift,
      drop_remainder=drop_remainder, seed=config.seed, repeat=True,
      skip_batches=skip_batches, shard=shard).map(shape_labels)
  dev = None
  if "dev" in info.splits:
    dev = make_dataset(config.data_dir, "dev", "eval", batch_size, normalize=False,
                       drop_remainder=drop_remainder).map(shape_labels)
  return train, dev


def build_for_dataset(config: TrainConfig, info: DatasetInfo, policy: str,
                      replicas: int = 1):
  from gslm_keras.models import build_model, output_width

  mean, std = info.normalization()
  n_targets = info.label_width if info.task == "regression" else 1
  return build_model(
      config.model, length=info.length_rule.length, n_features=info.n_features,
      task=info.task, n_outputs=output_width(info.task, len(info.classes), n_targets),
      feature_mean=mean, feature_std=std, dtype=policy,
      synchronized_batch_norm=replicas > 1)


def train(config: TrainConfig) -> TrainResult:
  """Trains, keeps the best dev model as `model.keras`, evaluates it.

  Raises:
    ConfigError: invalid options, a model that does not fit the dataset, or a
      model_dir holding another run.
    DatasetError: no usable dataset at data_dir.
    TrainingError: the loss became NaN or infinite.
  """
  import keras

  from gslm_keras.training import callbacks as callbacks_lib
  from gslm_keras.training.strategy import make_strategy, resolve_precision

  multi_worker = config.distribution_strategy == "multi_worker"
  # Workers of a cluster would race to build the dataset: it must exist.
  info = ensure_dataset(config, build=not multi_worker)
  set_seeds(config)
  strategy = make_strategy(config.distribution_strategy, config.tpu)
  policy = resolve_precision(config.mixed_precision, config.distribution_strategy)
  if multi_worker:
    from gslm_keras.training.custom_loop import train_multi_worker

    return train_multi_worker(config, info, strategy, policy)
  resumed = prepare_model_dir(config)
  plan = make_plan(config, info.num_records("train"), strategy.num_replicas_in_sync)
  write_run_files(config, info, policy, plan)
  with strategy.scope():
    model = build_for_dataset(config, info, policy, plan.replicas)
    loss, metrics = compile_spec(info.task, model.output.shape[-1])
    model.compile(optimizer=make_optimizer(config, plan, policy), loss=loss,
                  metrics=metrics)
  done_segments = _backed_up_segments(config.model_dir)
  tpu = config.distribution_strategy == "tpu"
  train_ds, dev_ds = train_datasets(config, info, config.batch_size,
                                    skip_batches=done_segments * plan.segment_steps,
                                    drop_remainder=tpu)
  monitor, mode = monitor_for(info.task, config.monitor)
  if dev_ds is None:
    logging.warning("Dataset %s has no dev split: no model selection or early "
                    "stopping; the last model is kept", config.data_dir)
  model_dir = config.model_dir
  history = callbacks_lib.HistoryLog(os.path.join(model_dir, HISTORY_FILE),
                                     plan.segment_steps, plan.segments_per_epoch,
                                     initial_segment=done_segments)
  dev_monitor = callbacks_lib.DevMonitor(
      monitor, mode, os.path.join(model_dir, BEST_FILE),
      os.path.join(model_dir, MONITOR_STATE), config.early_stopping_patience)
  nan_guard = callbacks_lib.NanGuard()
  callbacks = [history, nan_guard, keras.callbacks.TensorBoard(
      os.path.join(model_dir, "logs"), update_freq="epoch")]
  if dev_ds is not None:
    callbacks.append(dev_monitor)
  # Last, so that a backup is written only after the logs and monitor state of
  # its segment.
  callbacks.append(keras.callbacks.BackupAndRestore(
      os.path.join(model_dir, BACKUP_DIR), save_freq="epoch"))
  logging.info("Training %d steps (%d epochs of %d steps, backups every %d steps), "
               "precision %s, %d replica(s)%s", plan.total_steps, config.epochs,
               plan.steps_per_epoch, plan.segment_steps, policy, plan.replicas,
               f", resuming after step {done_segments * plan.segment_steps}"
               if done_segments else "")
  model.fit(train_ds, epochs=plan.total_segments, steps_per_epoch=plan.segment_steps,
            validation_data=dev_ds, validation_freq=plan.segments_per_epoch,
            class_weight=class_weight_map(config, info), callbacks=callbacks,
            verbose=config.verbose, shuffle=False)  # The stream is already shuffled.
  if nan_guard.failure is not None:
    failure = nan_guard.failure
    step = failure["segment"] * plan.segment_steps + failure["batch"] + 1
    raise TrainingError(
        f"training stopped: the loss became {failure['loss']} at step {step} (epoch "
        f"{step / plan.steps_per_epoch:.2f}); lower --learning_rate, check the "
        "features for extreme values, or use --mixed_precision=float32")
  steps = int(model.optimizer.iterations.numpy())
  best_path = os.path.join(model_dir, BEST_FILE)
  final = keras.models.load_model(best_path) if os.path.exists(best_path) else model
  final.save(os.path.join(model_dir, MODEL_FILE))
  return TrainResult(
      model_dir=model_dir, steps=steps, best=dev_monitor.state,
      metrics=evaluate_splits(config, info, final),
      stopped_early="stopped_early_at_segment" in dev_monitor.state, resumed=resumed,
      weights_fingerprint=weights_fingerprint(final))


def evaluate_splits(config: TrainConfig, info: DatasetInfo, model) -> dict[str, dict]:
  from gslm_keras.evaluation.evaluator import evaluate_model

  results = {}
  for split in config.evaluate_splits:
    if split in info.splits:
      results[split] = evaluate_model(config.model_dir, config.data_dir, split,
                                      model=model)
  return results
