"""Streaming split assignment."""

from __future__ import annotations

import collections

import pytest

from gslm_keras.data.builder.splits import ChromosomeSplitter, StratifiedSplitter
from gslm_keras.errors import ConfigError


def _assign(splitter, labels):
  return [splitter.assign(label) for label in labels]


def test_full_blocks_hold_exact_fractions_per_class():
  labels = ["a"] * 1000 + ["b"] * 300 + ["c"] * 50
  got = collections.Counter(zip(labels, _assign(StratifiedSplitter((0.8, 0.1, 0.1), 3),
                                                labels)))
  for label, n in (("a", 1000), ("b", 300), ("c", 50)):
    assert got[(label, "train")] == 0.8 * n
    assert got[(label, "dev")] == 0.1 * n
    assert got[(label, "test")] == 0.1 * n


def test_interleaved_classes_split_the_same_as_grouped():
  # The assignment depends on a record's rank within its class, not on the others.
  grouped = ["a"] * 30 + ["b"] * 30
  interleaved = ["a", "b"] * 30
  first = _assign(StratifiedSplitter((0.7, 0.2, 0.1), 5), grouped)
  second = _assign(StratifiedSplitter((0.7, 0.2, 0.1), 5), interleaved)
  per_class = lambda labels, splits: {c: [s for l, s in zip(labels, splits) if l == c]
                                      for c in "ab"}  # noqa: E731
  assert per_class(grouped, first) == per_class(interleaved, second)


def test_seed_determines_assignment():
  labels = ["x"] * 200
  a = _assign(StratifiedSplitter((0.8, 0.1, 0.1), 1), labels)
  b = _assign(StratifiedSplitter((0.8, 0.1, 0.1), 1), labels)
  c = _assign(StratifiedSplitter((0.8, 0.1, 0.1), 2), labels)
  assert a == b
  assert a != c


def test_odd_fractions_use_largest_remainder():
  labels = ["x"] * 3000
  got = collections.Counter(_assign(StratifiedSplitter((2 / 3, 1 / 6, 1 / 6), 0), labels))
  assert abs(got["train"] - 2000) <= 3
  assert abs(got["dev"] - 500) <= 3


@pytest.mark.parametrize("fractions", [(0.5, 0.5), (0.8, 0.3, 0.1), (1.2, -0.1, -0.1)])
def test_bad_fractions(fractions):
  with pytest.raises(ConfigError, match="split_fractions"):
    StratifiedSplitter(fractions, 0)


def test_chromosome_splitter():
  splitter = ChromosomeSplitter(["chr8"], ["chr9", "chrX"])
  assert [splitter.assign(c) for c in ("chr1", "chr8", "chr9", "chrX")] == [
      "train", "dev", "test", "test"]
  with pytest.raises(ConfigError, match="chr8"):
    ChromosomeSplitter(["chr8"], ["chr8"])
