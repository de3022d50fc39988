"""Streaming readers: FASTA, CSV/TSV and BED + reference genome to raw records.

Readers only parse; they check what only they can see (file structure, required
columns, coordinates) and yield `RawRecord`s one at a time, so memory does not
grow with the input. Sequence letters, lengths, labels and feature values are
checked by the builder, which knows the dataset's rules.
"""

from __future__ import annotations

import csv
import dataclasses
import gzip
import io
import os
import re
import zlib
from typing import Iterator, Sequence

from gslm_keras.errors import ConfigError, InputError

FORMATS = ("csv", "tsv", "fasta", "bed", "genbank")
_EXTENSIONS = {
    ".csv": "csv", ".tsv": "tsv", ".txt": "tsv", ".fa": "fasta", ".fasta": "fasta",
    ".fna": "fasta", ".fas": "fasta", ".bed": "bed", ".gb": "genbank",
    ".gbk": "genbank", ".genbank": "genbank", ".gbff": "genbank",
}


@dataclasses.dataclass(frozen=True)
class InputSpec:
  """One input file, written `path[:key=value...]` on the command line.

  Attributes:
    path: the file (plain or gzip-compressed).
    label: label given to every record of the file (FASTA or BED per class).
    format: one of FORMATS; detected from the extension when None.
  """

  path: str
  label: str | None = None
  format: str | None = None

  @classmethod
  def parse(cls, text: str) -> "InputSpec":
    path, *options = text.strip().split(":")
    kwargs = {}
    for option in options:
      key, sep, value = option.partition("=")
      if not sep or key not in ("label", "format"):
        raise ConfigError(
            f"input {text!r}: option {option!r} is not label=... or format=...")
      kwargs[key] = value
    if not path:
      raise ConfigError(f"input {text!r}: empty path")
    return cls(path=path, **kwargs)

  def resolved_format(self) -> str:
    if self.format:
      if self.format not in FORMATS:
        raise ConfigError(
            f"input {self.path}: format={self.format!r}; expected one of "
            f"{', '.join(FORMATS)}")
      return self.format
    name = self.path.lower()
    if name.endswith(".gz"):
      name = name[:-3]
    fmt = _EXTENSIONS.get(os.path.splitext(name)[1])
    if fmt is None:
      raise ConfigError(
          f"input {self.path}: cannot tell the format from the extension; add "
          f":format=<{'|'.join(FORMATS)}>")
    return fmt

  def __str__(self) -> str:
    options = [f"{k}={v}" for k, v in (("label", self.label), ("format", self.format))
               if v is not None]
    return ":".join([self.path] + options)


@dataclasses.dataclass
class RawRecord:
  """One sequence as read, before validation.

  Attributes:
    sequence: the sequence text as found (any case).
    locator: where it is in its file ("line 12", "record 3").
    id: identifier from the file, or None (the builder makes one).
    label: raw label text, or None for unlabelled input.
    values: raw text of the requested provided-feature columns, in order.
    chrom, start, end, strand: coordinates (0-based, half-open) when known.
  """

  sequence: str
  locator: str
  id: str | None = None
  label: str | None = None
  values: Sequence[str] = ()
  chrom: str | None = None
  start: int | None = None
  end: int | None = None
  strand: str | None = None


def open_text(path: str):
  """Opens a plain or gzip/bgzip text file, with a clear error if it is missing."""
  if not os.path.exists(path):
    raise InputError("file not found", path=path)
  if os.path.isdir(path):
    raise InputError("is a directory, expected a file", path=path)
  with open(path, "rb") as probe:
    magic = probe.read(2)
  if magic == b"\x1f\x8b":
    return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8-sig", newline="")
  # utf-8-sig: spreadsheet exports often start with a byte-order mark.
  return open(path, "r", encoding="utf-8-sig", newline="")


# Failures while reading a file's bytes: not text, or a damaged gzip stream.
READ_ERRORS = (UnicodeDecodeError, zlib.error, EOFError, gzip.BadGzipFile)


def read_error(path: str, error: Exception) -> InputError:
  if isinstance(error, UnicodeDecodeError):
    return InputError("is not UTF-8 text (a binary file?)", path=path)
  return InputError(f"is a damaged gzip file ({error})", path=path)


# ---------------------------------------------------------------------------
# FASTA


