"""A reference genome FASTA (plain or bgzip) with random access through pyfaidx."""

from __future__ import annotations

import os

from gslm_keras.errors import InputError


class Genome:
  """A pyfaidx-backed reference with contig lengths and clear errors.

  Args:
    path: FASTA, plain or bgzip-compressed; a missing .fai index is built, and
      one older than the FASTA rebuilt (a stale index reads the wrong bases).
    keep_case: return bases as stored (soft-masked repeats in lower case)
      instead of upper case.
  """

  def __init__(self, path: str, keep_case: bool = False):
    import pyfaidx  # Deferred: only coordinate inputs need it.

    if not os.path.exists(path):
      raise InputError("reference FASTA not found", path=path)
    try:
      self._fasta = pyfaidx.Fasta(path, as_raw=True, sequence_always_upper=not keep_case,
                                  rebuild=True, build_index=True)
    except pyfaidx.UnsupportedCompressionFormat:
      raise InputError(
          "is gzip-compressed but not with bgzip; recompress it (zcat genome.fa.gz | "
          "bgzip > genome.fa.bgz) or decompress it", path=path) from None
    except PermissionError:
      raise InputError(
          "has no up-to-date .fai index and its folder is not writable, so none can "
          "be built; "
          f"run `samtools faidx {path}` where you can write, or copy the FASTA to a "
          "writable folder", path=path) from None
    except (pyfaidx.FastaIndexingError, OSError, ValueError) as error:
      raise InputError(f"cannot index the reference FASTA ({error})", path=path) from None
    self.path = path
    self.lengths = {name: len(record) for name, record in self._fasta.items()}

  def fetch(self, chrom: str, start: int, end: int) -> str:
    """Bases [start, end) of `chrom` (0-based, half-open), upper case unless
    `keep_case`."""
    return self._fasta[chrom][start:end]

  def close(self):
    self._fasta.close()

  def __enter__(self):
    return self

  def __exit__(self, *exc):
    self.close()
