"""What a build counts while it writes: records, classes, length actions,
lengths, skips, missing values, and the id and sequence hashes.

One tally per build on one machine; on Beam one per bundle, merged, so that both
engines describe their dataset from the same numbers.
"""

from __future__ import annotations

import dataclasses
from typing import Sequence

from gslm_keras.data.builder import dedup, splits


def _add_counts(total: dict, part: dict) -> None:
  for key, value in part.items():
    total[key] = total.get(key, 0) + value


@dataclasses.dataclass
class BuildTally:
  """Per-split counts of a labelled build.

  Attributes:
    num_records: records written per split.
    class_counts: per split, records per class name.
    actions: per split, what the length rule did ("cropped", "padded",
      "skipped_longer", "skipped_shorter") and how often.
    length_range: [shortest, longest] input sequence checked.
    reader_skipped: records the readers skipped, by reason.
    missing_counts: missing provided values per feature (fill_mean).
    id_hashes: 64-bit hashes of every record id (duplicates are errors).
    seq_hashes: per split, 64-bit hashes of every sequence (overlap counts).
  """

  num_records: dict
  class_counts: dict
  actions: dict
  length_range: list
  reader_skipped: dict
  missing_counts: dict
  id_hashes: dedup.HashLog
  seq_hashes: dict

  @classmethod
  def new(cls, classes: Sequence[str], provided_names: Sequence[str]) -> "BuildTally":
    return cls(
        num_records=dict.fromkeys(splits.SPLITS, 0),
        class_counts={s: dict.fromkeys(classes, 0) for s in splits.SPLITS},
        actions={s: {} for s in splits.SPLITS}, length_range=[None, None],
        reader_skipped={}, missing_counts=dict.fromkeys(provided_names, 0),
        id_hashes=dedup.HashLog(), seq_hashes={s: dedup.HashLog() for s in splits.SPLITS})

  def length_seen(self, n: int) -> None:
    lo, hi = self.length_range
    self.length_range = [n if lo is None else min(lo, n), n if hi is None else max(hi, n)]

  def action(self, split: str, key: str) -> None:
    self.actions[split][key] = self.actions[split].get(key, 0) + 1

  def written(self, split: str, record_id: str, sequence: str,
              class_names: Sequence[str]) -> None:
    """Counts one record written to `split`."""
    self.id_hashes.add(dedup.hash64(record_id))
    self.seq_hashes[split].add(dedup.hash64(sequence))
    for name in class_names:
      self.class_counts[split][name] += 1
    self.num_records[split] += 1

  def merge(self, other: "BuildTally") -> "BuildTally":
    """Adds `other` into this tally and returns it."""
    for split in splits.SPLITS:
      self.num_records[split] += other.num_records[split]
      _add_counts(self.class_counts[split], other.class_counts[split])
      _add_counts(self.actions[split], other.actions[split])
      self.seq_hashes[split].extend(other.seq_hashes[split])
    for n in other.length_range:
      if n is not None:
        self.length_seen(n)
    _add_counts(self.reader_skipped, other.reader_skipped)
    _add_counts(self.missing_counts, other.missing_counts)
    self.id_hashes.extend(other.id_hashes)
    return self


@dataclasses.dataclass
class CorpusTally:
  """Per-split window counts of a corpus build, and what every source gave.

  Attributes:
    num_records: windows written per split.
    seq_hashes: per split, 64-bit hashes of every window (overlap counts).
    counts: per source tag, its `tiling.TileCounts`.
  """

  num_records: dict = dataclasses.field(
      default_factory=lambda: dict.fromkeys(splits.SPLITS, 0))
  seq_hashes: dict = dataclasses.field(
      default_factory=lambda: {s: dedup.HashLog() for s in splits.SPLITS})
  counts: dict = dataclasses.field(default_factory=dict)

  def written(self, split: str, sequence: str) -> None:
    self.seq_hashes[split].add(dedup.hash64(sequence))
    self.num_records[split] += 1

  def merge(self, other: "CorpusTally") -> "CorpusTally":
    for split in splits.SPLITS:
      self.num_records[split] += other.num_records[split]
      self.seq_hashes[split].extend(other.seq_hashes[split])
    for source, counts in other.counts.items():
      if source in self.counts:
        self.counts[source].merge(counts)
      else:
        self.counts[source] = counts
    return self
