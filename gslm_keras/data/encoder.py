"""The one function from raw sequence strings to model inputs.

`SequenceEncoder` is used by the tf.data pipeline, the dataset builder (for the
normalisation statistics), the exported serving signature and variant scoring,
so that training and serving cannot disagree on a window, a one-hot code or a
feature value.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import tensorflow as tf

from gslm_keras.dna import ops
from gslm_keras.dna.length import LengthRule
from gslm_keras.features.registry import FeatureSpec, compute_features


class SequenceEncoder:
  """Raw DNA strings (plus provided features) to `{"sequence", "features"}`.

  Args:
    length_rule: the dataset's window rule.
    ambiguous: "zeros" or "iupac" (see `gslm_keras.dna.alphabet`).
    computed: computed features, in column order.
    provided_mean: float [n_provided] train means, used to fill missing (NaN)
      provided values; None when the dataset has no provided features.
    mean, std: float [n_features] normalisation statistics, or None.
  """

  def __init__(self, length_rule: LengthRule, ambiguous: str = "zeros",
               computed: Sequence[FeatureSpec] = (),
               provided_mean: np.ndarray | None = None,
               mean: np.ndarray | None = None, std: np.ndarray | None = None):
    self.length_rule = length_rule
    self.ambiguous = ambiguous
    self.computed = tuple(computed)
    self.provided_mean = (None if provided_mean is None
                          else np.asarray(provided_mean, np.float32))
    self.mean = None if mean is None else np.asarray(mean, np.float32)
    self.std = None if std is None else np.asarray(std, np.float32)

  @classmethod
  def from_info(cls, info) -> "SequenceEncoder":
    """The encoder a `DatasetInfo` describes, statistics included."""
    mean, std = info.normalization()
    n_computed = len(info.computed_feature_names)
    return cls(info.length_rule, info.ambiguous, info.computed_features,
               provided_mean=mean[n_computed:] if info.n_provided else None,
               mean=mean, std=std)

  @property
  def length(self) -> int:
    return self.length_rule.length

  def windows(self, sequences: tf.Tensor, shift: tf.Tensor | None = None,
              max_shift: int = 0) -> tf.Tensor:
    """tf.string [B] -> uint8 [B, L] by the length rule (see `ops.window_bytes`)."""
    return ops.window_bytes(sequences, self.length, self.length_rule.align,
                            shift=shift, max_shift=max_shift)

  def encode_windows(self, byte_windows: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    """uint8 [B, L] -> (one-hot float32 [B, L, 4], computed float32 [B, C])."""
    one_hot = ops.one_hot(byte_windows, self.ambiguous)
    computed = compute_features(ops.base_codes(byte_windows), self.computed)
    return one_hot, computed

  def features(self, computed: tf.Tensor, provided: tf.Tensor | None) -> tf.Tensor:
    """Concatenates computed and provided columns; NaN provided -> train mean."""
    if self.provided_mean is None or self.provided_mean.size == 0:
      return computed
    provided = tf.convert_to_tensor(provided, tf.float32)
    filled = tf.where(tf.math.is_nan(provided), self.provided_mean[None, :], provided)
    return tf.concat([computed, filled], axis=1)

  def normalize(self, features: tf.Tensor) -> tf.Tensor:
    if self.mean is None:
      raise ValueError("this encoder has no normalisation statistics")
    return (features - self.mean) / self.std

  def __call__(self, sequences: tf.Tensor, provided: tf.Tensor | None = None,
               normalize: bool = False) -> dict[str, tf.Tensor]:
    """Raw strings [B] (and provided [B, P]) -> model inputs."""
    one_hot, computed = self.encode_windows(self.windows(sequences))
    features = self.features(computed, provided)
    if normalize:
      features = self.normalize(features)
    return {"sequence": one_hot, "features": features}
