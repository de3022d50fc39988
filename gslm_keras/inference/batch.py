"""Batch prediction: every sequence of a FASTA, CSV or TSV file, streamed.

One output row per input record, in input order: its id, one column per class
or target (see `gslm_keras.inference.outputs`) and the predicted class for
classifiers. Memory holds one batch.
"""

from __future__ import annotations

import time
from typing import Iterator, Sequence

import numpy as np
from absl import logging

from gslm_keras.data import readers
from gslm_keras.data.readers import RawRecord
from gslm_keras.dna import alphabet
from gslm_keras.errors import ConfigError, InputError
from gslm_keras.inference import outputs
from gslm_keras.inference.model import LoadedModel
from gslm_keras.io.tables import TableWriter

UNKNOWN_LETTERS = ("error", "as_n")


def _records(path: str, sequence_column: str, id_column: str | None,
             value_columns: Sequence[str],
             coordinate_columns: Sequence[str] | None) -> Iterator[RawRecord]:
  spec = readers.InputSpec(path)
  fmt = spec.resolved_format()
  if fmt == "fasta":
    if value_columns or coordinate_columns:
      raise ConfigError("the model takes provided features; give a CSV/TSV with the "
                        f"columns {', '.join(value_columns or coordinate_columns)}")
    yield from readers.read_fasta(path)
  elif fmt in ("csv", "tsv"):
    chrom, start, end = coordinate_columns or (None, None, None)
    columns = readers.TableColumns(sequence=sequence_column, labels=(), id=id_column,
                                   values=tuple(value_columns), chrom=chrom, start=start,
                                   end=end)
    for record, _ in readers.read_table(path, "," if fmt == "csv" else "\t", columns):
      yield record
  else:
    raise ConfigError(f"--input {path}: expected FASTA, CSV or TSV, got {fmt}")


def _checked_sequence(record: RawRecord, path: str, unknown_letters: str) -> str:
  sequence = record.sequence
  if not sequence:
    raise InputError("empty sequence", path=path, record=record.locator)
  bad = alphabet.find_invalid(sequence)
  if bad is None:
    return sequence
  if unknown_letters == "error":
    raise InputError(
        f"character {bad[1]!r} at position {bad[0] + 1} is not a IUPAC nucleotide "
        "code (use --unknown_letters=as_n to read such characters as N)",
        path=path, record=record.locator)
  return alphabet.replace_invalid(sequence)


def predict_file(model_path: str, input_path: str, output_path: str,
                 batch_size: int = 256, rc_average: bool = False,
                 sequence_column: str = "sequence", id_column: str | None = None,
                 coordinate_columns: Sequence[str] | None = None,
                 unknown_letters: str = "error", progress_seconds: float = 10.0) -> dict:
  """Predicts every sequence of a file and writes one row per record.

  Args:
    model_path: a training run's model_dir or a SavedModel export.
    input_path: FASTA (ids from the headers) or CSV/TSV with a header.
    output_path: `.tsv` (or any other name) for TSV, `.parquet` for Parquet.
    batch_size: sequences per prediction call.
    rc_average: average each prediction with that of the reverse complement.
    sequence_column, id_column: table columns (ids are `<n>` when no id column).
    coordinate_columns: table columns chrom, start, end (0-based, half-open),
      needed when the model has bigWig features.
    unknown_letters: "error" (a character outside the IUPAC codes stops with the
      file and record named) or "as_n" (it is read as N).
    progress_seconds: seconds between progress lines.

  Returns:
    {"records": n, "seconds": s, "output": path}.
  """
  if unknown_letters not in UNKNOWN_LETTERS:
    raise ConfigError(f"unknown_letters={unknown_letters!r}: expected error or as_n")
  model = LoadedModel(model_path)
  info = model.info
  plan = info.provided_plan()
  if plan.bigwigs and not coordinate_columns:
    raise ConfigError(
        f"the model takes bigWig features ({', '.join(n for n, _ in plan.bigwigs)}); "
        "give a table with coordinates and --coordinate_columns=chrom,start,end")
  classes = info.task in ("binary", "multiclass")
  header = ["id", *model.columns] + (["predicted_class"] if classes else [])
  start = last = time.monotonic()
  count = 0
  batch: list[tuple[str, str, list[float] | None]] = []

  def flush(writer):
    provided = (np.array([r[2] for r in batch], np.float32) if info.n_provided
                else None)
    values = model.predict([r[1] for r in batch], provided, len(batch), rc_average)
    predicted = outputs.predicted_classes(info, values)
    rows = []
    for i, (record_id, _, _) in enumerate(batch):
      row = {"id": record_id, **dict(zip(model.columns, map(float, values[i])))}
      if predicted is not None:
        row["predicted_class"] = predicted[i]
      rows.append(row)
    writer.write(rows)
    batch.clear()

  with plan, TableWriter(output_path, header) as writer:
    for n, record in enumerate(_records(input_path, sequence_column, id_column,
                                        plan.columns, coordinate_columns), start=1):
      sequence = _checked_sequence(record, input_path, unknown_letters)
      provided = None
      if info.n_provided:
        provided = plan.values(dict(zip(plan.columns, record.values)), record.chrom,
                               record.start, record.end, input_path, record.locator)
      batch.append((record.id or str(n), sequence, provided))
      count += 1
      if len(batch) >= batch_size:
        flush(writer)
        now = time.monotonic()
        if now - last >= progress_seconds:
          last = now
          logging.info("%d sequences predicted (%.0f/s)", count, count / (now - start))
    if batch:
      flush(writer)
    if count == 0:
      raise InputError("no sequences to predict", path=input_path)
  seconds = time.monotonic() - start
  logging.info("%d sequences predicted in %.1f s -> %s", count, seconds, output_path)
  return {"records": count, "seconds": seconds, "output": output_path}
