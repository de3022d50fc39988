"""`SequenceEncoder`: the one function from raw DNA strings to model inputs.

It is used by the tf.data pipeline, the dataset builder (for the normalisation
statistics), the exported serving signature, batch prediction, variant scoring
and in-silico mutagenesis, so training and serving cannot disagree on a window,
a one-hot code or a feature value. It is a Keras preprocessing layer: its whole
state is its config, so datasets and exports describe it by `get_config()`.
"""

from __future__ import annotations

from typing import Any, Sequence

import keras
import numpy as np
import tensorflow as tf

from gslm_keras.dna import ops
from gslm_keras.dna.length import LengthRule
from gslm_keras.features.spec import FeatureSpec, compute_features


def _array(values) -> np.ndarray | None:
  return None if values is None else np.asarray(values, np.float32)


@keras.saving.register_keras_serializable(package="gslm_keras")
class SequenceEncoder(keras.layers.Layer):
  """Raw DNA strings (plus provided features) to `{"sequence", "features"}`.

  Call it on tf.string [B] (and provided float [B, P]); it returns one-hot
  float32 [B, L, 4] and features float32 [B, F] (computed columns, then provided
  columns with NaN replaced by the train mean). TensorFlow only: it runs inside
  tf.data and exported graphs.

  Args:
    length_rule: the dataset's window rule (a `LengthRule` or its JSON dict).
    ambiguous: "zeros" or "iupac" (see `gslm_keras.dna.alphabet`).
    computed: computed features, in column order (`FeatureSpec`s or their JSON).
    provided_mean: float [n_provided] train means, used to fill missing (NaN)
      provided values; None when the dataset has no provided features.
    mean, std: float [n_features] normalisation statistics, or None.
    **kwargs: base Layer arguments (name ...).
  """

  def __init__(self, length_rule: LengthRule | dict, ambiguous: str = "zeros",
               computed: Sequence[FeatureSpec | dict] = (),
               provided_mean: Sequence[float] | None = None,
               mean: Sequence[float] | None = None, std: Sequence[float] | None = None,
               **kwargs):
    kwargs.setdefault("trainable", False)
    super().__init__(**kwargs)
    # Strings in, TF tensors out: no conversion to backend tensors of a float dtype.
    self._convert_input_args = False
    self._allow_non_tensor_positional_args = True
    self.length_rule = (length_rule if isinstance(length_rule, LengthRule)
                        else LengthRule.from_json(length_rule))
    self.ambiguous = ambiguous
    self.computed = tuple(spec if isinstance(spec, FeatureSpec) else
                          FeatureSpec.from_json(spec) for spec in computed)
    self.provided_mean = _array(provided_mean)
    if self.provided_mean is not None and self.provided_mean.size == 0:
      self.provided_mean = None
    self.mean = _array(mean)
    self.std = _array(std)
    self.built = True

  @classmethod
  def from_info(cls, info, **kwargs) -> "SequenceEncoder":
    """The encoder a `DatasetInfo` describes, statistics included."""
    mean, std = info.normalization()
    n_computed = len(info.computed_feature_names)
    return cls(info.length_rule, info.ambiguous, info.computed_features,
               provided_mean=mean[n_computed:] if info.n_provided else None,
               mean=mean, std=std, **kwargs)

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
    if self.provided_mean is None:
      return computed
    provided = tf.convert_to_tensor(provided, tf.float32)
    filled = tf.where(tf.math.is_nan(provided), self.provided_mean[None, :], provided)
    return tf.concat([computed, filled], axis=1)

  def normalize(self, features: tf.Tensor) -> tf.Tensor:
    if self.mean is None:
      raise ValueError("this encoder has no normalisation statistics")
    return (features - self.mean) / self.std

  def call(self, sequences, provided=None, normalize: bool = False) -> dict[str, tf.Tensor]:
    """Raw strings [B] (and provided [B, P]) -> model inputs; one string (and [P])
    -> one example's inputs, so the layer maps over a dataset before batching too."""
    sequences = tf.convert_to_tensor(sequences, tf.string)
    single = sequences.shape.rank == 0
    if single:
      sequences = sequences[None]
      provided = None if provided is None else tf.convert_to_tensor(provided)[None]
    one_hot, computed = self.encode_windows(self.windows(sequences))
    features = self.features(computed, provided)
    if normalize:
      features = self.normalize(features)
    if single:
      return {"sequence": one_hot[0], "features": features[0]}
    return {"sequence": one_hot, "features": features}

  def get_config(self) -> dict[str, Any]:
    config = super().get_config()

    def listed(array):
      return None if array is None else array.tolist()

    config.update({
        "length_rule": self.length_rule.to_json(), "ambiguous": self.ambiguous,
        "computed": [{"name": s.name, "params": s.param_dict} for s in self.computed],
        "provided_mean": listed(self.provided_mean), "mean": listed(self.mean),
        "std": listed(self.std)})
    return config
