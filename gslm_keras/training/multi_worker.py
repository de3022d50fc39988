"""Training loop for MultiWorkerMirroredStrategy.

Keras 3 `fit` fails under MultiWorkerMirroredStrategy (keras-team/keras#20585:
"Attempt to convert a value (PerReplica ...)"), so multi-worker runs use this
loop over the same model, dataset and optimizer: per-worker input pipelines from
`distribute_datasets_from_function`, `strategy.run` inside a `tf.function`, the
loss averaged over the global batch, and step checkpoints that a restarted
cluster resumes from. The chief (worker 0) writes the model directory; the other
workers save to temporary directories, as the strategy requires, and delete them.
As on one machine, the best dev model is kept and training stops early after
`--early_stopping_patience` epochs without improvement; the decision is the
chief's, shared with every worker (dev_selection.py); `--class_weights` weight
each example's loss as `fit`'s class_weight does; the chief writes TensorBoard
logs where `fit` does; and a run that collapses in its first epoch is restarted as
`fit` restarts it (collapse.py: the chief diagnoses, every worker restarts). The
model directory is assumed to be on storage every worker reads (as the step
checkpoints already are).
"""

from __future__ import annotations

import functools
import os
import shutil

import numpy as np
import tensorflow as tf
from absl import logging

from gslm_keras.data.dataset_info import DatasetInfo
from gslm_keras.io.files import read_json, write_json_atomic
from gslm_keras.io.model_files import save_model
from gslm_keras.io.outputs import exclusive_output
from gslm_keras.run_dir import RunDir
from gslm_keras.tasks.supervised import task_type
from gslm_keras.training import aux_heads, batch_norm, collapse, dev_selection, recipe
from gslm_keras.training import session
from gslm_keras.training import init_from as warm_start
from gslm_keras.training.config import TrainConfig


def _barrier(strategy):
  """A collective every worker must reach: all wait for the slowest."""
  strategy.reduce(tf.distribute.ReduceOp.SUM,
                  strategy.run(tf.function(lambda: tf.constant(1.0))), axis=None)


def _step_function(strategy, model, optimizer, loss_fn, global_batch: int,
                   class_weight: dict[int, float] | None = None):
  """One optimizer step over the next global batch. `loss_fn` gives one loss per
  example; with `class_weight` (class index -> weight, as Keras `fit` takes it)
  each example's loss is weighted by its class before averaging over the global
  batch, as `fit` does."""
  weights = None
  if class_weight:
    weights = tf.constant([class_weight[i] for i in range(len(class_weight))],
                          tf.float32)

  @tf.function
  def train_step(iterator):
    def step_fn(inputs, labels):
      with tf.GradientTape() as tape:
        predictions = model(inputs, training=True)
        per_example = loss_fn(labels, predictions)
        if weights is not None:
          index = tf.cast(tf.round(tf.reshape(labels, [-1])), tf.int32)
          per_example = per_example * tf.gather(weights, index)
        loss = tf.nn.compute_average_loss(per_example, global_batch_size=global_batch)
        scaled = optimizer.scale_loss(loss)
      gradients = tape.gradient(scaled, model.trainable_variables)
      optimizer.apply_gradients(zip(gradients, model.trainable_variables))
      return loss

    losses = strategy.run(step_fn, args=next(iterator))
    return strategy.reduce(tf.distribute.ReduceOp.SUM, losses, axis=None)

  return train_step


class _Summaries:
  """TensorBoard logs of the chief, where `fit`'s TensorBoard callback writes them
  (<model_dir>/logs/train and logs/validation, tags epoch_loss and
  epoch_<monitor>), one point per history entry."""

  def __init__(self, logs: str, selection):
    self.train = tf.summary.create_file_writer(os.path.join(logs, "train"))
    self.dev = tf.summary.create_file_writer(os.path.join(logs, "validation"))
    self.monitor = selection.monitor.removeprefix("val_") if selection else None

  def write(self, entry: dict) -> None:
    with self.train.as_default():
      tf.summary.scalar("epoch_loss", entry["loss"], step=entry["step"])
    self.train.flush()
    if entry.get("dev") is not None and self.monitor:
      with self.dev.as_default():
        tf.summary.scalar(f"epoch_{self.monitor}", entry["dev"], step=entry["step"])
      self.dev.flush()


