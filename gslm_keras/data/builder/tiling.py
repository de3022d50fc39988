"""Cutting one long sequence into corpus windows (`--task=unlabelled`).

Windows of `length` bases start every `stride` bases; a sequence shorter than
`length` gives one window padded with N (`on_shorter="pad"`) or none ("skip").
Each window is assigned to a split by the block of `split_block` bases its start
falls in (seeded hash of source, record and block), so overlapping neighbours
land in the same split; a sequence no longer than one block is assigned by its
bases (either strand), so that a sequence found in two inputs is in one split; a window reaching into a block of another split is
dropped (it would share bases with that split). Windows with more than
`max_n_fraction` of N among their bases (any letter other than A, C, G, T;
padding not counted), or sharing a k-mer
with the exclusion index, are dropped and counted.
"""

from __future__ import annotations

import dataclasses
import hashlib
from typing import Iterator

import numpy as np

from gslm_keras.data.builder.exclusion import KmerIndex, base_codes
from gslm_keras.dna import alphabet
from gslm_keras.encoding.schema import Record

# Reasons a window is dropped, as counted in the manifest.
DROP_REASONS = ("too_many_n", "excluded", "split_boundary")


@dataclasses.dataclass(frozen=True)
class TilingRule:
  """How a sequence becomes windows.

  Attributes:
    length: window length.
    stride: bases between window starts.
    both_strands: also write each window's reverse complement.
    max_n_fraction: drop windows with a larger share of non-ACGT letters.
    on_shorter: "skip" or "pad" (with N) a sequence shorter than `length`.
    soft_mask: flag the lower-case (soft-masked) positions in `soft_mask` (all
      zeros when False).
    split_fractions: (train, dev, test) shares of the blocks.
    split_block: bases per split block.
    seed: seed of the block assignment.
  """

  length: int
  stride: int
  both_strands: bool = False
  max_n_fraction: float = 0.1
  on_shorter: str = "skip"
  soft_mask: bool = True
  split_fractions: tuple[float, float, float] = (0.9, 0.05, 0.05)
  split_block: int = 10_000
  seed: int = 0

  def block_split(self, key: str) -> str:
    key = f"{self.seed}\t{key}".encode()
    value = int.from_bytes(hashlib.blake2b(key, digest_size=8).digest(), "little")
    u = value / 2.0**64
    train, dev, _ = self.split_fractions
    return "train" if u < train else "dev" if u < train + dev else "test"


@dataclasses.dataclass
class TileCounts:
  """What one source gave: records, bases, windows per split, drops by reason."""

  records: int = 0
  bases: int = 0
  shorter_than_length: int = 0
  padded: int = 0
  windows: dict = dataclasses.field(default_factory=lambda: {
      "train": 0, "dev": 0, "test": 0})
  dropped: dict = dataclasses.field(default_factory=lambda: dict.fromkeys(
      DROP_REASONS, 0))
  soft_masked_bases: int = 0

  def to_json(self) -> dict:
    return dataclasses.asdict(self)

  def merge(self, other: "TileCounts") -> "TileCounts":
    """Adds `other`'s counts into these and returns them."""
    for field in ("records", "bases", "shorter_than_length", "padded",
                  "soft_masked_bases"):
      setattr(self, field, getattr(self, field) + getattr(other, field))
    for mine, theirs in ((self.windows, other.windows), (self.dropped, other.dropped)):
      for key, value in theirs.items():
        mine[key] = mine.get(key, 0) + value
    return self


def _prefix(mask: np.ndarray) -> np.ndarray:
  return np.concatenate([[0], np.cumsum(mask, dtype=np.int64)])


def _soft_masked(text: str) -> int:
  return int((np.frombuffer(text.encode("ascii"), np.uint8) >= ord("a")).sum())


def tile(sequence: str, record_id: str, source: str, rule: TilingRule,
         index: KmerIndex | None, counts: TileCounts, fixed_split: str | None = None,
         chrom: str | None = None, offset: int = 0) -> Iterator[tuple[str, Record]]:
  """(split, record) of each kept window of `sequence` (already checked to hold
  only IUPAC letters). `fixed_split` puts every window in one split (a file given
  as --dev or --test); `offset` is the sequence's start on `chrom`."""
  n, length = len(sequence), rule.length
  counts.records += 1
  counts.bases += n
  counts.soft_masked_bases += _soft_masked(sequence)
  if n < length:
    counts.shorter_than_length += 1
    if rule.on_shorter != "pad":
      return
    counts.padded += 1
    sequence = sequence + alphabet.PAD_LETTER * (length - n)
  yield from _windows(sequence, 0, n, range(0, len(sequence) - length + 1, rule.stride),
                      record_id, source, rule, index, counts, fixed_split, chrom, offset)


