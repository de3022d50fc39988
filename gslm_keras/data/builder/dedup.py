"""Duplicates without holding the records: 64-bit hashes of ids and sequences.

Ids must be unique (an error names both records); duplicate sequences inside a
split and sequences shared between splits are counted for the manifest, not
dropped: a user decides what a duplicate means for the task.
"""

from __future__ import annotations

import hashlib
from typing import Any, Callable, Iterable, Mapping

import numpy as np

from gslm_keras.errors import InputError


def hash64(text: str) -> int:
  return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(),
                        "little")


class HashLog:
  """Append-only uint64 hashes, 8 bytes a record, flushed to arrays in blocks."""

  def __init__(self):
    self._hashes: list[np.ndarray] = []
    self._buffer: list[int] = []

  def add(self, value: int):
    self._buffer.append(value)
    if len(self._buffer) >= 65536:
      self._flush()

  def _flush(self):
    if self._buffer:
      self._hashes.append(np.array(self._buffer, np.uint64))
      self._buffer = []

  def extend(self, other: "HashLog") -> None:
    """Appends every hash of `other`."""
    self._flush()
    self._hashes.append(other.array())

  def array(self) -> np.ndarray:
    self._flush()
    if not self._hashes:
      return np.zeros(0, np.uint64)
    return np.concatenate(self._hashes)


def duplicated(hashes: np.ndarray) -> np.ndarray:
  """Hash values that occur more than once."""
  values, counts = np.unique(hashes, return_counts=True)
  return values[counts > 1]


def check_unique_ids(id_hashes: HashLog,
                     records: Callable[[], Iterable[tuple[str, str, str]]]) -> None:
  """Raises InputError naming the first repeated id and where it was seen first.

  Args:
    id_hashes: hashes of every record id written.
    records: re-reads the inputs as (id, path, locator); called only when a
      duplicate exists (the rare path), to name the records.
  """
  repeated = duplicated(id_hashes.array())
  if repeated.size == 0:
    return
  wanted = set(int(h) for h in repeated)
  seen: dict[int, str] = {}
  for record_id, path, locator in records():
    key = hash64(record_id)
    if key in wanted:
      if key in seen:
        raise InputError(f"duplicate id {record_id!r}, first seen at {seen[key]}",
                         path=path, record=locator)
      seen[key] = f"{path} {locator}"
  raise InputError(f"{repeated.size} duplicate record ids")  # pragma: no cover


def sequence_overlaps(seq_hashes: Mapping[str, HashLog]) -> dict[str, Any]:
  """Duplicate sequences per split and sequences shared by each pair of splits."""
  unique = {}
  report: dict[str, Any] = {}
  for split, log in seq_hashes.items():
    hashes = log.array()
    values, counts = np.unique(hashes, return_counts=True)
    unique[split] = values
    if hashes.size:
      report[f"{split}_duplicate_sequences"] = int((counts - 1).sum())
  for a, b in (("train", "dev"), ("train", "test"), ("dev", "test")):
    if a in unique and b in unique and unique[a].size and unique[b].size:
      report[f"{a}_{b}_shared_sequences"] = int(
          np.intersect1d(unique[a], unique[b], assume_unique=True).size)
  return report