def _run_steps(train_step, iterator, manager, start: int, plan, epoch_end=None,
               history_path: str | None = None, summaries: _Summaries | None = None,
               collapsed=None) -> list[dict] | None:
  """Steps `start` to the end, a step checkpoint per segment; the history, or None
  when `collapsed(step)`, asked at the end of the first epoch before anything of it
  is kept, says the run collapsed.

  `epoch_end(step)` runs after each epoch's last step and returns (dev value or
  None, stop); on stop the loop saves a checkpoint and ends. The chief passes
  `history_path`: the history is written there with each checkpoint, and a
  resumed run continues the entries up to its checkpoint; and `summaries`, which
  log each entry for TensorBoard.
  """
  history = []
  if history_path and start and os.path.exists(history_path):
    history = [h for h in read_json(history_path) if h["step"] <= start]
  losses, dev = [], {}
  for step in range(start, plan.total_steps):
    loss = float(train_step(iterator))
    if not np.isfinite(loss):
      raise session.TrainingError(
          f"training stopped: the loss became {loss} at step {step + 1}; lower "
          "--learning_rate or use --mixed_precision=float32")
    losses.append(loss)
    stop = False
    if collapsed is not None and step + 1 == plan.steps_per_epoch and collapsed(step + 1):
      return None
    if epoch_end is not None and (step + 1) % plan.steps_per_epoch == 0:
      value, stop = epoch_end(step + 1)
      dev = {"dev": value}
    # A checkpoint after each dev decision too, so that the selection state it holds
    # and the best model on disk agree.
    if (dev or stop or (step + 1) % plan.segment_steps == 0
        or step + 1 == plan.total_steps):
      history.append({"segment": (step + 1) // plan.segment_steps - 1,
                      "step": step + 1, "epoch": (step + 1) / plan.steps_per_epoch,
                      "loss": float(np.mean(losses)), **dev})
      if history_path:  # Before the checkpoint: a resumed run drops what is past it.
        write_json_atomic(history_path, history)
      if summaries is not None:
        summaries.write(history[-1])
      manager.save(checkpoint_number=step + 1)
      logging.info("step %d/%d: loss %.4f", step + 1, plan.total_steps,
                   history[-1]["loss"])
      losses, dev = [], {}
    if stop:
      logging.info("Early stopping after step %d", step + 1)
      break
  return history


def _selection(config: TrainConfig, info: DatasetInfo, strategy, model, run: RunDir,
               is_chief: bool):
  """(the shared selection state, the epoch-end function), or (None, None) without
  a dev split."""
  if "dev" not in info.splits:
    logging.warning("Dataset %s has no dev split: no model selection or early "
                    "stopping; the last model is kept", config.data.data_dir)
    return None, None
  monitor, mode = recipe.monitor_for(info.task, config.optim.monitor)
  selection = dev_selection.SharedDevSelection(monitor, mode,
                                               config.optim.early_stopping_patience)
  dev = session.train_datasets(config, info, config.data.batch_size)[1] if is_chief else None
  sample = batch_norm.run_sample(config, info) if is_chief else None

  def epoch_end(step: int):
    if sample is not None:  # The chief's alone: training never reads the statistics.
      batch_norm.recalibrate(model, sample)
    value = dev_selection.dev_value(model, dev, info.task, monitor) if is_chief else 0.0
    value = dev_selection.share(strategy, value)
    improved, stop = selection.update(value, step)
    if improved and is_chief:
      save_model(model, run.best_model)
    logging.info("step %d: dev %s %.4f%s", step, monitor, value,
                 " (best so far)" if improved else "")
    return value, stop

  return selection, epoch_end


