"""Evaluates a trained model on a dataset split: metrics JSON, predictions, plots."""

from __future__ import annotations

import hashlib
import os
from typing import Any

import numpy as np
from absl import logging

from gslm_keras.data.dataset_info import CLASS_TASKS, DatasetInfo
from gslm_keras.errors import DatasetError, GslmError
from gslm_keras.evaluation import metrics as metrics_lib
from gslm_keras.evaluation import plots
from gslm_keras.features import shift
from gslm_keras.inference import outputs
from gslm_keras.inference.model import LoadedModel
from gslm_keras.io.files import read_json, write_json_atomic
from gslm_keras.io.outputs import exclusive_output
from gslm_keras.io.tables import TableWriter
from gslm_keras.run_dir import RunDir, data_dir_of


class TrainingDiverged(GslmError):
  """The model's outputs are not finite."""


def predict_split(model: LoadedModel, info: DatasetInfo, split: str,
                  batch_size: int = 256, rc_average: bool = False):
  """(ids, labels, model outputs as columns, features) of a split, in manifest
  order; with `rc_average` each output is the mean of the window's and its reverse
  complement's (features computed on each strand, as in training with
  reverse-complement augmentation and in `predict --rc_average`); the features
  returned are the forward strand's."""
  from gslm_keras.data.pipeline import make_dataset
  from gslm_keras.io.progress import Progress

  forward = make_dataset(info.directory, split, "eval", batch_size, with_ids=True)
  if rc_average:
    batches = zip(forward, make_dataset(info.directory, split, "eval", batch_size,
                                        reverse_strand=True, verify="none"))
  else:
    batches = ((batch, None) for batch in forward)
  meter = Progress(f"records of {split} predicted", total=info.num_records(split))
  ids, labels, predictions, features = [], [], [], []
  for (inputs, label, batch_ids), other in batches:
    columns = model.predict_inputs(inputs["sequence"], inputs["features"])
    if other is not None:
      columns = (columns + model.predict_inputs(other[0]["sequence"],
                                                other[0]["features"])) / 2.0
    predictions.append(columns)
    labels.append(label.numpy())
    features.append(inputs["features"].numpy())
    ids.extend(i.decode() for i in batch_ids.numpy())
    meter.update(len(ids))
  return ids, np.concatenate(labels), np.concatenate(predictions), np.concatenate(features)


def _write_predictions(path: str, ids, labels, columns: np.ndarray, info: DatasetInfo,
                       names: list[str]):
  classes = info.task in CLASS_TASKS
  width = 1 if classes else np.asarray(labels).reshape(len(ids), -1).shape[1]
  label_columns = ["label"] if classes else [f"label_{i}" for i in range(width)]
  predicted = outputs.predicted_classes(info, columns)
  header = ["id", *label_columns, *names] + (["predicted_class"] if classes else [])
  with TableWriter(path, header) as writer:
    rows = []
    for i, record_id in enumerate(ids):
      truth = ([info.classes[int(labels[i])]] if classes
               else [f"{v:g}" for v in np.atleast_1d(labels[i])])
      row = {"id": record_id, **dict(zip(label_columns, truth)),
             **dict(zip(names, map(float, columns[i])))}
      if predicted is not None:
        row["predicted_class"] = predicted[i]
      rows.append(row)
    writer.write(rows)


def _plots(run: RunDir, split: str, info: DatasetInfo, labels, model_output,
           result: dict, names: list[str]):
  about = f"{split} split of {os.path.basename(os.path.realpath(info.directory))}"
  if info.task in ("binary", "multiclass", "multilabel"):
    plots.roc_pr_curves(labels, model_output, names, info.task,
                        os.path.join(run.plots, split), about)
  if info.task in ("binary", "multiclass"):
    threshold = " (threshold 0.5)" if info.task == "binary" else ""
    plots.confusion_matrix(result["confusion_matrix"], names,
                           os.path.join(run.plots, f"{split}_confusion.png"),
                           about + threshold)
  if info.task == "regression":
    plots.regression_scatter(labels, model_output, names,
                             os.path.join(run.plots, f"{split}_scatter.png"), about)
  if os.path.exists(run.history):
    best = read_json(run.monitor_state) if os.path.exists(run.monitor_state) else None
    plots.training_curves(read_json(run.history),
                          os.path.join(run.plots, "training_curves.png"), best)


