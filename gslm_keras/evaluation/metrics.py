"""Metrics of predictions against labels, per task, as plain JSON-ready dicts."""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
from scipy import stats
from sklearn import metrics as skm


def _name(names: Sequence[str], k: int) -> str:
  return names[k] if len(names) > k else str(k)


def _binary_scores(y_true: np.ndarray, prob: np.ndarray,
                   predicted: np.ndarray | None = None) -> dict[str, Any]:
  """Scores of one positive class; predictions are prob >= 0.5 unless given."""
  if predicted is None:
    predicted = (prob >= 0.5).astype(int)
  both = len(np.unique(y_true)) == 2
  return {
      "accuracy": float(skm.accuracy_score(y_true, predicted)),
      "auroc": float(skm.roc_auc_score(y_true, prob)) if both else None,
      "auprc": float(skm.average_precision_score(y_true, prob)) if both else None,
      "mcc": float(skm.matthews_corrcoef(y_true, predicted)),
      "f1": float(skm.f1_score(y_true, predicted, zero_division=0)),
      "precision": float(skm.precision_score(y_true, predicted, zero_division=0)),
      "recall": float(skm.recall_score(y_true, predicted, zero_division=0)),
  }


def _multiclass(y_true, y_pred, class_names) -> dict[str, Any]:
  labels = np.arange(y_pred.shape[1])
  predicted = y_pred.argmax(axis=1)
  out: dict[str, Any] = {
      "accuracy": float(skm.accuracy_score(y_true, predicted)),
      "mcc": float(skm.matthews_corrcoef(y_true, predicted)),
      "f1_macro": float(skm.f1_score(y_true, predicted, average="macro",
                                     labels=labels, zero_division=0)),
      "confusion_matrix": skm.confusion_matrix(y_true, predicted,
                                               labels=labels).tolist(),
      "classes": list(class_names),
  }
  per_class = {}
  aurocs = []
  for k in labels:
    # One-vs-rest, with the argmax prediction (not a 0.5 threshold).
    scores = _binary_scores((y_true == k).astype(int), y_pred[:, k],
                            (predicted == k).astype(int))
    del scores["accuracy"], scores["mcc"]
    per_class[_name(class_names, k)] = scores
    if scores["auroc"] is not None:
      aurocs.append(scores["auroc"])
  out["auroc_macro"] = float(np.mean(aurocs)) if aurocs else None
  out["per_class"] = per_class
  return out


def _multilabel(y_true, y_pred, class_names) -> dict[str, Any]:
  per_class = {}
  for k in range(y_pred.shape[1]):
    per_class[_name(class_names, k)] = _binary_scores(y_true[:, k].astype(int),
                                                      y_pred[:, k])
  out: dict[str, Any] = {}
  for key in ("auroc", "auprc", "f1", "mcc", "accuracy"):
    values = [v[key] for v in per_class.values() if v[key] is not None]
    out[f"{key}_macro"] = float(np.mean(values)) if values else None
  out["per_class"] = per_class
  return out


def _regression(y_true, y_pred, target_names) -> dict[str, Any]:
  per_target = {}
  for k in range(y_pred.shape[1]):
    truth, pred = y_true[:, k], y_pred[:, k]
    per_target[_name(target_names, k)] = {
        "pearson": float(stats.pearsonr(truth, pred)[0]),
        "spearman": float(stats.spearmanr(truth, pred)[0]),
        "mse": float(skm.mean_squared_error(truth, pred)),
        "mae": float(skm.mean_absolute_error(truth, pred)),
        "r2": float(skm.r2_score(truth, pred)),
    }
  out: dict[str, Any] = {key: float(np.mean([v[key] for v in per_target.values()]))
                         for key in ("pearson", "spearman", "mse", "mae", "r2")}
  out["per_target"] = per_target
  return out


def compute_metrics(task: str, y_true: np.ndarray, y_pred: np.ndarray,
                    class_names: Sequence[str] = ()) -> dict[str, Any]:
  """Metrics of one split.

  Args:
    task: "binary", "multiclass", "multilabel" or "regression".
    y_true: int [N] class indices (binary, multiclass) or float [N, K].
    y_pred: the model output: probabilities [N, 1] or [N, K], or values [N, K].
    class_names: names of the classes (or targets), for per-class entries.

  Returns:
    binary: accuracy, AUROC, AUPRC, MCC, F1, precision, recall, confusion matrix;
    multiclass: accuracy, MCC, macro F1, macro one-vs-rest AUROC, and per class
    precision, recall, F1, AUROC, AUPRC; multilabel: per class and macro AUROC,
    AUPRC, F1; regression: Pearson, Spearman, MSE, MAE, R2 per target and mean.
  """
  y_true = np.asarray(y_true)
  y_pred = np.asarray(y_pred, np.float64)
  out: dict[str, Any] = {"task": task, "n": int(len(y_true))}
  if task == "binary":
    prob = y_pred.reshape(-1)
    out.update(_binary_scores(y_true.astype(int), prob))
    out["confusion_matrix"] = skm.confusion_matrix(
        y_true, (prob >= 0.5).astype(int), labels=[0, 1]).tolist()
    out["classes"] = list(class_names)
  elif task == "multiclass":
    out.update(_multiclass(y_true, y_pred, class_names))
  elif task == "multilabel":
    out.update(_multilabel(y_true, y_pred, class_names))
  elif task == "regression":
    out.update(_regression(y_true, y_pred, class_names))
  else:
    raise ValueError(f"task={task!r}")
  return out