def train_multi_worker(config: TrainConfig, info: DatasetInfo,
                       strategy: tf.distribute.Strategy, policy: str
                       ) -> session.TrainResult:
  """Trains on every worker of the cluster in TF_CONFIG; the chief writes the run
  and holds the model directory's lock."""
  resolver = strategy.cluster_resolver
  task_type, task_id = resolver.task_type, resolver.task_id
  is_chief = task_type == "chief" or (task_type == "worker" and task_id == 0)
  if not is_chief:
    return attempts(config, info, strategy, policy, RunDir(session.work_dir(config)),
                    False, f"{task_type}_{task_id}")
  with exclusive_output(config.model_dir, "model directory"):
    with session.prepared(config, lambda r: r.step_checkpoints) as (run, resumed):
      result = attempts(config, info, strategy, policy, run, resumed, None)
    session.finish_run(config, run)
  return result


def attempts(config: TrainConfig, info: DatasetInfo, strategy, policy: str,
             run: RunDir, resumed: bool, worker: str | None) -> session.TrainResult:
  """`_train` until an attempt does not collapse (at most `collapse.MAX_RESTARTS`
  restarts, as `fit`); every worker takes the same decisions (the chief's)."""
  restarts = session.read_restarts(run)
  while True:
    seed = collapse.attempt_seed(config.runtime, restarts)
    result, diagnosis = _train(config, info, strategy, policy, run, resumed, worker,
                               seed, restarts)
    if diagnosis is None:
      return result
    collapse.record_restart(restarts, seed, diagnosis)
    if worker is None:
      session.reset_run(run, restarts)
    resumed = False


def _model_and_optimizer(config: TrainConfig, info: DatasetInfo, strategy, policy: str,
                         plan, seed: int, restarts: list[dict]) -> tuple:
  """(model, its training model (itself, or with --aux_weight the model with its
  auxiliary heads), the training model's built optimizer, what was resolved:
  seed, restarts, architecture, the --init_from source)."""
  architecture = collapse.after_restarts(config.model, restarts)
  resolved = collapse.resolved(config.model, seed, restarts, architecture)
  with strategy.scope():
    model = session.build_for_dataset(config, info, policy, plan.replicas, architecture)
    if config.optim.init_from:  # Every worker reads the source: the same weights.
      resolved["init_from"] = warm_start.start(model, config.optim.init_from, info)
    trainer = aux_heads.training_model(model, info.task, config.optim.aux_weight,
                                       config.optim.isolate_branches)
    optimizer = recipe.make_optimizer(config.optim, plan, policy, trainer)  # Built.
  return model, trainer, optimizer, resolved


def _restored(model, optimizer, selection, run: RunDir, own_dir: str) -> tuple:
  """(the checkpoint manager writing `own_dir`, the step to start from): the state
  of the chief's latest step checkpoint, when there is one, restored."""
  parts = {"selection": selection} if selection is not None else {}
  checkpoint = tf.train.Checkpoint(model=model, optimizer=optimizer, **parts)
  manager = tf.train.CheckpointManager(checkpoint, own_dir, max_to_keep=1)
  latest = tf.train.latest_checkpoint(run.step_checkpoints)
  if latest:
    checkpoint.restore(latest)
  start = int(optimizer.iterations.numpy())
  if start:
    logging.info("Resuming after step %d from %s", start, latest)
  return manager, start


