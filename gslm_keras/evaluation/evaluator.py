"""Evaluates a trained model on a dataset split: metrics JSON, predictions, plots."""

from __future__ import annotations

import csv
import json
import os
from typing import Any

import numpy as np

from gslm_keras.data.manifest import CLASS_TASKS, DatasetInfo, write_json_atomic
from gslm_keras.errors import ConfigError, DatasetError, GslmError
from gslm_keras.evaluation import metrics as metrics_lib
from gslm_keras.evaluation import plots

MODEL_FILE = "model.keras"


class TrainingDiverged(GslmError):
  """The model's outputs are not finite."""


def check_model_fits(model, info: DatasetInfo, trained_on: DatasetInfo | None = None):
  """Refuses a dataset whose windows, features or labels the model cannot take."""
  inputs = model.input
  length = inputs["sequence"].shape[1]
  n_features = inputs["features"].shape[1]
  where = info.directory
  if length != info.length_rule.length:
    raise ConfigError(
        f"the model reads {length} bp windows, dataset {where} makes "
        f"{info.length_rule.length} bp windows")
  if n_features != info.n_features:
    raise ConfigError(
        f"the model takes {n_features} features, dataset {where} has {info.n_features}")
  width = model.output.shape[-1]
  expected = 1 if info.task == "binary" else (len(info.classes) if info.classes
                                             else info.label_width)
  if width != expected:
    raise ConfigError(
        f"the model has {width} outputs, dataset {where} needs {expected} "
        f"({info.task}{', classes ' + ', '.join(info.classes) if info.classes else ''})")
  if trained_on is not None:
    for what in ("feature_names", "classes"):
      ours, theirs = getattr(trained_on, what), getattr(info, what)
      if ours != theirs:
        raise ConfigError(
            f"dataset {where} has {what} {theirs}, the model was trained with {ours}")


def predict_split(model, data_dir: str, split: str, batch_size: int = 256):
  """(ids, labels, predictions) of a split, in manifest order."""
  from gslm_keras import make_dataset

  dataset = make_dataset(data_dir, split, "eval", batch_size, normalize=False,
                         with_ids=True)
  ids, labels, predictions = [], [], []
  for inputs, label, batch_ids in dataset:
    predictions.append(np.asarray(model(inputs, training=False)))
    labels.append(label.numpy())
    ids.extend(i.decode() for i in batch_ids.numpy())
  return ids, np.concatenate(labels), np.concatenate(predictions)


def _write_predictions(path, ids, labels, predictions, info):
  os.makedirs(os.path.dirname(path), exist_ok=True)
  if info.task == "binary":
    columns = [f"prob_{info.classes[1]}"]
  elif info.task in ("multiclass", "multilabel"):
    columns = [f"prob_{name}" for name in info.classes]
  else:
    columns = [f"pred_{name}" for name in info.data["task"]["label_columns"]]
  tmp = path + ".tmp"
  with open(tmp, "w", newline="") as handle:
    writer = csv.writer(handle, delimiter="\t", lineterminator="\n")
    label_columns = ["label"] if info.task in CLASS_TASKS else [
        f"label_{i}" for i in range(predictions.shape[1])]
    writer.writerow(["id", *label_columns, *columns])
    for record_id, label, row in zip(ids, labels, predictions):
      truth = ([info.classes[int(label)]] if info.task in CLASS_TASKS
               else [f"{v:g}" for v in np.atleast_1d(label)])
      writer.writerow([record_id, *truth, *(f"{v:.6g}" for v in row)])
  os.replace(tmp, path)


def evaluate_model(model_dir: str, data_dir: str | None = None, split: str = "test",
                   batch_size: int = 256, model=None) -> dict[str, Any]:
  """Evaluates `model_dir`'s model on a split and writes what it found.

  Writes `<model_dir>/metrics/<split>.json`, `<model_dir>/predictions/<split>.tsv`
  and plots in `<model_dir>/plots/` (ROC and PR curves or a confusion matrix or a
  scatter plot; training curves from the history).

  Args:
    model_dir: a directory written by `train`.
    data_dir: the dataset; the one the model was trained on when None.
    split: split to evaluate.
    batch_size: prediction batch size.
    model: an already loaded model (skips loading `model.keras`).

  Returns:
    The metrics dict (see `gslm_keras.evaluation.metrics.compute_metrics`).
  """
  import keras

  import gslm_keras.models.layers  # noqa: F401  Registers the custom layers.

  config_path = os.path.join(model_dir, "config.json")
  if not os.path.exists(config_path):
    raise DatasetError(f"{model_dir} has no config.json: not a model directory "
                       "written by python -m gslm_keras.train")
  with open(config_path, encoding="utf-8") as handle:
    config = json.load(handle)
  data_dir = data_dir or config["data_dir"]
  info = DatasetInfo.load(data_dir, splits=[split])
  with open(os.path.join(model_dir, "dataset_info.json"), encoding="utf-8") as handle:
    trained_on = DatasetInfo(json.load(handle), model_dir)
  if model is None:
    path = os.path.join(model_dir, MODEL_FILE)
    if not os.path.exists(path):
      raise DatasetError(f"{model_dir} has no {MODEL_FILE}: training did not finish")
    model = keras.models.load_model(path)
  check_model_fits(model, info, trained_on)
  ids, labels, predictions = predict_split(model, data_dir, split, batch_size)
  bad = ~np.isfinite(predictions).all(axis=1)
  if bad.any():
    raise TrainingDiverged(
        f"the model outputs NaN or inf for {int(bad.sum())} of {len(bad)} records of "
        f"split {split!r} (first: {ids[int(np.argmax(bad))]}): training diverged; "
        "lower --learning_rate")
  names = info.classes or info.data["task"]["label_columns"]
  result = metrics_lib.compute_metrics(info.task, labels, predictions, names)
  result.update({"split": split, "data_dir": os.path.abspath(data_dir)})
  write_json_atomic(os.path.join(model_dir, "metrics", f"{split}.json"), result)
  _write_predictions(os.path.join(model_dir, "predictions", f"{split}.tsv"), ids, labels,
                     predictions, info)
  plot_dir = os.path.join(model_dir, "plots")
  if info.task in ("binary", "multiclass", "multilabel"):
    plots.roc_pr_curves(labels, predictions, names, info.task,
                        os.path.join(plot_dir, split))
  if info.task == "multiclass":
    plots.confusion_matrix(result["confusion_matrix"], names,
                           os.path.join(plot_dir, f"{split}_confusion.png"))
  if info.task == "regression":
    plots.regression_scatter(labels, predictions, names,
                             os.path.join(plot_dir, f"{split}_scatter.png"))
  history_path = os.path.join(model_dir, "history.json")
  if os.path.exists(history_path):
    with open(history_path, encoding="utf-8") as handle:
      plots.training_curves(json.load(handle),
                            os.path.join(plot_dir, "training_curves.png"))
  return result