def read_fasta(path: str, label: str | None = None,
               label_regex: str | None = None) -> Iterator[RawRecord]:
  """Streams FASTA records; label per file, or from the header by regex group 1.

  Raises InputError for an empty file, text before the first header, an empty
  header or a record without sequence.
  """
  pattern = re.compile(label_regex) if label_regex else None
  n_records = 0
  header = None
  header_line = 0
  chunks: list[str] = []

  def finish():
    name, _, _ = header.partition(" ")
    record = f"record {n_records} '{name}' (line {header_line})"
    if not name:
      raise InputError("empty FASTA header", path=path, record=f"line {header_line}")
    sequence = "".join(chunks)
    if not sequence:
      raise InputError("record has no sequence", path=path, record=record)
    record_label = label
    if pattern is not None:
      match = pattern.search(header)
      if not match:
        raise InputError(
            f"header {header!r} does not match --fasta_label_regex "
            f"{pattern.pattern!r}", path=path, record=record)
      record_label = match.group(1) if pattern.groups else match.group(0)
    return RawRecord(sequence=sequence, locator=record, id=name, label=record_label)

  try:
    with open_text(path) as handle:
      for line_no, line in enumerate(handle, start=1):
        line = line.rstrip("\r\n")
        if line.startswith(">"):
          if header is not None:
            yield finish()
          n_records += 1
          header = line[1:].strip()
          header_line = line_no
          chunks = []
        elif header is None:
          if line.strip() and not line.startswith(";"):
            raise InputError(
                "text before the first '>' header: not a FASTA file?",
                path=path, record=f"line {line_no}")
        else:
          # Spaces inside a sequence line are kept so validation can name them;
          # only the line ends are not part of the sequence.
          chunks.append(line.rstrip())
  except READ_ERRORS as error:
    raise read_error(path, error) from None
  if header is None:
    raise InputError("empty FASTA file (no '>' header)", path=path)
  yield finish()


# ---------------------------------------------------------------------------
# CSV / TSV


@dataclasses.dataclass(frozen=True)
class TableColumns:
  """Which columns of a table hold what.

  Attributes:
    sequence: column with the sequence.
    labels: label columns (one for classes; one or more for regression); empty
      for unlabelled input.
    id: id column, or None (ids are made from the file name and row).
    values: provided-feature columns, in order.
    split: column naming each row's split (train/dev/test), or None.
    chrom, start, end, strand: coordinate columns, or None.
  """

  sequence: str = "sequence"
  labels: tuple[str, ...] = ("label",)
  id: str | None = None
  values: tuple[str, ...] = ()
  split: str | None = None
  chrom: str | None = None
  start: str | None = None
  end: str | None = None
  strand: str | None = None


def read_table(path: str, delimiter: str,
               columns: TableColumns) -> Iterator[tuple[RawRecord, str | None]]:
  """Streams rows of a CSV/TSV with a header as (record, split or None).

  Raises InputError for an empty file, a missing column, a row with the wrong
  number of fields, or unparseable quoting.
  """
  reader = None
  try:
    with open_text(path) as handle:
      reader = csv.reader(handle, delimiter=delimiter, strict=True)
      try:
        header = next(reader)
      except StopIteration:
        raise InputError("empty file (no header row)", path=path) from None
      header = [name.strip() for name in header]
      index = _column_index(path, header, columns)
      n_rows = 0
      for row in reader:
        line = reader.line_num
        if not row or (len(row) == 1 and not row[0].strip()):
          continue
        n_rows += 1
        if len(row) != len(header):
          raise InputError(
              f"has {len(row)} fields, the header has {len(header)}",
              path=path, record=f"line {line}")
        get = lambda name: row[index[name]].strip() if name else None  # noqa: E731
        label = None
        if len(columns.labels) == 1:
          label = get(columns.labels[0])
        elif columns.labels:
          label = "\t".join(get(c) for c in columns.labels)
        start = _int_or_none(path, line, columns.start, get(columns.start))
        end = _int_or_none(path, line, columns.end, get(columns.end))
        yield RawRecord(
            sequence=get(columns.sequence), locator=f"line {line}",
            id=get(columns.id), label=label,
            values=tuple(get(c) for c in columns.values),
            chrom=get(columns.chrom), start=start, end=end,
            strand=get(columns.strand)), get(columns.split)
      if n_rows == 0:
        raise InputError("no data rows after the header", path=path)
  except csv.Error as error:
    raise InputError(f"malformed {'TSV' if delimiter == chr(9) else 'CSV'}: {error}",
                     path=path, record=f"line {reader.line_num}") from None
  except READ_ERRORS as error:
    raise read_error(path, error) from None


