"""Training loop for MultiWorkerMirroredStrategy.

Keras 3 `fit` fails under MultiWorkerMirroredStrategy (keras-team/keras#20585:
"Attempt to convert a value (PerReplica ...)"), so multi-worker runs use this
loop over the same model, dataset and optimizer: per-worker input pipelines from
`distribute_datasets_from_function`, `strategy.run` inside a `tf.function`, the
loss averaged over the global batch, and step checkpoints that a restarted
cluster resumes from. The chief (worker 0) writes the model directory; the other
workers save to temporary directories, as the strategy requires, and delete them.
The last model is kept (no dev-based selection or early stopping here).
"""

from __future__ import annotations

import os
import shutil

import numpy as np
import tensorflow as tf
from absl import logging

from gslm_keras.data.manifest import DatasetInfo
from gslm_keras.training import trainer
from gslm_keras.training.config import TrainConfig

STEP_CHECKPOINTS = os.path.join("checkpoints", "steps")


def _per_example_loss(task: str):
  import keras

  if task in ("binary", "multilabel"):
    return keras.losses.BinaryCrossentropy(reduction=None)
  if task == "multiclass":
    return keras.losses.SparseCategoricalCrossentropy(reduction=None)
  return keras.losses.MeanSquaredError(reduction=None)


def _barrier(strategy):
  """A collective every worker must reach: all wait for the slowest."""
  strategy.reduce(tf.distribute.ReduceOp.SUM,
                  strategy.run(tf.function(lambda: tf.constant(1.0))), axis=None)


def train_multi_worker(config: TrainConfig, info: DatasetInfo,
                       strategy: tf.distribute.Strategy, policy: str
                       ) -> trainer.TrainResult:
  resolver = strategy.cluster_resolver
  task_type, task_id = resolver.task_type, resolver.task_id
  is_chief = task_type == "chief" or (task_type == "worker" and task_id == 0)
  resumed = False
  if is_chief:
    resumed = trainer.prepare_model_dir(config, STEP_CHECKPOINTS)
  _barrier(strategy)
  plan = trainer.make_plan(config, info.num_records("train"),
                           strategy.num_replicas_in_sync)
  if is_chief:
    trainer.write_run_files(config, info, policy, plan)
  with strategy.scope():
    model = trainer.build_for_dataset(config, info, policy, plan.replicas)
    optimizer = trainer.make_optimizer(config, plan, policy)
    optimizer.build(model.trainable_variables)
    checkpoint = tf.train.Checkpoint(model=model, optimizer=optimizer)
  chief_dir = os.path.join(config.model_dir, STEP_CHECKPOINTS)
  own_dir = chief_dir if is_chief else os.path.join(
      config.model_dir, "workers", f"{task_type}_{task_id}")
  manager = tf.train.CheckpointManager(checkpoint, own_dir, max_to_keep=1)
  latest = tf.train.latest_checkpoint(chief_dir)
  if latest:
    checkpoint.restore(latest)
  start = int(optimizer.iterations.numpy())
  if start:
    logging.info("Resuming after step %d from %s", start, latest)
  loss_fn = _per_example_loss(info.task)
  global_batch = config.batch_size

  def dataset_fn(context: tf.distribute.InputContext):
    batch = context.get_per_replica_batch_size(global_batch)
    train, _ = trainer.train_datasets(
        config, info, batch, skip_batches=start, drop_remainder=True,
        shard=(context.num_input_pipelines, context.input_pipeline_id))
    return train

  iterator = iter(strategy.distribute_datasets_from_function(dataset_fn))

  @tf.function
  def train_step(iterator):
    def step_fn(inputs, labels):
      with tf.GradientTape() as tape:
        predictions = model(inputs, training=True)
        loss = tf.nn.compute_average_loss(loss_fn(labels, predictions),
                                          global_batch_size=global_batch)
        scaled = optimizer.scale_loss(loss)
      gradients = tape.gradient(scaled, model.trainable_variables)
      optimizer.apply_gradients(zip(gradients, model.trainable_variables))
      return loss

    losses = strategy.run(step_fn, args=next(iterator))
    return strategy.reduce(tf.distribute.ReduceOp.SUM, losses, axis=None)

  history, losses = [], []
  for step in range(start, plan.total_steps):
    loss = float(train_step(iterator))
    if not np.isfinite(loss):
      raise trainer.TrainingError(
          f"training stopped: the loss became {loss} at step {step + 1}; lower "
          "--learning_rate or use --mixed_precision=float32")
    losses.append(loss)
    if (step + 1) % plan.segment_steps == 0 or step + 1 == plan.total_steps:
      manager.save(checkpoint_number=step + 1)
      history.append({"segment": (step + 1) // plan.segment_steps - 1,
                      "step": step + 1, "epoch": (step + 1) / plan.steps_per_epoch,
                      "loss": float(np.mean(losses))})
      logging.info("step %d/%d: loss %.4f", step + 1, plan.total_steps, history[-1]["loss"])
      losses = []
  _barrier(strategy)
  steps = int(optimizer.iterations.numpy())
  fingerprint = trainer.weights_fingerprint(model)
  if not is_chief:
    shutil.rmtree(own_dir, ignore_errors=True)
    return trainer.TrainResult(config.model_dir, steps, {}, {}, False, resumed,
                               fingerprint)
  from gslm_keras.data.manifest import write_json_atomic

  write_json_atomic(os.path.join(config.model_dir, trainer.HISTORY_FILE), history)
  model.save(os.path.join(config.model_dir, trainer.MODEL_FILE))
  shutil.rmtree(chief_dir, ignore_errors=True)
  metrics = trainer.evaluate_splits(config, info, model)
  return trainer.TrainResult(config.model_dir, steps, {}, metrics, False, resumed,
                             fingerprint)
