"""A genome FASTA read front to back in bounded memory: plain, gzip or bgzip,
no index needed.

`GenomeStream` knows every contig's length before the first base is used (from
an up-to-date `.fai` beside a plain or bgzip FASTA, else from one pass over the
file, which also checks every letter), and then hands out each contig's bases
in chunks, upper case, in file order. A 100 Mb chromosome is never held whole.
"""

from __future__ import annotations

import os
from typing import Iterator

from gslm_keras.dna import alphabet
from gslm_keras.errors import InputError
from gslm_keras.io import text

CHUNK_BASES = 1 << 20
_VALID = alphabet.VALID_LETTERS.encode()


class GenomeStream:
  """Contig lengths and chunked bases of a FASTA file.

  Args:
    path: FASTA, plain, gzip or bgzip.

  Attributes:
    path: as given.
    lengths: contig name -> length, in file order.

  Raises:
    InputError: a missing file, no record, text before the first header, a
      repeated contig name, a letter outside the IUPAC codes (naming contig and
      line).
  """

  def __init__(self, path: str):
    self.path = path
    self.lengths = _from_index(path) or self._count()
    if not self.lengths:
      raise InputError("has no FASTA record (expected '>name' header lines); is it "
                       "a FASTA file?", path=path)

  def _count(self) -> dict[str, int]:
    lengths: dict[str, int] = {}
    for name, _, data in self._lines():
      if name not in lengths:
        lengths[name] = 0
      lengths[name] += len(data)
    return lengths

  def _lines(self) -> Iterator[tuple[str, int, bytes]]:
    """(contig, line number, bases of the line) of every sequence line; a header
    yields its contig with no bases."""
    name = None
    seen: set[str] = set()
    with text.open_binary(self.path) as handle:
      try:
        for number, line in enumerate(handle, start=1):
          if line.startswith(b">"):
            name = line[1:].split(None, 1)[0].decode("utf-8", "replace") if (
                line[1:].strip()) else ""
            if not name or name in seen:
              raise InputError(f"contig {name!r} is {'repeated' if name else 'unnamed'}"
                               "; every FASTA record needs its own name", path=self.path,
                               record=f"line {number}")
            seen.add(name)
            yield name, number, b""
            continue
          data = line.strip()
          if not data:
            continue
          if name is None:
            raise InputError("sequence before the first '>' header: not a FASTA file",
                             path=self.path, record=f"line {number}")
          bad = data.translate(None, _VALID)
          if bad:
            raise InputError(
                f"character {chr(bad[0])!r} is not a nucleotide code (IUPAC); fix the "
                "FASTA or replace it with N", path=self.path,
                record=f"contig {name}, line {number}")
          yield name, number, data
      except text.READ_ERRORS as error:
        raise text.read_error(self.path, error) from None

  def chunks(self, chunk_bases: int = CHUNK_BASES) -> Iterator[tuple[str, int, bytes]]:
    """(contig, offset, bases) in file order, upper case, about `chunk_bases` at a
    time; a chunk never spans two contigs, and a contig of no bases yields none."""
    name, offset, parts, size = None, 0, [], 0
    for contig, _, data in self._lines():
      if contig != name:
        if parts:
          yield name, offset, b"".join(parts).upper()
        name, offset, parts, size = contig, 0, [], 0
        continue
      parts.append(data)
      size += len(data)
      if size >= chunk_bases:
        yield name, offset, b"".join(parts).upper()
        offset, parts, size = offset + size, [], 0
    if parts:
      yield name, offset, b"".join(parts).upper()


def _from_index(path: str) -> dict[str, int] | None:
  """Contig lengths from `<path>.fai` when it is there and newer than the FASTA
  (plain gzip has no such index)."""
  index = path + ".fai"
  if not os.path.exists(path) or not os.path.exists(index) or (
      os.path.getmtime(index) < os.path.getmtime(path)) or text.is_plain_gzip(path):
    return None
  lengths = {}
  with open(index, encoding="utf-8") as handle:
    for line in handle:
      fields = line.rstrip("\n").split("\t")
      if len(fields) < 2 or not fields[1].isdigit():
        return None  # Not a faidx index: count instead.
      lengths[fields[0]] = int(fields[1])
  return lengths or None