def pieces(total: int, rule: TilingRule, bases: int) -> list[tuple[int, int, int]]:
  """How a long sequence is cut into pieces of about `bases` bases of window starts,
  each tiled on its own (`tile_piece`): (first start, end of the starts, end of the
  text the piece needs). One piece when the sequence is short or no longer than a
  split block (such a sequence is split by its bases as a whole)."""
  last = total - rule.length  # The last possible window start.
  if total <= max(bases, rule.split_block) or last < 0:
    return [(0, max(last, 0) + 1, total)]
  step = max(1, bases // rule.stride) * rule.stride
  return [(first, min(first + step, last + 1), min(total, first + step - 1 + rule.length))
          for first in range(0, last + 1, step)]


def tile_piece(text: str, first: int, stop: int, total: int, record_id: str, source: str,
               rule: TilingRule, index: KmerIndex | None, counts: TileCounts,
               fixed_split: str | None = None, chrom: str | None = None,
               offset: int = 0) -> Iterator[tuple[str, Record]]:
  """The windows of one piece of a sequence of `total` bases (one of `pieces`):
  `text` is the sequence from `first`, the windows start in [first, stop). Over
  all pieces, the same windows and counts as `tile` on the whole sequence."""
  if first == 0 and stop == max(total - rule.length, 0) + 1:
    yield from tile(text, record_id, source, rule, index, counts, fixed_split, chrom,
                    offset)
    return
  own = (total if stop == total - rule.length + 1 else stop) - first
  counts.records += first == 0
  counts.bases += own
  counts.soft_masked_bases += _soft_masked(text[:own])
  yield from _windows(text, first, total, range(first, stop, rule.stride), record_id,
                      source, rule, index, counts, fixed_split, chrom, offset)


def _windows(text: str, text_start: int, n: int, starts: range, record_id: str,
             source: str, rule: TilingRule, index: KmerIndex | None, counts: TileCounts,
             fixed_split: str | None, chrom: str | None, offset: int
             ) -> Iterator[tuple[str, Record]]:
  """The kept windows starting at `starts` (positions in the whole sequence of `n`
  bases, padding not counted) of `text`, which holds that sequence from
  `text_start` (padded with N when shorter than a window)."""
  # Long: the window loop, every drop reason counted where it is decided.
  length = rule.length
  codes = base_codes(text)
  lower = np.frombuffer(text.encode("ascii"), np.uint8) >= ord("a")
  n_prefix = _prefix(codes == alphabet.INVALID_CODE)
  if index is not None and len(index):
    hit_prefix = _prefix(index.hits(codes))
  upper = text.upper()
  # A sequence of at most one block is keyed by its bases, so that the same
  # sequence read twice (two tasks' tables, both strands) lands in one split.
  whole = ("seq\t" + min(upper[:n], alphabet.reverse_complement(upper[:n]))
           if n <= rule.split_block else None)

  def key(block):
    return whole or f"{source}\t{record_id}\t{block}"

  for start in starts:
    end = start + length
    block = start // rule.split_block
    split = fixed_split or rule.block_split(key(block))
    if fixed_split is None and n > rule.split_block and (
        end - 1) // rule.split_block != block and any(
        rule.block_split(key(b)) != split
        for b in range(block + 1, (end - 1) // rule.split_block + 1)):
      counts.dropped["split_boundary"] += 1
      continue
    real = min(end, n) - start  # Padding is not counted: it is never predicted.
    local = start - text_start
    if n_prefix[local + min(end, n) - start] - n_prefix[local] > rule.max_n_fraction * real:
      counts.dropped["too_many_n"] += 1
      continue
    if index is not None and len(index) and (
        hit_prefix[local + length - index.k + 1] - hit_prefix[local] > 0):
      counts.dropped["excluded"] += 1
      continue
    counts.windows[split] += 1 + rule.both_strands
    mask = (lower[local:local + length] if rule.soft_mask else np.zeros(length, bool)
            ).astype(np.uint8)
    where = dict(chrom=chrom or record_id, start=offset + start,
                 end=offset + min(end, n))
    window = upper[local:local + length]
    yield split, Record(f"{source}/{record_id}:{start}-{end}(+)", window,
                        strand="+", source=source,
                        soft_mask=mask.tobytes(), **where)
    if rule.both_strands:
      yield split, Record(f"{source}/{record_id}:{start}-{end}(-)",
                          alphabet.reverse_complement(window), strand="-",
                          source=source,
                          soft_mask=mask[::-1].tobytes(), **where)
