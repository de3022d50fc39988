"""ModalityDropout layer."""

from __future__ import annotations

import keras


@keras.saving.register_keras_serializable(package="gslm_keras")
class ModalityDropout(keras.layers.Layer):
  """Drops one whole branch per training example, so that neither carries the other.

  Called on [sequence_vector, feature_vector] ([B, Ds], [B, Df]); returns both. In
  training, each example independently loses its sequence vector with probability
  rate / 2 and its feature vector with probability rate / 2 (never both): the
  fusion layer must then predict from either branch alone, and neither branch can
  leave the work to the other (the modality dropout of multimodal learning, e.g.
  Neverova et al. 2016, ModDrop). At inference both pass unchanged.
  """

  def __init__(self, rate: float, seed: int | None = None, **kwargs):
    super().__init__(**kwargs)
    if not 0.0 <= rate < 1.0:
      raise ValueError(f"ModalityDropout rate={rate}: expected 0 <= rate < 1")
    self.rate = rate
    self.seed = seed
    self.seed_generator = keras.random.SeedGenerator(seed)

  def call(self, inputs, training=None):
    sequence, features = inputs
    if not training or self.rate == 0.0:
      return [sequence, features]
    draw = keras.random.uniform((keras.ops.shape(sequence)[0], 1),
                                seed=self.seed_generator)
    keep_sequence = keras.ops.cast(draw >= self.rate / 2, sequence.dtype)
    keep_features = keras.ops.cast(
        keras.ops.logical_or(draw < self.rate / 2, draw >= self.rate), features.dtype)
    return [sequence * keep_sequence, features * keep_features]

  def compute_output_shape(self, input_shape):
    return list(input_shape)

  def get_config(self):
    return {**super().get_config(), "rate": self.rate, "seed": self.seed}
