"""Streaming CSV/TSV reader: columns by name, one `RawRecord` per row."""

from __future__ import annotations

import dataclasses
from typing import Iterator

from gslm_keras.data.readers.spec import RawRecord
from gslm_keras.errors import InputError
from gslm_keras.io.text import READ_ERRORS, csv_rows, open_text, read_error


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
  number of fields, or unparseable quoting. Records are located at the line
  where their row starts.
  """
  try:
    with open_text(path) as handle:
      rows = csv_rows(handle, path, delimiter)
      try:
        _, header = next(rows)
      except StopIteration:
        raise InputError("empty file (no header row)", path=path) from None
      header = [name.strip() for name in header]
      index = _column_index(path, header, columns)
      n_rows = 0
      for line, row in rows:
        if not row or (len(row) == 1 and not row[0].strip()):
          continue
        n_rows += 1
        yield _record(path, line, row, header, index, columns)
      if n_rows == 0:
        raise InputError("no data rows after the header", path=path)
  except READ_ERRORS as error:
    raise read_error(path, error) from None


def _record(path: str, line: int, row: list[str], header: list[str],
            index: dict[str, int], columns: TableColumns) -> tuple[RawRecord, str | None]:
  if len(row) != len(header):
    raise InputError(f"has {len(row)} fields, the header has {len(header)}",
                     path=path, record=f"line {line}")
  get = lambda name: row[index[name]].strip() if name else None  # noqa: E731
  label = None
  if len(columns.labels) == 1:
    label = get(columns.labels[0])
  elif columns.labels:
    label = "\t".join(get(c) for c in columns.labels)
  start = _int_or_none(path, line, columns.start, get(columns.start))
  end = _int_or_none(path, line, columns.end, get(columns.end))
  return RawRecord(
      sequence=get(columns.sequence), locator=f"line {line}", id=get(columns.id),
      label=label, values=tuple(get(c) for c in columns.values),
      chrom=get(columns.chrom), start=start, end=end,
      strand=get(columns.strand)), get(columns.split)


def _int_or_none(path, line, column, text):
  if text is None:
    return None
  try:
    return int(text)
  except ValueError:
    raise InputError(f"column {column!r} = {text!r} is not an integer",
                     path=path, record=f"line {line}") from None


# The flag that names each kind of column (build_dataset; predict has the same
# names for sequence, id and coordinates).
_FLAGS = {"sequence": "--sequence_column", "label": "--label_column",
          "id": "--id_column", "split": "--split_column", "chrom": "--coordinate_columns",
          "start": "--coordinate_columns", "end": "--coordinate_columns",
          "strand": "--strand_column", "provided-feature": "--provided_features"}


def _column_index(path, header, columns: TableColumns) -> dict[str, int]:
  wanted = [("sequence", columns.sequence)]
  wanted += [("label", c) for c in columns.labels]
  wanted += [(kind, getattr(columns, kind))
             for kind in ("id", "split", "chrom", "start", "end", "strand")
             if getattr(columns, kind)]
  wanted += [("provided-feature", c) for c in columns.values]
  duplicates = sorted({n for n in header if header.count(n) > 1})
  if duplicates:
    raise InputError(f"header repeats column {duplicates[0]!r}", path=path,
                     record="line 1")
  index = {name: i for i, name in enumerate(header)}
  for kind, name in wanted:
    if name not in index:
      fix = (f"name the right one with {_FLAGS[kind]}" if kind != "provided-feature"
             else "the model or --provided_features needs it; add the column")
      raise InputError(
          f"{kind} column {name!r} not found; the header has: {', '.join(header)} "
          f"({fix})", path=path, record="line 1")
  return index
