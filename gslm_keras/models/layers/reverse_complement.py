"""ReverseComplement layer."""

from __future__ import annotations

import keras


@keras.saving.register_keras_serializable(package="gslm_keras")
class ReverseComplement(keras.layers.Layer):
  """Reverse complement of one-hot DNA: [batch, L, 4] in A, C, G, T order.

  Reversing the channel axis complements (A<->T, C<->G), reversing the length
  axis reverses the strand. IUPAC fractions complement correctly too.
  """

  def call(self, inputs):
    return keras.ops.flip(inputs, axis=(-2, -1))

  def compute_output_shape(self, input_shape):
    return input_shape