def _same_dataset(run: RunDir, info: DatasetInfo) -> bool:
  """Whether `info` is the dataset the run was trained on (its manifest's copy)."""
  return os.path.exists(run.manifest) and read_json(run.manifest) == info.data


def results_dir(run: RunDir, data_dir: str) -> RunDir:
  """Where results for another dataset go: `<model_dir>/evaluations/<name>/`,
  named for the dataset's directory (with a hash of its path when another
  dataset of the same name was evaluated before)."""
  path = os.path.realpath(data_dir)
  name = os.path.basename(path.rstrip(os.sep)) or "dataset"
  target = RunDir(run.join("evaluations", name))
  source = target.join("dataset.json")
  if os.path.exists(source) and read_json(source).get("data_dir") != path:
    digest = hashlib.sha256(path.encode()).hexdigest()[:8]
    target = RunDir(run.join("evaluations", f"{name}-{digest}"))
  return target


def output_dir(model_dir: str, data_dir: str | None) -> str:
  """The directory `evaluate_model` writes for this dataset: the model directory
  for the run's own dataset, else `evaluations/<name>/` in it."""
  run = RunDir(model_dir)
  if data_dir is None:
    return run.path
  return _destination(run, DatasetInfo.load(data_dir, verify="none"), data_dir).path


def _destination(run: RunDir, info: DatasetInfo, data_dir: str) -> RunDir:
  """The run itself for its own dataset, else its `evaluations/<name>/`."""
  return run if _same_dataset(run, info) else results_dir(run, data_dir)


def _canonical(sequence: str) -> bytes:
  """One 64-bit hash for a sequence and its reverse complement."""
  from gslm_keras.dna.alphabet import reverse_complement

  upper = sequence.upper()
  return hashlib.blake2b(min(upper, reverse_complement(upper)).encode(),
                         digest_size=8).digest()


def training_overlap(run_config: dict, info: DatasetInfo, split: str) -> dict[str, Any]:
  """How many of a split's sequences the model was trained (train) or selected
  (dev) on: exact matches on either strand, against the run's own dataset."""
  from gslm_keras.data.pipeline import split_sequences

  trained_dir = data_dir_of(run_config)
  report: dict[str, Any] = {"method": "exact sequence, either strand",
                            "training_data_dir": trained_dir}
  try:
    trained = DatasetInfo.load(trained_dir, verify="none")
  except (GslmError, OSError, TypeError):
    report["unknown"] = (f"the training dataset {trained_dir} cannot be read; overlap "
                         "not checked")
    return report
  evaluated = [_canonical(s) for s in split_sequences(info, split)]
  report["records"] = len(evaluated)
  for part in ("train", "dev"):
    if part not in trained.splits:
      continue
    seen = {_canonical(s) for s in split_sequences(trained, part)}
    shared = sum(h in seen for h in evaluated)
    report[f"shared_with_{part}"] = shared
    report[f"fraction_shared_with_{part}"] = shared / max(len(evaluated), 1)
  return report


