"""Streaming per-column mean and variance that merge across shards and processes."""

from __future__ import annotations

import dataclasses

import numpy as np


@dataclasses.dataclass
class Moments:
  """Count, mean and sum of squared deviations per column, NaN left out.

  Merging uses Chan et al.'s pairwise update, so shards summarised in separate
  processes combine to the same result as one pass, without losing precision.
  """

  count: np.ndarray
  mean: np.ndarray
  m2: np.ndarray

  @classmethod
  def empty(cls, width: int) -> "Moments":
    return cls(np.zeros(width), np.zeros(width), np.zeros(width))

  @classmethod
  def of(cls, values: np.ndarray) -> "Moments":
    """Moments of a [n, width] array; NaN entries are not counted."""
    values = np.asarray(values, np.float64)
    present = ~np.isnan(values)
    count = present.sum(axis=0).astype(np.float64)
    total = np.where(present, values, 0.0).sum(axis=0)
    mean = np.divide(total, count, out=np.zeros_like(total), where=count > 0)
    deviation = np.where(present, values - mean, 0.0)
    return cls(count, mean, (deviation**2).sum(axis=0))

  def merge(self, other: "Moments") -> "Moments":
    count = self.count + other.count
    delta = other.mean - self.mean
    safe = np.where(count > 0, count, 1.0)
    mean = self.mean + delta * other.count / safe
    m2 = self.m2 + other.m2 + delta**2 * self.count * other.count / safe
    return Moments(count, mean, m2)

  def std(self) -> np.ndarray:
    """Population standard deviation; 1 where it is 0 or undefined, so that
    normalising a constant column gives zeros instead of NaN."""
    variance = np.divide(self.m2, self.count, out=np.zeros_like(self.m2),
                         where=self.count > 0)
    std = np.sqrt(variance)
    return np.where(std > 0, std, 1.0)


def merged(total, part):
  """`total.merge(part)` for anything with `merge` (`Moments`, tallies), where
  either may be None (nothing yet); None when both are."""
  if part is None:
    return total
  return part if total is None else total.merge(part)
