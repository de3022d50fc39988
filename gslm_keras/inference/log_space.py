"""A classifier's outputs in log space, computed from its logits.

A float32 sigmoid or softmax rounds to exactly 1.0 once the logit passes about
16.6, so a log-odds taken from the probabilities reads the same for every
mutant of a confidently classified sequence: in-silico mutagenesis printed
effects of 0.000, variant scores and attributions lost what the model knew.
Here log p and log(1 - p) come from the output layer's logits with the stable
forms (log sigmoid(z) = -softplus(-z); log(1 - softmax_k) = logsumexp of the
other logits minus logsumexp of all), and a model that averages both strands
averages their probabilities in log space (logsumexp - log 2): the result is
the logarithm of exactly the probability the model outputs, without its
rounding.

A training run's model has the layers this needs (see `gslm_keras.models.builder`:
`task_head` ending in the layer `output`); a SavedModel export has only its
signatures, and its probabilities are clipped to [1e-7, 1 - 1e-7] instead
(`from_probabilities`), as before.
"""

from __future__ import annotations

import math

import keras
import numpy as np
import tensorflow as tf

from gslm_keras.tasks.supervised import task_type

EPSILON = 1e-7


def logits_of(model: keras.Model, layer_name: str = "output"):
  """A function of `model`'s inputs returning the logits (float32) of its layer
  `layer_name`: a Dense whose activation is applied inside (its affine part), or
  an Activation (its input). The weights are the model's own."""
  layer = model.get_layer(layer_name)
  before = keras.Model(model.input, layer.input, name=f"{model.name}_logits")
  if isinstance(layer, keras.layers.Dense):
    def call(inputs, training=False):
      x = tf.cast(before(inputs, training=training), tf.float32)
      kernel = tf.cast(layer.kernel, tf.float32)
      return tf.tensordot(x, kernel, axes=[[x.shape.rank - 1], [0]]) + tf.cast(
          layer.bias, tf.float32)
    return call
  return lambda inputs, training=False: tf.cast(before(inputs, training=training),
                                                tf.float32)


def head_logits(head: keras.Model):
  """The task head's inputs -> its output layer's logits (float32 [N, units])."""
  return logits_of(head, "output")


def from_logits(logits: tf.Tensor, task: str) -> tuple[tf.Tensor, tf.Tensor]:
  """(log p, log(1 - p)) [N, units] of each output unit."""
  if task_type(task).independent:
    return -tf.math.softplus(-logits), -tf.math.softplus(logits)
  total = tf.reduce_logsumexp(logits, axis=-1, keepdims=True)
  units = logits.shape[-1]
  others = logits[:, None, :] + tf.constant(
      np.where(np.eye(units, dtype=bool), -np.inf, 0.0), tf.float32)  # [N, K, K]
  return logits - total, tf.reduce_logsumexp(others, axis=-1) - total


class LogModel:
  """(log p, log(1 - p)) of a training run's Keras classifier, per output unit,
  differentiable; None from `build` when the model is not built of named parts
  or is not a classifier."""

  def __init__(self, keras_model: keras.Model, task: str):
    from gslm_keras.models.backbone import BACKBONE_NAME
    from gslm_keras.models.builder import HEAD_NAME

    layers = {layer.name: layer for layer in keras_model.layers}
    self.task = task
    self.backbone = layers.get(BACKBONE_NAME)
    self.logits = head_logits(layers[HEAD_NAME])
    self.reverse = layers.get("reverse_complement")

  @classmethod
  def build(cls, keras_model: keras.Model | None, task: str) -> LogModel | None:
    from gslm_keras.models.builder import HEAD_NAME

    if keras_model is None or not task_type(task).probabilities:
      return None
    names = {layer.name for layer in keras_model.layers}
    if HEAD_NAME not in names:
      return None
    return cls(keras_model, task)

  def head(self, head_inputs: dict) -> tuple[tf.Tensor, tf.Tensor]:
    """(log p, log(1 - p)) of one read of the head."""
    return from_logits(self.logits(head_inputs, training=False), self.task)

  def __call__(self, one_hot, features) -> tuple[tf.Tensor, tf.Tensor]:
    """(log p, log(1 - p)) [N, units] of the model's output for inputs."""
    one_hot = tf.convert_to_tensor(one_hot, tf.float32)
    reads = [one_hot] + ([self.reverse(one_hot)] if self.reverse is not None else [])
    parts = []
    for read in reads:
      inputs = {"features": tf.convert_to_tensor(features, tf.float32)}
      if self.backbone is not None:
        inputs["positions"] = self.backbone(read, training=False)
      parts.append(self.head(inputs))
    return average_reads([p for p, _ in parts], [q for _, q in parts])


def average_reads(log_p: list, log_q: list) -> tuple[tf.Tensor, tf.Tensor]:
  """Log of the mean probability over reads (strands), for p and 1 - p."""
  if len(log_p) == 1:
    return log_p[0], log_q[0]
  shift = math.log(len(log_p))
  return (tf.reduce_logsumexp(tf.stack(log_p), axis=0) - shift,
          tf.reduce_logsumexp(tf.stack(log_q), axis=0) - shift)


def from_probabilities(p) -> tuple[np.ndarray, np.ndarray]:
  """(log p, log(1 - p)) of probabilities clipped to [1e-7, 1 - 1e-7] (exports)."""
  p = np.clip(np.asarray(p, np.float64), EPSILON, 1.0 - EPSILON)
  return np.log(p), np.log1p(-p)


def to_columns(task: str, log_p, log_q) -> tuple:
  """Per output unit -> per output column (binary: the negative class first, whose
  log p is the positive unit's log(1 - p)); numpy or TF alike."""
  if task != "binary":
    return log_p, log_q
  concat = np.concatenate if isinstance(log_p, np.ndarray) else tf.concat
  return concat([log_q, log_p], axis=-1), concat([log_p, log_q], axis=-1)