def _train(config: TrainConfig, info: DatasetInfo, strategy, policy: str, run: RunDir,
           resumed: bool, worker: str | None, seed: int, restarts: list[dict]
           ) -> tuple[session.TrainResult | None, dict | None]:
  """One attempt on one worker; `worker` names a non-chief worker (None: the
  chief). (the result, None), or (None, the diagnosis) when it collapsed."""
  is_chief = worker is None
  _barrier(strategy)
  plan = session.plan_for(config, info, strategy.num_replicas_in_sync)
  model, trainer, optimizer, resolved = _model_and_optimizer(
      config, info, strategy, policy, plan, seed, restarts)
  if is_chief:
    session.write_run_files(config, run, info, policy, plan, resolved)
  selection, epoch_end = _selection(config, info, strategy, model, run, is_chief)
  own_dir = run.step_checkpoints if is_chief else run.join("workers", worker)
  manager, start = _restored(trainer, optimizer, selection, run, own_dir)

  def dataset_fn(context: tf.distribute.InputContext):
    batch = context.get_per_replica_batch_size(config.data.batch_size)
    train, _ = session.train_datasets(
        config, info, batch, skip_batches=start, drop_remainder=True,
        shard=(context.num_input_pipelines, context.input_pipeline_id), seed=seed)
    return train

  iterator = iter(strategy.distribute_datasets_from_function(dataset_fn))
  class_weight = recipe.dataset_class_weights(config.optim.class_weights, info)
  loss_fn = task_type(info.task).loss(reduction=None)
  if trainer is not model:  # The main loss and the auxiliary heads' (aux_heads.py).
    loss_fn = functools.partial(trainer.per_example_loss, loss_fn)
  train_step = _step_function(strategy, trainer, optimizer, loss_fn,
                              config.data.batch_size, class_weight)
  summaries = _Summaries(run.logs, selection) if is_chief else None
  check = _collapse_check(config, info, strategy, model, start, plan, restarts, is_chief)
  history = _run_steps(train_step, iterator, manager, start, plan, epoch_end,
                       run.history if is_chief else None, summaries,
                       check.collapsed if check else None)
  _barrier(strategy)
  if history is None:
    if not is_chief:
      shutil.rmtree(own_dir, ignore_errors=True)
    return None, check.diagnosis
  steps = int(optimizer.iterations.numpy())
  best = selection.state() if selection is not None else {}
  if best.get("best_step", -1) >= 0 and os.path.exists(run.best_model):
    # Every worker ends with the chosen weights (the chief saved them).
    model.set_weights(session.kept_model(run, model, compile=False).get_weights())
  _barrier(strategy)
  fingerprint = session.weights_fingerprint(model)
  stopped = steps < plan.total_steps
  if not is_chief:
    shutil.rmtree(own_dir, ignore_errors=True)
    # Resumed: from the chief's checkpoint (a non-chief has no run of its own).
    return session.TrainResult(config.model_dir, steps, best, {}, stopped, start > 0,
                               fingerprint, list(restarts)), None
  write_json_atomic(run.history, history)
  sample = batch_norm.run_sample(config, info) if selection is None else None
  if sample is not None:  # No dev evaluation recalibrated it.
    batch_norm.recalibrate(model, sample)
  save_model(model, run.model)
  metrics = session.finish(config, run, info, steps)
  return session.TrainResult(config.model_dir, steps, best, metrics, stopped, resumed,
                             fingerprint, list(restarts)), None


def non_chief_diagnosis(step: int) -> dict:
  """What a worker that is not the chief records of a collapse: the verdict; the
  numbers (None here) are the chief's."""
  return {"collapsed": True, "step": step, "dead_fusion_units": None,
          "fusion_units": None, "output_spread": None, "dev_at_chance": None}


class _CollapseCheck:
  """The collapse check at the end of the first epoch: the chief diagnoses the model
  (collapse.diagnose, as `fit`'s guard), every worker gets its verdict."""

  def __init__(self, strategy, model, batches, task: str):
    self.strategy, self.model, self.batches, self.task = strategy, model, batches, task
    self.diagnosis = None

  def collapsed(self, step: int) -> bool:
    diagnosis = (collapse.diagnose(self.model, self.batches, self.task)
                 if self.batches is not None else None)
    verdict = dev_selection.share(
        self.strategy, 1.0 if diagnosis and diagnosis["collapsed"] else 0.0) > 0.5
    if verdict:
      # A non-chief knows the verdict, not the numbers.
      self.diagnosis = diagnosis or non_chief_diagnosis(step)
    return verdict


def _collapse_check(config, info, strategy, model, start: int, plan, restarts,
                    is_chief: bool) -> _CollapseCheck | None:
  """The check for this attempt, or None past the first epoch or the last restart
  (a run that collapses every time is kept, with a warning, as in `fit`)."""
  if start >= plan.steps_per_epoch:
    return None
  if len(restarts) >= collapse.MAX_RESTARTS:
    logging.warning("The run collapsed %d times; this attempt is kept whatever it "
                    "learns (is there signal in the labels?)", len(restarts))
    return None
  batches = collapse.probe_batches(config.data.data_dir, info) if is_chief else None
  return _CollapseCheck(strategy, model, batches, info.task)
