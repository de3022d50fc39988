"""Coding-potential features: Fickett TESTCODE score and longest ORF fraction."""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from gslm_keras.features.composition import base_counts
from gslm_keras.features.registry import register

# Fickett TESTCODE tables: Fickett JW (1982) "Recognition of protein coding regions
# in DNA sequences", Nucleic Acids Res 10(17):5303-5318, Table 1 (as distributed
# with CPAT, Wang et al. 2013, Nucleic Acids Res 41:e74). Columns run from the
# highest range to the lowest; a value takes the first column whose lower bound it
# reaches. Order A, C, G, T.
FICKETT_POSITION_BOUNDS = (1.9, 1.8, 1.7, 1.6, 1.5, 1.4, 1.3, 1.2, 1.1, 0.0)
FICKETT_POSITION_PROB = (
    (0.94, 0.68, 0.84, 0.93, 0.58, 0.68, 0.45, 0.34, 0.20, 0.22),
    (0.80, 0.70, 0.70, 0.81, 0.66, 0.48, 0.51, 0.33, 0.30, 0.23),
    (0.90, 0.88, 0.74, 0.64, 0.53, 0.48, 0.27, 0.16, 0.08, 0.08),
    (0.97, 0.97, 0.91, 0.68, 0.69, 0.44, 0.54, 0.20, 0.09, 0.09),
)
FICKETT_POSITION_WEIGHT = (0.26, 0.18, 0.31, 0.33)
# Ten content ranges as in the paper (>=0.33, 0.31-0.33, ..., 0.17-0.19, <0.17).
# CPAT's copy lists nine bounds (it lacks 0.19), which shifts the last two columns;
# we follow the paper.
FICKETT_CONTENT_BOUNDS = (0.33, 0.31, 0.29, 0.27, 0.25, 0.23, 0.21, 0.19, 0.17, 0.0)
FICKETT_CONTENT_PROB = (
    (0.28, 0.49, 0.44, 0.55, 0.62, 0.49, 0.67, 0.65, 0.81, 0.21),
    (0.82, 0.64, 0.51, 0.64, 0.59, 0.59, 0.43, 0.44, 0.39, 0.31),
    (0.40, 0.54, 0.47, 0.64, 0.64, 0.73, 0.41, 0.41, 0.33, 0.29),
    (0.28, 0.24, 0.39, 0.40, 0.55, 0.75, 0.56, 0.69, 0.51, 0.58),
)
FICKETT_CONTENT_WEIGHT = (0.11, 0.12, 0.15, 0.14)


def _fickett_lookup(values, bounds, prob, weight):
  """values float64 [B, 4] -> float64 [B]: sum over bases of prob * weight."""
  column = tf.reduce_sum(
      tf.cast(values[:, :, None] < tf.constant(bounds, tf.float64), tf.int32), axis=2)
  table = tf.constant(np.asarray(prob) * np.asarray(weight)[:, None], tf.float64)
  # table[base, column] by a one-hot product: `tf.gather(..., batch_dims=1)` makes
  # an int32 matrix product, which oneDNN reports at error level on CPUs without
  # AVX-512. Each lookup sum has one non-zero term; the sum over the four bases
  # may round differently in float64 (differences up to about 1e-16).
  picked = tf.reduce_sum(tf.one_hot(column, len(bounds), dtype=tf.float64) * table,
                         axis=2)  # [B, 4]
  return tf.reduce_sum(picked, axis=1)


@register("fickett")
def fickett(codes):
  """Fickett TESTCODE score (Fickett 1982); higher means more likely coding.

  Over unambiguous bases: content = fraction of each base; position = max/(min+1)
  of the base's counts in the three codon phases (phase = window position mod 3).
  Sequences with fewer than 2 unambiguous bases score 0.
  """
  length = tf.shape(codes)[1]
  phase = tf.one_hot(tf.range(length) % 3, 3, dtype=tf.float64)  # [L, 3]
  per_phase = tf.einsum("blc,lp->bpc", tf.one_hot(codes, 4, dtype=tf.float64), phase)
  total = tf.reduce_sum(per_phase, axis=[1, 2])
  content = tf.math.divide_no_nan(tf.reduce_sum(per_phase, axis=1), total[:, None])
  position = tf.reduce_max(per_phase, axis=1) / (tf.reduce_min(per_phase, axis=1) + 1.0)
  score = (_fickett_lookup(content, FICKETT_CONTENT_BOUNDS, FICKETT_CONTENT_PROB,
                           FICKETT_CONTENT_WEIGHT)
           + _fickett_lookup(position, FICKETT_POSITION_BOUNDS,
                             FICKETT_POSITION_PROB, FICKETT_POSITION_WEIGHT))
  score = tf.where(total >= 2, score, 0.0)
  return tf.cast(score[:, None], tf.float32)


