"""Keeping evaluation sequences out of a pretraining corpus.

A corpus window is dropped when it shares an exact substring of at least `k`
bases (32 by default), on either strand, with any excluded sequence (DESIGN
"Language model": every dev and test sequence of every evaluation task). Two
sequences share a substring of >= k bases exactly when they share a k-mer, so
the index is the set of the excluded sequences' k-mers on both strands, each
packed in 2 bits per base (k <= 32 fits one uint64); a window is checked with
one sorted-array lookup per position. k-mers holding a letter other than A, C,
G, T are not indexed and never match.
"""

from __future__ import annotations

import os
from typing import Iterable, Iterator

import numpy as np

from gslm_keras.dna import alphabet
from gslm_keras.errors import InputError
from gslm_keras.io.files import sha256_file
from gslm_keras.io.text import READ_ERRORS, read_error

MAX_K = 32


def base_codes(sequence: str) -> np.ndarray:
  """uint8 codes A=0, C=1, G=2, T=3, anything else 4 (any case)."""
  raw = np.frombuffer(sequence.encode("ascii", errors="replace"), dtype=np.uint8)
  return alphabet.BASE_CODES[raw].astype(np.uint8)


def kmer_codes(codes: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
  """(packed k-mer at each start [n-k+1] uint64, whether it holds only ACGT)."""
  n = len(codes) - k + 1
  if n <= 0:
    return np.zeros(0, np.uint64), np.zeros(0, bool)
  packed = np.zeros(n, np.uint64)
  clean = np.minimum(codes, 3).astype(np.uint64)
  for offset in range(k):
    packed = (packed << np.uint64(2)) | clean[offset:offset + n]
  bad = np.concatenate([[0], np.cumsum(codes == alphabet.INVALID_CODE)])
  valid = (bad[k:k + n] - bad[:n]) == 0
  return packed, valid


def reverse_complement_codes(codes: np.ndarray) -> np.ndarray:
  """Codes of the reverse complement (A<->T, C<->G; other letters stay 4)."""
  return np.where(codes < 4, 3 - codes, codes)[::-1].astype(np.uint8)


def read_sequences(path: str) -> Iterator[str]:
  """The sequences of a FASTA file or a CSV/TSV with a `sequence` column (plain or
  gzip), for exclusion."""
  name = path.lower()[:-3] if path.lower().endswith(".gz") else path.lower()
  if name.endswith((".csv", ".tsv", ".txt")):
    from gslm_keras.data.readers import TableColumns, read_table

    delimiter = "," if name.endswith(".csv") else "\t"
    for record, _ in read_table(path, delimiter, TableColumns(labels=())):
      yield record.sequence
    return
  from gslm_keras.data.readers import read_fasta

  for record in read_fasta(path):
    yield record.sequence


class KmerIndex:
  """The k-mers (both strands) of a set of excluded sequences.

  Args:
    k: substring length that counts as shared (<= 32).
  """

  def __init__(self, k: int = MAX_K):
    if not 1 <= k <= MAX_K:
      raise ValueError(f"k={k}: expected 1 <= k <= {MAX_K}")
    self.k = k
    self._parts: list[np.ndarray] = []
    self._sorted: np.ndarray | None = None
    self.files: list[dict] = []

  def add_sequences(self, sequences: Iterable[str]) -> int:
    count = 0
    for sequence in sequences:
      codes = base_codes(sequence)
      for strand in (codes, reverse_complement_codes(codes)):
        packed, valid = kmer_codes(strand, self.k)
        self._parts.append(packed[valid])
      count += 1
    self._sorted = None
    return count

  def add_file(self, path: str) -> None:
    """Indexes every sequence of `path` and records the file in `files`.

    Raises:
      InputError: the file is missing, unreadable or not FASTA / a table with a
        `sequence` column.
    """
    if os.path.isdir(path):
      raise InputError("is a directory; --exclude takes FASTA or CSV/TSV files",
                       path=path)
    if not os.path.isfile(path):
      raise InputError("exclusion file not found (--exclude)", path=path)
    try:
      count = self.add_sequences(read_sequences(path))
    except InputError as error:
      raise InputError(f"cannot read the exclusion file (--exclude): {error.reason}",
                       path=path, record=error.record) from None
    except READ_ERRORS as error:
      raise read_error(path, error) from None
    except OSError as error:
      raise InputError(f"cannot read the exclusion file (--exclude): {error.strerror}",
                       path=path) from None
    self.files.append({"path": path, "sha256": sha256_file(path), "sequences": count})

  @property
  def kmers(self) -> np.ndarray:
    """Sorted unique packed k-mers."""
    if self._sorted is None:
      joined = np.concatenate(self._parts) if self._parts else np.zeros(0, np.uint64)
      self._sorted = np.unique(joined)
      self._parts = [self._sorted]
    return self._sorted

  def __len__(self) -> int:
    return len(self.kmers)

  def hits(self, codes: np.ndarray) -> np.ndarray:
    """bool per k-mer start of `codes` [n-k+1]: the k-mer is excluded. (The
    index holds both strands, so one strand of the query is enough.)"""
    packed, valid = kmer_codes(codes, self.k)
    table = self.kmers
    if not len(table) or not len(packed):
      return np.zeros(len(packed), bool)
    where = np.minimum(np.searchsorted(table, packed), len(table) - 1)
    return valid & (table[where] == packed)
