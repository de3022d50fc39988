"""Yardsticks for a nucleotide language model, on the same masked positions.

An LM that does not beat these has learnt nothing (DESIGN "Language model"):

- base frequencies of the training windows;
- a bidirectional k-mer model: P(base | the k bases on its left, the k on its
  right) counted on training windows masked the same way, so it sees masked
  neighbours as the LM does (as a fifth symbol), with add-alpha smoothing.

Plain numpy on integer codes (0-3 A C G T, 4 masked or not a base).
"""

from __future__ import annotations

import numpy as np

MASKED = 4


def codes(one_hot: np.ndarray) -> np.ndarray:
  """int8 [N, L] from one-hot [N, L, 4]: the base, or MASKED where none is set."""
  one_hot = np.asarray(one_hot)
  has_base = np.isclose(one_hot.sum(-1), 1.0) & (one_hot.max(-1) > 0.5)
  return np.where(has_base, one_hot.argmax(-1), MASKED).astype(np.int8)


def _contexts(inputs: np.ndarray, rows: np.ndarray, cols: np.ndarray, k: int
              ) -> np.ndarray:
  """Base-5 keys of the k left and k right input symbols of each position."""
  padded = np.pad(inputs, [(0, 0), (k, k)], constant_values=MASKED).astype(np.int64)
  key = np.zeros(len(rows), np.int64)
  for offset in list(range(-k, 0)) + list(range(1, k + 1)):
    key = key * 5 + padded[rows, cols + k + offset]
  return key


class KmerModel:
  """P(base | k left and k right symbols of the masked input).

  Args:
    k: context on each side.
    alpha: add-alpha smoothing of the counts.
  """

  def __init__(self, k: int, alpha: float = 0.5):
    self.k = k
    self.alpha = alpha
    self.counts = np.zeros((5 ** (2 * k), 4), np.float64)

  def fit(self, inputs: np.ndarray, targets: np.ndarray) -> "KmerModel":
    """Counts the targets (>= 0) of masked inputs: int [N, L] each."""
    rows, cols = np.nonzero(targets >= 0)
    np.add.at(self.counts, (_contexts(inputs, rows, cols, self.k),
                            targets[rows, cols]), 1.0)
    return self

  def distribution(self, inputs: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """P(each base) [n, 4] at every chosen position (targets >= 0), row-major."""
    rows, cols = np.nonzero(targets >= 0)
    counts = self.counts[_contexts(inputs, rows, cols, self.k)] + self.alpha
    return counts / counts.sum(-1, keepdims=True)

  def probabilities(self, inputs: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """P(target) at every chosen position (targets >= 0), in row-major order."""
    rows, cols = np.nonzero(targets >= 0)
    return self.distribution(inputs, targets)[np.arange(len(rows)), targets[rows, cols]]


def bits(probabilities: np.ndarray, weights: np.ndarray | None = None) -> float:
  """Mean -log2 p, weighted."""
  p = np.clip(np.asarray(probabilities, np.float64), 1e-12, 1.0)
  w = np.ones_like(p) if weights is None else np.asarray(weights, np.float64)
  return float((-np.log2(p) * w).sum() / w.sum())


def frequency_probabilities(train_codes: np.ndarray, targets: np.ndarray) -> np.ndarray:
  """P(target) under the base frequencies of training windows."""
  counts = np.bincount(train_codes[train_codes < 4].ravel(), minlength=4) + 1.0
  return (counts / counts.sum())[targets[targets >= 0]]