def _int_or_none(path, line, column, text):
  if text is None:
    return None
  try:
    return int(text)
  except ValueError:
    raise InputError(f"column {column!r} = {text!r} is not an integer",
                     path=path, record=f"line {line}") from None


def _column_index(path, header, columns: TableColumns) -> dict[str, int]:
  wanted = [("sequence column", columns.sequence)]
  wanted += [("label column", c) for c in columns.labels]
  wanted += [(f"{kind} column", getattr(columns, kind))
             for kind in ("id", "split", "chrom", "start", "end", "strand")
             if getattr(columns, kind)]
  wanted += [("provided-feature column", c) for c in columns.values]
  duplicates = sorted({n for n in header if header.count(n) > 1})
  if duplicates:
    raise InputError(f"header repeats column {duplicates[0]!r}", path=path,
                     record="line 1")
  index = {name: i for i, name in enumerate(header)}
  for kind, name in wanted:
    if name not in index:
      raise InputError(
          f"{kind} {name!r} not found; the header has: {', '.join(header)}",
          path=path, record="line 1")
  return index


# ---------------------------------------------------------------------------
# BED + reference genome


@dataclasses.dataclass(frozen=True)
class BedOptions:
  """How BED intervals become labelled windows.

  Attributes:
    reference: indexed FASTA of the genome (pyfaidx builds the .fai if needed).
    window: window length; each interval is resized around its centre.
    label_column: 1-based BED column holding the label (4 = name, 5 = score), or
      None to use the per-file label.
    strand_aware: reverse-complement windows of '-' intervals (BED column 6).
  """

  reference: str
  window: int
  label_column: int | None = None
  strand_aware: bool = True


class Genome:
  """A pyfaidx-backed reference with contig lengths and clear errors."""

  def __init__(self, path: str):
    import pyfaidx  # Deferred: only BED input needs it.

    if not os.path.exists(path):
      raise InputError("reference FASTA not found", path=path)
    try:
      self._fasta = pyfaidx.Fasta(path, as_raw=True, sequence_always_upper=True,
                                  rebuild=False, build_index=True)
    except pyfaidx.UnsupportedCompressionFormat:
      raise InputError(
          "is gzip-compressed but not with bgzip; recompress it (zcat genome.fa.gz | "
          "bgzip > genome.fa.bgz) or decompress it", path=path) from None
    except PermissionError:
      raise InputError(
          "has no .fai index and its folder is not writable, so none can be built; "
          f"run `samtools faidx {path}` where you can write, or copy the FASTA to a "
          "writable folder", path=path) from None
    except (pyfaidx.FastaIndexingError, OSError, ValueError) as error:
      raise InputError(f"cannot index the reference FASTA ({error})", path=path) from None
    self.path = path
    self.lengths = {name: len(record) for name, record in self._fasta.items()}

  def fetch(self, chrom: str, start: int, end: int) -> str:
    return self._fasta[chrom][start:end]

  def close(self):
    self._fasta.close()


def read_bed(path: str, genome: Genome, options: BedOptions, label: str | None,
             skipped: dict[str, int]) -> Iterator[RawRecord]:
  """Streams BED intervals as windows of `options.window` around their centres.

  Windows that run past a contig end are skipped and counted in
  `skipped["window_outside_contig"]`. Unknown contigs and malformed lines raise.
  """
  from gslm_keras.dna import alphabet  # Deferred to keep the reader light.

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
        w_start = centre - options.window // 2
        w_end = w_start + options.window
        if w_start < 0 or w_end > genome.lengths[chrom]:
          skipped["window_outside_contig"] = skipped.get("window_outside_contig", 0) + 1
          continue
        sequence = genome.fetch(chrom, w_start, w_end)
        if options.strand_aware and strand == "-":
          sequence = alphabet.reverse_complement_np(sequence)
        name = fields[3] if len(fields) > 3 and fields[3] not in ("", ".") else None
        yield RawRecord(
            sequence=sequence, locator=where,
            id=name or f"{chrom}:{w_start}-{w_end}({strand})", label=record_label,
            chrom=chrom, start=w_start, end=w_end, strand=strand)
  except READ_ERRORS as error:
    raise read_error(path, error) from None
  if n_rows == 0:
    raise InputError("empty BED file (no intervals)", path=path)
