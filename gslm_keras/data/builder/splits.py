"""Seeded split assignment that streams: stratified fractions, or by chromosome.

Stratified fractions without holding the data: each stratum (label) counts its
records; its records are dealt, block by block, into a seeded random permutation
of split slots whose sizes are the fractions of the block. Every full block
holds the exact fractions, so each class is split in proportion (up to one
partial block per class) and the assignment depends only on the seed and each
record's rank within its class.
"""

from __future__ import annotations

import hashlib
from typing import Sequence

import numpy as np

from gslm_keras.errors import ConfigError, InputError

SPLITS = ("train", "dev", "test")


def _block_size(fractions: Sequence[float]) -> int:
  for size in (10, 20, 50, 100, 1000):
    if all(abs(f * size - round(f * size)) < 1e-9 for f in fractions):
      return size
  return 1000


def _slots(fractions: Sequence[float], size: int) -> np.ndarray:
  """Split indices for one block, sizes by largest remainder."""
  exact = np.asarray(fractions) * size
  counts = np.floor(exact).astype(int)
  for i in np.argsort(-(exact - counts), kind="stable")[: size - counts.sum()]:
    counts[i] += 1
  return np.repeat(np.arange(len(fractions)), counts)


class StratifiedSplitter:
  """Assigns records to train/dev/test by seeded per-stratum blocks.

  Args:
    fractions: train, dev and test fractions, each >= 0, summing to 1.
    seed: the split seed.
  """

  def __init__(self, fractions: Sequence[float], seed: int):
    if len(fractions) != 3 or any(f < 0 for f in fractions) or (
        abs(sum(fractions) - 1.0) > 1e-6):
      raise ConfigError(
          f"split_fractions={list(fractions)}: expected three fractions "
          "(train, dev, test) >= 0 that sum to 1")
    self.fractions = tuple(float(f) for f in fractions)
    self.seed = int(seed)
    self._size = _block_size(self.fractions)
    self._slots = _slots(self.fractions, self._size)
    self._rank: dict[str, int] = {}
    self._block: dict[tuple[str, int], np.ndarray] = {}

  def _permutation(self, stratum: str, block: int) -> np.ndarray:
    digest = hashlib.sha256(f"{self.seed}\0{stratum}\0{block}".encode()).digest()
    rng = np.random.default_rng(int.from_bytes(digest[:8], "little"))
    return rng.permutation(self._slots)

  def _slots_of(self, stratum: str, block: int) -> np.ndarray:
    key = (stratum, block)
    if key not in self._block:
      if len(self._block) > 4096:
        self._block.clear()
      self._block[key] = self._permutation(stratum, block)
    return self._block[key]

  def split_at(self, stratum: str, rank: int) -> str:
    """The split of the record of `stratum` with 0-based `rank` (input order)."""
    block, offset = divmod(rank, self._size)
    return SPLITS[int(self._slots_of(stratum, block)[offset])]

  def count_before(self, stratum: str, rank: int, split: str) -> int:
    """How many records of `stratum` ranked before `rank` go to `split`."""
    block, offset = divmod(rank, self._size)
    index = SPLITS.index(split)
    per_block = int((self._slots == index).sum())
    return block * per_block + int((self._slots_of(stratum, block)[:offset] == index).sum())

  def assign(self, stratum: str) -> str:
    """The split of the next record of `stratum` (streaming, in input order)."""
    rank = self._rank.get(stratum, 0)
    self._rank[stratum] = rank + 1
    return self.split_at(stratum, rank)


class ChromosomeSplitter:
  """Held-out chromosomes: dev and test contigs by name, the rest train."""

  def __init__(self, dev: Sequence[str], test: Sequence[str]):
    overlap = sorted(set(dev) & set(test))
    if overlap:
      raise ConfigError(
          f"chromosome {overlap[0]!r} is in both --dev_chromosomes and "
          "--test_chromosomes")
    self.dev = frozenset(dev)
    self.test = frozenset(test)

  def assign(self, chrom: str) -> str:
    if chrom in self.test:
      return "test"
    if chrom in self.dev:
      return "dev"
    return "train"


class SplitAssigner:
  """The split of each record, by the build's one split rule.

  Files per split name their records' split; otherwise the table column, the
  held-out chromosomes or the stratified fractions decide. A dev fraction then
  moves a stratified part of train to dev.

  Args:
    fractions: (train, dev, test) fractions, or None.
    column: name of the table column naming each row's split, or None.
    dev_chromosomes, test_chromosomes: held-out contigs.
    dev_fraction: fraction of train moved to dev (0: none).
    seed: the split seed (the dev carve-out uses seed + 1).
  """

  def __init__(self, fractions: Sequence[float] | None = None, column: str | None = None,
               dev_chromosomes: Sequence[str] = (), test_chromosomes: Sequence[str] = (),
               dev_fraction: float = 0.0, seed: int = 0):
    self.column = column
    self.splitter: StratifiedSplitter | ChromosomeSplitter | None = None
    if fractions is not None:
      self.splitter = StratifiedSplitter(fractions, seed)
    elif dev_chromosomes or test_chromosomes:
      self.splitter = ChromosomeSplitter(dev_chromosomes, test_chromosomes)
    self.dev_splitter = None
    if dev_fraction:
      self.dev_splitter = StratifiedSplitter((1.0 - dev_fraction, dev_fraction, 0.0),
                                             seed + 1)

  def first_stage(self, fixed: str | None, from_row: str | None, chrom: str | None,
                  path: str, locator: str) -> str | None:
    """The split the record's file, split column or chromosome names; None when
    the stratified fractions decide (by the record's rank in its stratum).

    Args:
      fixed: the split its file belongs to, or None.
      from_row: the value of the split column, or None.
      chrom: the record's contig, or None.
      path, locator: where the record is, for errors.
    """
    if fixed is not None:
      return fixed
    if self.column is not None:
      if from_row not in SPLITS:
        raise InputError(
            f"split column {self.column!r} = {from_row!r}; expected one of "
            f"{', '.join(SPLITS)}", path=path, record=locator)
      return from_row
    if isinstance(self.splitter, ChromosomeSplitter):
      if chrom is None:
        raise InputError("a chromosome split needs coordinates for every record",
                         path=path, record=locator)
      return self.splitter.assign(chrom)
    return None

  def assign(self, stratum: str, fixed: str | None, from_row: str | None,
             chrom: str | None, path: str, locator: str) -> str:
    """The split of the next record in input order (arguments as `first_stage`;
    `stratum` is the record's class (set), kept in proportion by fractions)."""
    split = self.first_stage(fixed, from_row, chrom, path, locator)
    if split is None:
      split = self.splitter.assign(stratum)
    if split == "train" and self.dev_splitter is not None:
      split = self.dev_splitter.assign(stratum)
    return split

  def at_rank(self, stratum: str, first: str | None, rank: int, train_rank: int) -> str:
    """The split `assign` gives a record, from its place in input order instead of
    a running count (for engines that see records out of order).

    Args:
      stratum: the record's class (set).
      first: its `first_stage` split.
      rank: how many records of `stratum` came before it (all splits).
      train_rank: how many records of `stratum` whose `first_stage` is train
        came before it (used when `first` is not None).
    """
    split = first
    if split is None:
      split = self.splitter.split_at(stratum, rank)
      train_rank = self.splitter.count_before(stratum, rank, "train")
    if split == "train" and self.dev_splitter is not None:
      split = self.dev_splitter.split_at(stratum, train_rank)
    return split
