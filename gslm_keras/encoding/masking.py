"""`NucleotideMasker`: BERT-style masking of one-hot DNA, as a Keras preprocessing layer.

The input of masked nucleotide modelling (DESIGN "Language model"): a share `rate`
of the bases of each window is chosen, in spans of `span` bases; of the chosen
positions 80% are masked (all-zero, the code of N), 10% replaced by a random base
and 10% left as they are (`mask_share`, `random_share`), and the model is asked for
the original base at every chosen position. Positions that hold no base (N, other
IUPAC codes, padding) are never chosen. The layer is stateless and seeded per call,
so a tf.data pipeline gives the same masks for the same seed and batch index, and
it serialises with the model or the dataset that uses it.

Learnt from keras-hub's `MaskedLMMaskGenerator` (selection rate, the 80/10/10
split, its tests); written for one-hot DNA and spans.
"""

from __future__ import annotations

import keras
import tensorflow as tf

# Target of a position that is not predicted.
IGNORE = -1


@keras.saving.register_keras_serializable(package="gslm_keras")
class NucleotideMasker(keras.layers.Layer):
  """Chooses positions to predict and corrupts them.

  Args:
    rate: expected share of the bases of a window that are chosen.
    span: length of each chosen run of positions (1: single bases; GPN and
      ConvNova use 1, span masking makes neighbours unable to give a base away).
    mask_share: share of the chosen positions set to all-zero (N).
    random_share: share set to a uniformly random base (the rest are unchanged).

  Call:
    one_hot: float [B, L, 4].
    seed: int [2], the stateless seed of this call (e.g. [run seed, batch index]).
    base_weights: optional float [B, L], e.g. 0.1 on soft-masked repeats.

  Returns:
    {"sequence": corrupted one-hot [B, L, 4], "targets": int32 [B, L] (the
     original base 0-3 at chosen positions, IGNORE elsewhere), "weights": float32
     [B, L] (the base weight at chosen positions, 0 elsewhere)}.
  """

  def __init__(self, rate: float = 0.15, span: int = 1, mask_share: float = 0.8,
               random_share: float = 0.1, **kwargs):
    super().__init__(**kwargs)
    if not 0.0 < rate < 1.0:
      raise ValueError(f"rate={rate}: expected 0 < rate < 1")
    if span < 1:
      raise ValueError(f"span={span}: expected >= 1")
    if mask_share < 0 or random_share < 0 or mask_share + random_share > 1:
      raise ValueError(f"mask_share={mask_share}, random_share={random_share}: expected "
                       "two shares >= 0 with a sum <= 1")
    self.rate = float(rate)
    self.span = int(span)
    self.mask_share = float(mask_share)
    self.random_share = float(random_share)

  def _chosen(self, has_base, seed):
    """bool [B, L]: spans of `span` positions, started so that about `rate` of the
    bases are chosen, kept only where there is a base."""
    shape = tf.shape(has_base)
    starts = tf.random.stateless_uniform(shape, seed=seed) < self.rate / self.span
    if self.span > 1:
      # A position is chosen when a span started at one of the `span` positions
      # ending at it: a running maximum over a window of `span`.
      padded = tf.pad(tf.cast(starts, tf.float32), [[0, 0], [self.span - 1, 0]])
      starts = tf.nn.max_pool1d(padded[:, :, None], self.span, 1, "VALID")[:, :, 0] > 0
    return starts & has_base

  def call(self, one_hot, seed, base_weights=None):
    one_hot = tf.convert_to_tensor(one_hot, tf.float32)
    seed = tf.cast(tf.convert_to_tensor(seed), tf.int32)
    seeds = tf.random.experimental.stateless_split(seed, 3)
    has_base = tf.abs(tf.reduce_sum(one_hot, axis=-1) - 1.0) < 1e-6
    has_base &= tf.reduce_max(one_hot, axis=-1) > 0.5  # One-hot, not an IUPAC mix.
    chosen = self._chosen(has_base, seeds[0])
    draw = tf.random.stateless_uniform(tf.shape(chosen), seed=seeds[1])
    masked = chosen & (draw < self.mask_share)
    randomised = chosen & (draw >= self.mask_share) & (
        draw < self.mask_share + self.random_share)
    bases = tf.random.stateless_uniform(tf.shape(chosen), seed=seeds[2], maxval=4,
                                        dtype=tf.int32)
    corrupted = tf.where(randomised[..., None], tf.one_hot(bases, 4), one_hot)
    corrupted = tf.where(masked[..., None], tf.zeros_like(one_hot), corrupted)
    targets = tf.where(chosen, tf.argmax(one_hot, axis=-1, output_type=tf.int32), IGNORE)
    weights = tf.ones_like(draw) if base_weights is None else tf.cast(base_weights,
                                                                      tf.float32)
    return {"sequence": corrupted, "targets": targets,
            "weights": tf.where(chosen, weights, 0.0)}

  def get_config(self):
    return {**super().get_config(), "rate": self.rate, "span": self.span,
            "mask_share": self.mask_share, "random_share": self.random_share}
