"""Composition features: GC content, CpG observed/expected, k-mer spectrum, entropy.

All count only unambiguous bases (codes 0-3); N, other IUPAC letters and window
padding (code 4) are left out of numerators and denominators alike.
"""

from __future__ import annotations

import itertools

import numpy as np
import tensorflow as tf

from gslm_keras.dna import alphabet
from gslm_keras.errors import ConfigError
from gslm_keras.features.registry import register

MAX_K = 6


def base_counts(codes: tf.Tensor) -> tf.Tensor:
  """int32 [B, L] codes -> float32 [B, 4] counts of A, C, G, T."""
  return tf.reduce_sum(tf.one_hot(codes, 4, dtype=tf.float32), axis=1)


def _safe_divide(numerator, denominator):
  return tf.math.divide_no_nan(numerator, tf.cast(denominator, numerator.dtype))


@register("gc_content")
def gc_content(codes):
  """Fraction of G and C among unambiguous bases (0 when there are none)."""
  counts = base_counts(codes)
  return _safe_divide(counts[:, 1:2] + counts[:, 2:3],
                      tf.reduce_sum(counts, axis=1, keepdims=True))


@register("cpg_oe")
def cpg_oe(codes):
  """CpG observed/expected, CpG * N / (C * G) (Gardiner-Garden & Frommer 1987).

  N is the number of unambiguous bases; 0 when the sequence has no C or no G.
  """
  counts = base_counts(codes)
  cpg = tf.reduce_sum(
      tf.cast((codes[:, :-1] == 1) & (codes[:, 1:] == 2), tf.float32),
      axis=1, keepdims=True)
  total = tf.reduce_sum(counts, axis=1, keepdims=True)
  return _safe_divide(cpg * total, counts[:, 1:2] * counts[:, 2:3])


def kmer_names(k: int) -> list[str]:
  return ["".join(p) for p in itertools.product(alphabet.BASES, repeat=k)]


def canonical_kmers(k: int) -> tuple[np.ndarray, list[str]]:
  """Map from k-mer index to canonical index, and the canonical k-mer names.

  A k-mer and its reverse complement share the lexicographically smaller name.
  """
  names = kmer_names(k)
  canonical_of = {n: min(n, alphabet.reverse_complement(n)) for n in names}
  canonical = sorted(set(canonical_of.values()))
  position = {n: i for i, n in enumerate(canonical)}
  mapping = np.array([position[canonical_of[n]] for n in names], np.int32)
  return mapping, canonical


def kmer_counts(codes: tf.Tensor, k: int, canonical: bool = False) -> tf.Tensor:
  """int32 [B, L] -> float32 [B, 4**k] (or canonical width) k-mer counts.

  A k-mer that contains an ambiguous base is not counted.
  """
  batch = tf.shape(codes)[0]
  length = tf.shape(codes)[1]
  n_windows = tf.maximum(length - k + 1, 0)
  index = tf.zeros([batch, n_windows], tf.int32)
  valid = tf.ones([batch, n_windows], tf.bool)
  for offset in range(k):
    part = codes[:, offset:offset + n_windows]
    valid &= part < 4
    index = index * 4 + tf.minimum(part, 3)
  width = 4**k
  if canonical:
    mapping, names = canonical_kmers(k)
    index = tf.gather(tf.constant(mapping), index)
    width = len(names)
  rows = tf.range(batch)[:, None] * width
  counts = tf.math.unsorted_segment_sum(
      tf.reshape(tf.cast(valid, tf.float32), [-1]),
      tf.reshape(rows + index, [-1]), batch * width)
  return tf.reshape(counts, [batch, width])


def _check_k(k):
  if not 1 <= k <= MAX_K:
    raise ConfigError(f"k={k}: expected 1 <= k <= {MAX_K}")


def _kmer_output_names(k, canonical):
  _check_k(k)
  names = canonical_kmers(k)[1] if canonical else kmer_names(k)
  prefix = f"kmer{k}c_" if canonical else f"kmer{k}_"
  return [prefix + n for n in names]


@register("kmer", defaults={"k": 3, "canonical": False},
          output_names=_kmer_output_names)
def kmer(codes, k, canonical):
  """k-mer frequency spectrum (k = 1..6), optionally strand-canonical."""
  counts = kmer_counts(codes, k, canonical)
  return _safe_divide(counts, tf.reduce_sum(counts, axis=1, keepdims=True))


def _entropy_names(k):
  _check_k(k)
  return [f"entropy_k{k}"]


@register("entropy", defaults={"k": 1}, output_names=_entropy_names)
def entropy(codes, k):
  """Shannon entropy in bits of the k-mer distribution (0 for no valid k-mer)."""
  counts = kmer_counts(codes, k)
  p = _safe_divide(counts, tf.reduce_sum(counts, axis=1, keepdims=True))
  terms = tf.where(p > 0, -p * tf.math.log(tf.where(p > 0, p, 1.0)), 0.0)
  return tf.reduce_sum(terms, axis=1, keepdims=True) / np.log(2.0)
