"""Predictions of a trained model on raw sequences, in memory."""

from __future__ import annotations

import json
import os
from typing import Sequence

import numpy as np

from gslm_keras.data.manifest import MANIFEST, DatasetInfo
from gslm_keras.errors import ConfigError, DatasetError


def load_trained(model_dir: str):
  """(keras model, DatasetInfo it was trained with) from a train model_dir."""
  import keras

  import gslm_keras.models.layers  # noqa: F401  Registers the custom layers.

  path = os.path.join(model_dir, "model.keras")
  if not os.path.exists(path):
    raise DatasetError(f"{model_dir} has no model.keras: not a finished training run")
  with open(os.path.join(model_dir, MANIFEST), encoding="utf-8") as handle:
    info = DatasetInfo(json.load(handle), model_dir)
  return keras.models.load_model(path), info


def predict_sequences(model, info: DatasetInfo, sequences: Sequence[str],
                      provided: np.ndarray | None = None,
                      batch_size: int = 256) -> np.ndarray:
  """Model outputs for raw DNA strings.

  The sequences go through the dataset's `SequenceEncoder` (window rule, one-hot,
  computed features), exactly as in training.

  Args:
    model: a trained model.
    info: the dataset it was trained on (its manifest).
    sequences: DNA strings, any case, any length (cropped or padded by the rule).
    provided: float [N, n_provided] provided features, NaN for missing; required
      when the dataset has provided features.
    batch_size: sequences per batch.

  Returns:
    float32 [N, outputs]: probabilities (classifiers) or values (regression).
  """
  import tensorflow as tf

  from gslm_keras.data.encoder import SequenceEncoder

  if info.n_provided and provided is None:
    raise ConfigError(f"the model takes {info.n_provided} provided features "
                      f"({', '.join(info.provided_feature_names)}); pass `provided`")
  encoder = SequenceEncoder.from_info(info)
  outputs = []
  for start in range(0, len(sequences), batch_size):
    chunk = tf.constant(list(sequences[start:start + batch_size]))
    extra = None if provided is None else provided[start:start + batch_size]
    outputs.append(np.asarray(model(encoder(chunk, extra), training=False)))
  return np.concatenate(outputs) if outputs else np.zeros((0, model.output.shape[-1]))
