"""The language model: the sequence backbone with a base-resolution nucleotide head.

Masked nucleotide modelling (DESIGN "Language model") asks for the base at every
chosen position. The backbone is exactly the supervised model's sequence branch
(`build_backbone`, same layer names and shapes), so its weights move to a
classifier by name. Its stem pooling halves the resolution; the head undoes it:
the trunk's positions are repeated `stem_pool` times and cropped to the input's
length, then joined with a narrow convolution over the (masked) input itself,
which tells apart the positions that share a pooled vector. At a masked position
the input is all-zero, so it gives nothing away that BERT-style masking does not.

The model maps one-hot [B, L, 4] (any L) to base probabilities [B, L, 4].
`masked_loss` is the cross-entropy at chosen positions only, weighted per base.
"""

from __future__ import annotations

import keras

from gslm_keras.models.backbone import build_backbone
from gslm_keras.models.config import ModelConfig

LM_HEAD = "nucleotide_head"


@keras.saving.register_keras_serializable(package="gslm_keras")
class CropToLength(keras.layers.Layer):
  """x [B, L', C] cropped to the length of `reference` [B, L, ...] (L <= L')."""

  def call(self, x, reference):
    return x[:, :keras.ops.shape(reference)[1]]

  def compute_output_shape(self, x_shape, reference_shape):
    return (x_shape[0], reference_shape[1], x_shape[2])


def build_language_model(config: ModelConfig, head_units: int = 64,
                         local_width: int = 5, dtype: str = "float32") -> keras.Model:
  """The backbone under a nucleotide head: one-hot [B, L, 4] -> probabilities [B, L, 4].

  Args:
    config: the architecture of the backbone (the supervised model's fields).
    head_units: width of the head's hidden layer.
    local_width: kernel of the head's convolution over the input (base resolution).
    dtype: Keras dtype policy (the output is float32 whatever it is).
  """
  sequence = keras.Input(shape=(None, 4), name="sequence", dtype="float32")
  trunk = build_backbone(config, dtype=dtype)(sequence)
  if config.stem_pool > 1:
    trunk = keras.layers.UpSampling1D(config.stem_pool, name="lm_upsample",
                                      dtype=dtype)(trunk)
  trunk = CropToLength(name="lm_crop", dtype=dtype)(trunk, sequence)
  local = keras.layers.Conv1D(head_units, local_width, padding="same", name="lm_local",
                              dtype=dtype)(sequence)
  x = keras.layers.Concatenate(name="lm_concat", dtype=dtype)([trunk, local])
  x = keras.layers.Dense(head_units, activation="gelu", name="lm_hidden", dtype=dtype)(x)
  probabilities = keras.layers.Dense(4, activation="softmax", name=LM_HEAD,
                                     dtype="float32")(x)
  return keras.Model(sequence, probabilities, name="nucleotide_language_model")


def masked_loss(targets, probabilities, weights):
  """Weighted cross-entropy (nats) over the chosen positions (targets >= 0): the
  sum of weight x -log p(target) over the weights' sum."""
  import tensorflow as tf

  chosen = tf.cast(targets >= 0, probabilities.dtype) * tf.cast(weights,
                                                                probabilities.dtype)
  picked = tf.gather(probabilities, tf.maximum(targets, 0), batch_dims=2)
  nll = -tf.math.log(tf.clip_by_value(picked, 1e-7, 1.0))
  return tf.reduce_sum(nll * chosen) / tf.maximum(tf.reduce_sum(chosen), 1.0)


def _unpack(y_true):
  """(targets int32 [B, L], weights float32 [B, L]) from y [B, L, 2]."""
  import tensorflow as tf

  y_true = tf.cast(y_true, tf.float32)
  return tf.cast(tf.round(y_true[..., 0]), tf.int32), y_true[..., 1]


@keras.saving.register_keras_serializable(package="gslm_keras")
def lm_loss(y_true, y_pred):
  """`masked_loss` on Keras' (y_true, y_pred): y_true [B, L, 2] holds the target
  (the base 0-3, or IGNORE) and the weight of each position."""
  targets, weights = _unpack(y_true)
  return masked_loss(targets, y_pred, weights)


@keras.saving.register_keras_serializable(package="gslm_keras")
class MaskedAccuracy(keras.metrics.Metric):
  """Weighted share of chosen positions whose most probable base is the target."""

  def __init__(self, name: str = "accuracy", **kwargs):
    super().__init__(name=name, **kwargs)
    self.correct = self.add_variable(shape=(), initializer="zeros", name="correct")
    self.total = self.add_variable(shape=(), initializer="zeros", name="total")

  def update_state(self, y_true, y_pred, sample_weight=None):
    import tensorflow as tf

    targets, weights = _unpack(y_true)
    weights = tf.where(targets >= 0, weights, 0.0)
    hit = tf.cast(tf.argmax(y_pred, axis=-1, output_type=tf.int32) == targets, tf.float32)
    self.correct.assign_add(tf.reduce_sum(hit * weights))
    self.total.assign_add(tf.reduce_sum(weights))

  def result(self):
    return self.correct / keras.ops.maximum(self.total, 1e-9)

  def reset_state(self):
    self.correct.assign(0.0)
    self.total.assign(0.0)


def is_language_model(model: keras.Model) -> bool:
  """Whether a Keras model is a nucleotide language model (has the LM head)."""
  return any(layer.name == LM_HEAD for layer in model.layers)
