"""The one naming of a model's outputs, shared by every consumer.

A classifier has one column per class, `prob_<class>` (a binary model too: both
classes, so its columns sum to 1 like a multi-class model's); a regression model
one column per target, `value_<target>`. `evaluate`'s predictions, `predict`,
the serving signature's `classes`/`probabilities`/`values` and `score_variants`
(`<score>_<column>`) all use these names.
"""

from __future__ import annotations

import numpy as np

from gslm_keras.tasks.supervised import task_type


def output_columns(info) -> list[str]:
  """Column names of a model trained on the dataset `info` describes."""
  if not task_type(info.task).probabilities:
    return [f"value_{name}" for name in info.label_columns]
  return [f"prob_{name}" for name in info.classes]


def output_key(info) -> str:
  """The serving signature's output holding the columns."""
  return "probabilities" if task_type(info.task).probabilities else "values"


def to_columns(info, predictions):
  """The model's own output [..., outputs] -> one column per name on the last axis
  (binary: [1 - p, p]). Works on numpy arrays and TF tensors alike.
  """
  if info.task != "binary":
    return predictions
  if isinstance(predictions, np.ndarray):
    return np.concatenate([1.0 - predictions, predictions], axis=-1)
  import tensorflow as tf

  return tf.concat([1.0 - predictions, predictions], axis=-1)


def predicted_classes(info, columns: np.ndarray) -> list[str] | None:
  """The arg-max class of each row for binary and multi-class models, else None."""
  if not task_type(info.task).classes:
    return None
  return [info.classes[int(i)] for i in np.asarray(columns).argmax(axis=1)]
