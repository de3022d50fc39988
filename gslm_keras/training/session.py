"""What the fit path and the multi-worker loop share: the model directory, the
run's files, the datasets, the model, and the result."""

from __future__ import annotations

import contextlib
import dataclasses
import os
import shutil
from typing import Any, Callable

import numpy as np
from absl import logging

from gslm_keras import run_dir
from gslm_keras.data.dataset_info import DatasetInfo
from gslm_keras.errors import ConfigError, DatasetError, GslmError
from gslm_keras.io.files import (read_json, refuse_link, write_json_atomic,
                                 write_text_atomic)
from gslm_keras.io.outputs import apply_umask, hidden_name, swap_into_place
from gslm_keras.run_dir import Resolved, RunDir
from gslm_keras.training import card
from gslm_keras.training.config import TrainConfig
from gslm_keras.training.plan import Plan, make_plan


class TrainingError(GslmError):
  """Training could not go on (for example a non-finite loss)."""


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
    restarts: collapses that restarted the run from a new seed (see collapse.py).
  """

  model_dir: str
  steps: int
  best: dict[str, Any]
  metrics: dict[str, dict[str, Any]]
  stopped_early: bool
  resumed: bool
  weights_fingerprint: str = ""
  restarts: list[dict] = dataclasses.field(default_factory=list)


def load_dataset(config: TrainConfig) -> DatasetInfo:
  info = DatasetInfo.load(config.data.data_dir)
  if info.is_corpus:
    raise DatasetError(
        f"{config.data.data_dir} is a language-model corpus (unlabelled); pretrain on "
        "it with python -m gslm_keras.pretrain, or train on a labelled dataset")
  if "train" not in info.splits:
    raise DatasetError(f"dataset {config.data.data_dir} has no train split")
  return info


def plan_for(config: TrainConfig, info: DatasetInfo, replicas: int) -> Plan:
  return make_plan(info.num_records("train"), config.data.batch_size,
                   config.optim.epochs, replicas, config.optim.steps_per_epoch,
                   config.runtime.checkpoint_every)


def work_dir(config: TrainConfig) -> str:
  """Where the run is written: model_dir itself, or, when a finished run there is
  being replaced (--overwrite), a directory beside it that takes its place only
  when complete (a failed or killed overwrite leaves the old run whole, and
  starting it again resumes it)."""
  if config.overwrite and os.path.exists(RunDir(config.model_dir).model):
    return hidden_name(config.model_dir, "next")
  return config.model_dir


def _with_defaults(config: TrainConfig, previous: dict) -> dict:
  """The parts of a recorded config, with the defaults of fields it predates (a
  run killed under an older version resumes when the new fields keep them), less
  the fields its kind of run does not use (older versions recorded them)."""
  import json

  out = {}
  for part, kind in config.PARTS.items():
    recorded = previous.get(part)
    if recorded is None:
      continue
    unused = config.UNUSED.get(part, ())
    defaults = {f.name: json.loads(json.dumps(f.default))
                for f in dataclasses.fields(kind) if f.default is not dataclasses.MISSING}
    out[part] = {k: v for k, v in {**defaults, **recorded}.items() if k not in unused}
  return out


def _check_resumable(config: TrainConfig, run: RunDir) -> None:
  previous = _with_defaults(config, read_json(run.config))
  ours = config.identity()
  if {part: previous.get(part) for part in ours} != ours:
    missing = object()
    changed = sorted(
        f"{part}.{key}" for part in ours
        for key in set(ours[part]) | set(previous.get(part) or {})
        if (previous.get(part) or {}).get(key, missing) != ours[part].get(key, missing))
    raise ConfigError(
        f"{config.model_dir} holds an unfinished run with another configuration "
        f"(differs in {', '.join(changed)}); resume it with the same flags, or use "
        "another --model_dir")


def prepare_run(config: TrainConfig, resume_dir: Callable[[RunDir], str]
                ) -> tuple[RunDir, bool]:
  """The run directory to write, and whether a killed run there is resumed.

  Args:
    config: the run's configuration.
    resume_dir: the directory of a run directory whose content means an
      unfinished run (the fit backup, or the multi-worker step checkpoints).
  """
  run = RunDir(work_dir(config))
  if run.path != config.model_dir:  # A name of ours beside the output: never a link.
    refuse_link(run.path, "an overwriting run")
  backup = resume_dir(run)
  if os.path.isdir(backup) and os.listdir(backup) and os.path.exists(run.config):
    _check_resumable(config, run)
    logging.info("Resuming the unfinished run in %s", run.path)
    return run, True
  if run.path == config.model_dir and os.path.exists(run.model):
    raise ConfigError(f"{config.model_dir} already holds a trained model; pass "
                      "--overwrite to train again there, or choose another --model_dir")
  if os.path.isdir(run.path):
    _clear(run)  # What an unfinished run left before its first backup.
  os.makedirs(run.checkpoints, exist_ok=True)
  apply_umask(run.path)
  return run, False


@contextlib.contextmanager
def prepared(config: TrainConfig, resume_dir: Callable[[RunDir], str]):
  """`prepare_run` as a context: (run, resumed). A run refused before its first
  backup (a bad --init_from, a dataset that does not fit) leaves nothing behind:
  what it wrote is removed, and its folder too when this run made it."""
  made = not os.path.lexists(work_dir(config))
  run, resumed = prepare_run(config, resume_dir)
  try:
    yield run, resumed
  except GslmError:
    backup = resume_dir(run)
    if not (os.path.isdir(backup) and os.listdir(backup)):
      _clear(run)
      if made and not os.listdir(run.path):
        os.rmdir(run.path)
    raise


def read_restarts(run: RunDir) -> list[dict]:
  """The collapses that restarted this run so far (see `collapse.py`)."""
  return read_json(run.restarts) if os.path.exists(run.restarts) else []


def _clear(run: RunDir) -> None:
  for name in run_dir.RUN_ENTRIES:
    path = run.join(name)
    if os.path.isdir(path) and not os.path.islink(path):
      shutil.rmtree(path)
    elif os.path.lexists(path):
      os.remove(path)  # A link goes, what it points to stays.


def kept_model(run: RunDir, model, compile: bool = True):  # noqa: A002  Keras' name.
  """The model the dev monitor kept (`best.keras`), or `model` when there is none."""
  if not os.path.exists(run.best_model):
    return model
  from gslm_keras.io.model_files import load_model

  return load_model(run.best_model, f"remove {run.checkpoints} and run the same "
                    "command again", compile=compile)


def reset_run(run: RunDir, restarts: list[dict]) -> None:
  """Clears a collapsed attempt for a restart, and records the restarts."""
  _clear(run)
  os.makedirs(run.checkpoints, exist_ok=True)
  write_json_atomic(run.restarts, restarts)


def finish_run(config: TrainConfig, run: RunDir) -> None:
  """Puts a run written beside model_dir (an overwrite) in its place."""
  if run.path != config.model_dir:
    swap_into_place(run.path, config.model_dir)


def to_flagfile(config: TrainConfig) -> str:
  """A flagfile that re-runs this training (`python -m gslm_keras.train`, or the
  program of the config's kind)."""

  def line(key, value):
    if isinstance(value, bool):
      return f"--{key}" if value else f"--no{key}"
    if isinstance(value, (tuple, list)):
      value = ",".join(str(v) for v in value)
    return f"--{key}={value}"

  data = config.to_json()
  lines = [f"# Written by {config.PROGRAM}; re-run with",
           f"# python -m {config.PROGRAM} --flagfile={RunDir(config.model_dir).flagfile}"]
  for key, value in data.items():
    if key in config.PARTS:
      unused = config.UNUSED.get(key, ())
      lines += [line(k, v) for k, v in value.items()
                if v is not None and k not in unused]
    elif value is not None:
      lines.append(line(key, value))
  return "\n".join(lines) + "\n"


def write_run_files(config: TrainConfig, run: RunDir, info: DatasetInfo, policy: str,
                    plan: Plan, resolved: dict | None = None):
  """config.json (with what was resolved: `run_dir.Resolved`'s fields beside
  precision and plan), train.flags and dataset_info.json."""
  data = config.to_json()
  data["resolved"] = Resolved(precision=policy, plan=dataclasses.asdict(plan),
                              **(resolved or {})).to_json()
  write_json_atomic(run.config, data)
  write_text_atomic(run.flagfile, to_flagfile(config))
  write_json_atomic(run.manifest, info.to_json())


def train_datasets(config: TrainConfig, info: DatasetInfo, batch_size: int,
                   skip_batches: int = 0, shard=None, drop_remainder: bool = False,
                   seed: int | None = None):
  """(train stream, dev dataset or None), labels shaped for the model's head.

  `seed` (the run's seed when None) orders and augments the stream.
  """
  import tensorflow as tf

  from gslm_keras.data.pipeline import make_dataset

  def shape_labels(inputs, label):
    if info.task == "binary":
      label = tf.cast(label, tf.float32)[:, None]
    return inputs, label

  data = config.data
  train = make_dataset(
      data.data_dir, "train", "train", batch_size,
      reverse_complement=data.reverse_complement, max_shift=data.max_shift,
      drop_remainder=drop_remainder,
      seed=config.runtime.seed if seed is None else seed, repeat=True,
      skip_batches=skip_batches, shard=shard).map(shape_labels)
  dev = None
  if "dev" in info.splits:
    dev = make_dataset(data.data_dir, "dev", "eval", batch_size,
                       drop_remainder=drop_remainder).map(shape_labels)
  return train, dev


def build_for_dataset(config: TrainConfig, info: DatasetInfo, policy: str,
                      replicas: int = 1, architecture=None):
  """The model for the dataset: window length, features, head and statistics.

  `architecture` replaces `config.model` (after a collapse, see collapse.py).
  """
  from gslm_keras.models import build_model
  from gslm_keras.tasks.supervised import task_type

  mean, std = info.normalization()
  width = task_type(info.task).output_width(len(info.classes), info.label_width)
  return build_model(
      architecture or config.model, length=info.length_rule.length, n_features=info.n_features,
      task=info.task, n_outputs=width,
      feature_mean=mean, feature_std=std, dtype=policy,
      synchronized_batch_norm=replicas > 1)


def weights_fingerprint(model) -> str:
  """sha256 over every weight's bytes, in order: equal only for equal weights."""
  import hashlib

  digest = hashlib.sha256()
  for weight in model.weights:
    digest.update(np.ascontiguousarray(weight.numpy()).tobytes())
  return digest.hexdigest()


def evaluate_splits(config: TrainConfig, run: RunDir, info: DatasetInfo
                    ) -> dict[str, dict]:
  """Evaluates the run's saved model on each of `config.evaluate_splits`."""
  from gslm_keras.evaluation.evaluator import evaluate_model
  from gslm_keras.inference.model import LoadedModel

  model = LoadedModel(run.path)
  return {split: evaluate_model(run.path, config.data.data_dir, split, model=model)
          for split in config.evaluate_splits if split in info.splits}


def finish(config: TrainConfig, run: RunDir, info: DatasetInfo, steps: int
           ) -> dict[str, dict]:
  """What every trained model ends with: its saved model evaluated on each of
  `config.evaluate_splits`, then its model card, then its backups removed.
  Returns the metrics per split."""
  metrics = evaluate_splits(config, run, info)
  write_text_atomic(run.join(card.MODEL_CARD), card.model_card(run, steps))
  complete(run)
  return metrics


def complete(run: RunDir) -> None:
  """Removes the run's backups once its last file is in place: until then the
  same command resumes the run (a kill or a full disk while the model, metrics
  or card were written leaves a run that is not taken for finished)."""
  for backup in (run.backup, run.step_checkpoints):
    shutil.rmtree(backup, ignore_errors=True)
