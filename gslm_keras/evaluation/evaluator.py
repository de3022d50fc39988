"""Evaluates a trained model on a dataset split: metrics JSON, predictions, plots."""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from gslm_keras.data.dataset_info import CLASS_TASKS, DatasetInfo
from gslm_keras.errors import DatasetError, GslmError
from gslm_keras.evaluation import metrics as metrics_lib
from gslm_keras.evaluation import plots
from gslm_keras.inference import outputs
from gslm_keras.inference.model import LoadedModel
from gslm_keras.io.files import read_json, write_json_atomic
from gslm_keras.io.outputs import exclusive_output
from gslm_keras.io.tables import TableWriter
from gslm_keras.run_dir import RunDir, data_dir_of


class TrainingDiverged(GslmError):
  """The model's outputs are not finite."""


def predict_split(model: LoadedModel, data_dir: str, split: str, batch_size: int = 256):
  """(ids, labels, model outputs as columns) of a split, in manifest order."""
  from gslm_keras.data.pipeline import make_dataset

  dataset = make_dataset(data_dir, split, "eval", batch_size, with_ids=True)
  ids, labels, predictions = [], [], []
  for inputs, label, batch_ids in dataset:
    predictions.append(model.predict_inputs(inputs["sequence"], inputs["features"]))
    labels.append(label.numpy())
    ids.extend(i.decode() for i in batch_ids.numpy())
  return ids, np.concatenate(labels), np.concatenate(predictions)


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
  if info.task in ("binary", "multiclass", "multilabel"):
    plots.roc_pr_curves(labels, model_output, names, info.task,
                        os.path.join(run.plots, split))
  if info.task == "multiclass":
    plots.confusion_matrix(result["confusion_matrix"], names,
                           os.path.join(run.plots, f"{split}_confusion.png"))
  if info.task == "regression":
    plots.regression_scatter(labels, model_output, names,
                             os.path.join(run.plots, f"{split}_scatter.png"))
  if os.path.exists(run.history):
    plots.training_curves(read_json(run.history),
                          os.path.join(run.plots, "training_curves.png"))


def evaluate_model(model_dir: str, data_dir: str | None = None, split: str = "test",
                   batch_size: int = 256, model: LoadedModel | None = None
                   ) -> dict[str, Any]:
  """Evaluates `model_dir`'s model on a split and writes what it found.

  Writes `<model_dir>/metrics/<split>.json`, `<model_dir>/predictions/<split>.tsv`
  and plots in `<model_dir>/plots/` (ROC and PR curves or a confusion matrix or a
  scatter plot; training curves from the history).

  Args:
    model_dir: a directory written by `train`.
    data_dir: the dataset; the one the model was trained on when None.
    split: split to evaluate.
    batch_size: prediction batch size.
    model: the run's already loaded model (skips loading `model.keras`).

  Returns:
    The metrics dict (see `gslm_keras.evaluation.metrics.compute_metrics`).
  """
  run = RunDir(model_dir)
  if not os.path.exists(run.config):
    raise DatasetError(f"{model_dir} has no config.json: not a model directory "
                       "written by python -m gslm_keras.train")
  data_dir = data_dir or data_dir_of(read_json(run.config))
  info = DatasetInfo.load(data_dir, splits=[split])
  if model is None:
    if not os.path.exists(run.model):
      raise DatasetError(f"{model_dir} has no model.keras: training did not finish")
    model = LoadedModel(model_dir)
  model.check_dataset(info)
  ids, labels, columns = predict_split(model, data_dir, split, batch_size)
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
  result.update({"split": split, "data_dir": os.path.abspath(data_dir)})
  write_json_atomic(run.metrics(split), result)
  _write_predictions(run.predictions(split), ids, labels, columns, info, model.columns)
  _plots(run, split, info, labels, model_output, result, names)
  return result


def evaluate(model_dir: str, data_dir: str | None = None, split: str = "test",
             batch_size: int = 256) -> dict[str, Any]:
  """`evaluate_model` holding the model directory's lock: a training run or
  another evaluation writing into it makes this fail at once, naming it."""
  with exclusive_output(model_dir, "model directory"):
    return evaluate_model(model_dir, data_dir, split, batch_size)
