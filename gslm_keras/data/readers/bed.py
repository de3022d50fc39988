"""Streaming BED reader: intervals on a reference genome as fixed-length windows."""

from __future__ import annotations

import dataclasses
from typing import Iterator

from gslm_keras.data.readers.spec import RawRecord
from gslm_keras.dna import alphabet
from gslm_keras.errors import InputError
from gslm_keras.io.genome import Genome
from gslm_keras.io.text import READ_ERRORS, open_text, read_error


@dataclasses.dataclass(frozen=True)
class BedOptions:
  """How BED intervals become labelled windows.

  Attributes:
    reference: indexed FASTA of the genome (pyfaidx builds the .fai if needed).
    window: window length; each interval is resized around its centre (0: the
      interval itself, as language-model corpora use it).
    label_column: 1-based BED column holding the label (4 = name, 5 = score), or
      None to use the per-file label.
    strand_aware: reverse-complement windows of '-' intervals (BED column 6).
  """

  reference: str
  window: int
  label_column: int | None = None
  strand_aware: bool = True


def read_bed(path: str, genome: Genome, options: BedOptions, label: str | None,
             skipped: dict[str, int]) -> Iterator[RawRecord]:
  """Streams BED intervals as windows of `options.window` around their centres.

  Windows that run past a contig end are skipped and counted in
  `skipped["window_outside_contig"]`. Unknown contigs and malformed lines raise.
  """
  n_rows = 0
  try:
    with open_text(path) as handle:
      for line_no, line in enumerate(handle, start=1):
        text = line.rstrip("\r\n")
        if not text.strip() or text.startswith(("#", "track", "browser")):
          continue
        n_rows += 1
        fields = text.split("\t")
        where = f"line {line_no}"
        if len(fields) < 3:
          raise InputError(f"BED line has {len(fields)} fields, expected at least 3",
                           path=path, record=where)
        chrom = fields[0]
        try:
          start, end = int(fields[1]), int(fields[2])
        except ValueError:
          raise InputError(f"start/end {fields[1]!r}/{fields[2]!r} are not integers",
                           path=path, record=where) from None
        if start < 0 or end <= start:
          raise InputError(f"interval {start}-{end} is empty or negative",
                           path=path, record=where)
        if chrom not in genome.lengths:
          raise InputError(
              f"contig {chrom!r} is not in the reference {genome.path} "
              f"(it has {len(genome.lengths)} contigs, e.g. "
              f"{', '.join(list(genome.lengths)[:3])})", path=path, record=where)
        strand = fields[5] if len(fields) > 5 and fields[5] in "+-." else "."
        record_label = label
        if options.label_column is not None:
          if len(fields) < options.label_column:
            raise InputError(
                f"no column {options.label_column} for the label (line has "
                f"{len(fields)} fields)", path=path, record=where)
          record_label = fields[options.label_column - 1]
        centre = (start + end) // 2
        w_start = centre - options.window // 2 if options.window else start
        w_end = w_start + options.window if options.window else end
        if w_start < 0 or w_end > genome.lengths[chrom]:
          skipped["window_outside_contig"] = skipped.get("window_outside_contig", 0) + 1
          continue
        sequence = genome.fetch(chrom, w_start, w_end)
        if options.strand_aware and strand == "-":
          sequence = alphabet.reverse_complement(sequence)
        name = fields[3] if len(fields) > 3 and fields[3] not in ("", ".") else None
        yield RawRecord(
            sequence=sequence, locator=where,
            id=name or f"{chrom}:{w_start}-{w_end}({strand})", label=record_label,
            chrom=chrom, start=w_start, end=w_end, strand=strand)
  except READ_ERRORS as error:
    raise read_error(path, error) from None
  if n_rows == 0:
    raise InputError("empty BED file (no intervals)", path=path)
