"""`Predictor`: the model's outputs for a batch of variants in one TensorFlow call.

A classifier's outputs are returned in log space, (log p, log(1 - p)) per
column: from the task head's logits for a training run's model (exact where a
float32 probability rounds to 1.0; `gslm_keras.inference.log_space`), from the
clipped probabilities for an export.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from gslm_keras.dna import ops
from gslm_keras.inference import log_space
from gslm_keras.inference.model import LoadedModel
from gslm_keras.tasks.supervised import task_type


# (sequence allele, feature allele) of the four inputs per strand: ref, alt, alt
# sequence with ref features (the sequence path), ref sequence with alt features
# (the feature path).
COMBINATIONS = ((0, 0), (1, 1), (1, 0), (0, 1))


class Predictor:
  """One TF call per batch: windows -> both strands -> four inputs -> outputs.

  For a training run's model the backbone runs once per distinct window (ref,
  alt and their reverse complements) and only the task head runs per
  combination; an export runs its whole model on every input.
  """

  def __init__(self, model: LoadedModel, strands: int):
    self.model = model
    self.strands = strands
    self.n_provided = model.info.n_provided
    self.parts = model.parts()
    self.classifier = task_type(model.info.task).probabilities
    self.logits = (log_space.head_logits(self.parts[1])
                   if self.parts is not None and self.classifier else None)
    spec = [tf.TensorSpec([None], tf.string), tf.TensorSpec([None], tf.string),
            tf.TensorSpec([None, self.n_provided], tf.float32),
            tf.TensorSpec([None, self.n_provided], tf.float32)]
    self._fn = tf.function(self._predict, input_signature=spec, autograph=False)

  def _encode(self, ref, alt, provided_ref, provided_alt, strands: int):
    """One-hot [strands, 2, n, L, 4] and features [strands, 2, n, F] of the windows."""
    encoder = self.model.encoder
    n = tf.shape(ref)[0]
    windows = tf.concat([encoder.windows(ref), encoder.windows(alt)], axis=0)
    provided = tf.concat([provided_ref, provided_alt], axis=0)
    if strands == 2:
      windows = tf.concat([windows, ops.reverse_complement_bytes(windows)], axis=0)
      provided = tf.concat([provided, provided], axis=0)
    one_hot, computed = encoder.encode_windows(windows)
    features = encoder.features(computed, provided if self.n_provided else None)
    return (tf.reshape(one_hot, [strands, 2, n, encoder.length, 4]),
            tf.reshape(features, [strands, 2, n, -1]))

  def _predict(self, ref, alt, provided_ref, provided_alt):
    if self.parts is not None:
      return self._predict_in_parts(ref, alt, provided_ref, provided_alt)
    one_hot, features = self._encode(ref, alt, provided_ref, provided_alt, self.strands)
    one_hot = tf.stack([one_hot[:, a] for a, _ in COMBINATIONS], 1)
    features = tf.stack([features[:, b] for _, b in COMBINATIONS], 1)
    out = self.model.outputs(tf.reshape(one_hot, [-1, self.model.length, 4]),
                             tf.reshape(features, [-1, tf.shape(features)[-1]]))
    return tf.reshape(out, [self.strands, 4, tf.shape(ref)[0], -1])

  def _predict_in_parts(self, ref, alt, provided_ref, provided_alt):
    backbone, head, rc_average = self.parts
    # An rc-average model reads every window on both strands itself.
    both = 2 if (self.strands == 2 or rc_average) else 1
    one_hot, features = self._encode(ref, alt, provided_ref, provided_alt, both)
    n = tf.shape(ref)[0]
    positions = None
    if backbone is not None:
      flat = backbone(tf.reshape(one_hot, [-1, self.model.length, 4]), training=False)
      positions = tf.reshape(flat, [both, 2, n, flat.shape[1], flat.shape[2]])
    inputs = {"features": [], "positions": []}
    for s in range(self.strands):
      for a, b in COMBINATIONS:
        for read in ((s, 1 - s) if rc_average else (s,)):
          inputs["features"].append(features[s, b])
          if positions is not None:
            inputs["positions"].append(positions[read, a])
    head_inputs = {k: tf.concat(v, axis=0) for k, v in inputs.items() if v}
    reads = 2 if rc_average else 1
    shape = [self.strands, 4, reads, n, -1]
    if not self.classifier:
      out = tf.reshape(head(head_inputs, training=False), shape)
      return tf.reduce_mean(out, axis=2)[None]
    log_p, log_q = (tf.reshape(t, shape) for t in log_space.from_logits(
        self.logits(head_inputs), self.model.info.task))
    # The model's own strand average, of probabilities, in log space.
    log_p, log_q = log_space.average_reads(tf.unstack(log_p, axis=2),
                                           tf.unstack(log_q, axis=2))
    return tf.stack(log_space.to_columns(self.model.info.task, log_p, log_q))

  def __call__(self, ref: list[str], alt: list[str], provided_ref, provided_alt):
    """Classifiers: (log p, log(1 - p)) stacked, [2, strands, 4, n, columns];
    regression: the values, [1, strands, 4, n, columns]."""
    width = self.n_provided
    as_tensor = lambda values: tf.constant(  # noqa: E731
        np.asarray(values, np.float32).reshape(len(ref), width))
    out = self._fn(tf.constant(ref), tf.constant(alt), as_tensor(provided_ref),
                   as_tensor(provided_alt)).numpy()
    if self.parts is None:  # An export's probabilities (values).
      return np.stack(log_space.from_probabilities(out)) if self.classifier else out[None]
    return out