_ATG = 0 * 16 + 3 * 4 + 2
# Windows of unknown static length: doubling steps cover up to this many codons.
_MAX_CODONS = 1 << 20
_STOPS = (3 * 16 + 0 * 4 + 0, 3 * 16 + 0 * 4 + 2, 3 * 16 + 2 * 4 + 0)  # TAA TAG TGA


def _longest_orf_codons(codes, require_stop):
  """Longest ATG-initiated ORF in codons over one strand's three frames: [B]."""
  batch = tf.shape(codes)[0]
  length = tf.shape(codes)[1]
  n_codons = length // 3
  frames = []
  for frame in range(3):
    # A frame too short for n_codons codons is padded with invalid bases.
    part = codes[:, frame:frame + 3 * n_codons]
    missing = 3 * n_codons - tf.shape(part)[1]
    part = tf.pad(part, [[0, 0], [0, missing]], constant_values=4)
    frames.append(tf.reshape(part, [batch, n_codons, 3]))
  triplets = tf.concat(frames, axis=0)  # [3B, n, 3]
  valid = tf.reduce_all(triplets < 4, axis=2)
  index = triplets[:, :, 0] * 16 + triplets[:, :, 1] * 4 + triplets[:, :, 2]
  is_start = valid & (index == _ATG)
  is_stop = valid & ((index == _STOPS[0]) | (index == _STOPS[1]) | (index == _STOPS[2]))
  # An ORF ends at an in-frame stop (counted) or before an ambiguous codon or
  # the sequence end (open ORF, not counted past the last complete codon).
  boundary = is_stop | ~valid
  positions = tf.range(n_codons)[None, :]
  # Next boundary at or after each codon: a reverse running minimum, computed by
  # doubling shifts (log2(n) elementwise steps, cheaper than segment reductions).
  next_boundary = tf.where(boundary, positions, n_codons)
  static_length = codes.shape[1]
  steps = (max(1, static_length // 3).bit_length() if static_length is not None
           else _MAX_CODONS.bit_length())
  for step in range(steps):
    shift = 1 << step
    padding = tf.fill([tf.shape(next_boundary)[0], tf.minimum(shift, n_codons)],
                      n_codons)
    shifted = tf.concat([next_boundary[:, shift:], padding], axis=1)
    next_boundary = tf.minimum(next_boundary, shifted)
  stop_at = tf.gather(tf.pad(tf.cast(is_stop, tf.int32), [[0, 0], [0, 1]]),
                      next_boundary, batch_dims=1)
  orf = next_boundary - positions + stop_at
  keep = is_start & (stop_at > 0) if require_stop else is_start
  orf = tf.where(keep, orf, 0)
  return tf.reduce_max(tf.reshape(tf.reduce_max(orf, axis=1), [3, batch]), axis=0)


def _orf_names(require_stop):
  return ["orf_fraction_stop" if require_stop else "orf_fraction"]


@register("orf_fraction", defaults={"require_stop": False}, output_names=_orf_names)
def orf_fraction(codes, require_stop):
  """Longest ORF (ATG to in-frame stop, both strands, 3 frames) / sequence length.

  The ORF length counts the stop codon. With require_stop=False an ORF may also
  run to the last complete codon before the sequence end or an ambiguous base.
  The length is the number of unambiguous bases; 0 when there is none.
  """
  reverse = tf.reverse(tf.where(codes < 4, 3 - codes, codes), axis=[1])
  best = tf.maximum(_longest_orf_codons(codes, require_stop),
                    _longest_orf_codons(reverse, require_stop))
  total = tf.reduce_sum(base_counts(codes), axis=1)
  fraction = tf.math.divide_no_nan(tf.cast(3 * best, tf.float32), total)
  return fraction[:, None]