def evaluate_model(model_dir: str, data_dir: str | None = None, split: str = "test",
                   batch_size: int = 256, model: LoadedModel | None = None,
                   rc_average: bool = False) -> dict[str, Any]:
  """Evaluates `model_dir`'s model on a split and writes what it found.

  On the run's own dataset: `<model_dir>/metrics/<split>.json`,
  `<model_dir>/predictions/<split>.tsv` and plots in `<model_dir>/plots/` (ROC
  and PR curves and a confusion matrix, or a scatter plot; training curves from
  the history). On another dataset the same files go to
  `<model_dir>/evaluations/<dataset name>/`, never over the run's own, and the
  metrics say how many of the split's sequences the model was trained on
  (`overlap_with_training`; also logged).

  Args:
    model_dir: a directory written by `train`.
    data_dir: the dataset; the one the model was trained on when None.
    split: split to evaluate.
    batch_size: prediction batch size.
    model: the run's already loaded model (skips loading `model.keras`).
    rc_average: each prediction the mean of the window's and its reverse
      complement's (`predict_split`); the metrics say so (`strands`).

  Returns:
    The metrics dict (see `gslm_keras.evaluation.metrics.compute_metrics`); where
    it was written: `output_dir(model_dir, data_dir)`.
  """
  run = RunDir(model_dir)
  if not os.path.exists(run.config):
    raise DatasetError(f"{model_dir} has no config.json: not a model directory "
                       "written by python -m gslm_keras.train")
  run_config = read_json(run.config)
  data_dir = data_dir or data_dir_of(run_config)
  info = DatasetInfo.load(data_dir, splits=[split])
  if model is None:
    if not os.path.exists(run.model):
      raise DatasetError(f"{model_dir} has no model.keras: training did not finish")
    model = LoadedModel(model_dir)
  model.check_dataset(info)
  out = _destination(run, info, data_dir)
  own = out == run
  if not own:
    os.makedirs(out.path, exist_ok=True)
    write_json_atomic(out.join("dataset.json"), {"data_dir": os.path.realpath(data_dir)})
  ids, labels, columns, features = predict_split(model, info, split, batch_size,
                                                 rc_average)
  bad = ~np.isfinite(columns).all(axis=1)
  if bad.any():
    raise TrainingDiverged(
        f"the model outputs NaN or inf for {int(bad.sum())} of {len(bad)} records of "
        f"split {split!r} (first: {ids[int(np.argmax(bad))]}): training diverged; "
        "lower --learning_rate")
  # Metrics and curves take the model's own output (binary: the positive class).
  model_output = columns[:, 1:] if info.task == "binary" else columns
  names = info.classes or info.label_columns
  result = metrics_lib.compute_metrics(info.task, labels, model_output, names)
  result.update({"split": split, "data_dir": os.path.abspath(data_dir),
                 "strands": "both, averaged" if rc_average else "forward"})
  if not own:
    result["overlap_with_training"] = overlap = training_overlap(run_config, info, split)
    _log_overlap(overlap, data_dir, split)
    if info.n_features:
      trained_on = DatasetInfo(read_json(run.manifest))
      mean, std = trained_on.normalization()
      result["feature_shift"] = report = shift.feature_shift(
          trained_on.feature_names, mean, std, features)
      shift.log_shift(report, f"split {split!r} of {data_dir}")
  write_json_atomic(out.metrics(split), result)
  _write_predictions(out.predictions(split), ids, labels, columns, info, model.columns)
  _plots(out, split, info, labels, model_output, result, names)
  return result


def _log_overlap(overlap: dict, data_dir: str, split: str) -> None:
  if "unknown" in overlap:
    logging.warning("%s", overlap["unknown"])
    return
  shared = {k: v for k, v in overlap.items() if k.startswith("shared_with_") and v}
  if shared:
    logging.warning(
        "%s of the %d sequences of split %r of %s were seen in training (%s): metrics "
        "on them are inflated", " and ".join(f"{v} ({k[12:]})" for k, v in shared.items()),
        overlap["records"], split, data_dir, "exact sequence, either strand")
  else:
    logging.info("No sequence of split %r of %s is in the model's training or dev "
                 "split", split, data_dir)


def evaluate(model_dir: str, data_dir: str | None = None, split: str = "test",
             batch_size: int = 256, rc_average: bool = False) -> dict[str, Any]:
  """`evaluate_model` holding the model directory's lock: a training run or
  another evaluation writing into it makes this fail at once, naming it."""
  with exclusive_output(model_dir, "model directory"):
    return evaluate_model(model_dir, data_dir, split, batch_size, rc_average=rc_average)
