"""AttentionPooling layer."""

from __future__ import annotations

import keras


@keras.saving.register_keras_serializable(package="gslm_keras")
class AttentionPooling(keras.layers.Layer):
  """Pools [batch, L, C] to [batch, C] by a learnt softmax over positions.

  Each position gets a score from a linear map of its channels; the output is
  the score-weighted mean, so the model can attend to where a motif is rather
  than averaging it away.

  Args:
    **kwargs: base Layer arguments (name, dtype ...).
  """

  def __init__(self, **kwargs):
    super().__init__(**kwargs)
    self.score = keras.layers.Dense(1, name="score", dtype=self.dtype_policy)

  def build(self, input_shape):
    self.score.build(input_shape)
    self.built = True

  def call(self, inputs):
    weights = keras.ops.softmax(self.score(inputs), axis=1)  # [B, L, 1]
    return keras.ops.sum(inputs * weights, axis=1)

  def compute_output_shape(self, input_shape):
    return (input_shape[0], input_shape[-1])
