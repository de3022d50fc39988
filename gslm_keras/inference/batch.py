"""Batch prediction: every sequence of a FASTA, CSV or TSV file, streamed.

One output row per input record, in input order: its id, one column per class
or target (see `gslm_keras.inference.outputs`), the predicted class for
classifiers, and `length_adjustment`: "none", or "padded" / "cropped" when the
sequence's length was not the model's window (the dataset's length rule, or
`length_mismatch="adjust"`; counted in the header and the log). Memory holds one
batch.
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
from gslm_keras.features.shift import ShiftMeter, log_shift
from gslm_keras.inference import outputs
from gslm_keras.inference.model import LoadedModel
from gslm_keras.io.outputs import check_file_output, exclusive_output
from gslm_keras.io.progress import Progress
from gslm_keras.io.tables import Rejects, TableWriter, rejects_path
from gslm_keras.inference.config import UNKNOWN_LETTERS
from gslm_keras.tasks.supervised import task_type



def input_records(path: str, sequence_column: str, id_column: str | None,
                  value_columns: Sequence[str],
                  coordinate_columns: Sequence[str] | None) -> Iterator[RawRecord]:
  """The records of a FASTA, CSV or TSV input (predict's and embed's)."""
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


def checked_sequence(record: RawRecord, path: str, unknown_letters: str
                     ) -> tuple[str, int]:
  """(the sequence to predict, how many characters were read as N)."""
  sequence = record.sequence
  if not sequence:
    raise InputError("empty sequence", path=path, record=record.locator)
  if alphabet.find_invalid(sequence) is None:
    return sequence, 0
  if unknown_letters == "error":
    alphabet.check_letters(sequence, path, record.locator,
                           hint="use --unknown_letters=as_n to read such characters "
                           "as N")
  replaced = alphabet.replace_invalid(sequence)
  return replaced, sum(a != b for a, b in zip(sequence, replaced))


class _Batch:
  """Records waiting for one prediction call, and how their rows are written."""

  def __init__(self, model: LoadedModel, writer: TableWriter, rc_average: bool):
    self.model = model
    self.writer = writer
    self.rc_average = rc_average
    info = model.info
    # How far the inputs' features are from the training statistics.
    self.meter = (ShiftMeter(info.feature_names, *info.normalization())
                  if info.n_features else None)
    self.items: list[tuple[str, str, list[float] | None, str]] = []

  def shift(self, input_path: str) -> dict:
    """Which features moved from the training statistics (logged once)."""
    report = self.meter.report()
    log_shift(report, input_path)
    return {key: report[key] for key in ("rows_outside", "moved")}

  def add(self, record_id: str, sequence: str, provided, adjustment: str) -> None:
    self.items.append((record_id, sequence, provided, adjustment))

  def flush(self) -> None:
    if not self.items:
      return
    info = self.model.info
    provided = (np.array([r[2] for r in self.items], np.float32) if info.n_provided
                else None)
    values = self.model.predict([r[1] for r in self.items], provided, len(self.items),
                                self.rc_average, meter=self.meter)
    predicted = outputs.predicted_classes(info, values)
    rows = []
    for i, (record_id, _, _, adjustment) in enumerate(self.items):
      row = {"id": record_id, **dict(zip(self.model.columns, map(float, values[i])))}
      if predicted is not None:
        row["predicted_class"] = predicted[i]
      row["length_adjustment"] = adjustment
      rows.append(row)
    self.writer.write(rows)
    self.items.clear()


def describe_adjustments(stats: dict, rule) -> str:
  """"padded 3, cropped 2 to the 300 bp window (center-aligned)"."""
  return (f"padded {stats['padded']}, cropped {stats['cropped']} to the model's "
          f"{rule.length} bp window ({rule.align}-aligned)")


def _predict_records(records, input_path: str, unknown_letters: str, length_mismatch: str,
                     plan, batch: _Batch, batch_size: int, rejects: Rejects, stats: dict,
                     progress_seconds: float) -> None:
  """Checks each record and predicts it in batches; bad ones go to `rejects`."""
  meter = Progress("sequences read", progress_seconds, paths=[input_path])
  rule = batch.model.info.length_rule
  for n, record in enumerate(records, start=1):
    try:
      sequence, replaced = checked_sequence(record, input_path, unknown_letters)
      adjustment = rule.adjustment(len(sequence), length_mismatch, input_path,
                                   record.locator)
      provided = None
      if len(plan):
        provided = plan.values(dict(zip(plan.columns, record.values)), record.chrom,
                               record.start, record.end, input_path, record.locator)
    except InputError as error:
      rejects.handle(error)
      continue
    stats["replaced_letters"] += replaced
    if adjustment != "none":
      stats[adjustment] += 1
    batch.add(record.id or str(n), sequence, provided, adjustment)
    stats["records"] += 1
    if len(batch.items) >= batch_size:
      batch.flush()
    meter.update(stats["records"])
  batch.flush()


def predict_file(model_path: str, input_path: str, output_path: str,
                 batch_size: int = 256, rc_average: bool = False,
                 sequence_column: str = "sequence", id_column: str | None = None,
                 coordinate_columns: Sequence[str] | None = None,
                 unknown_letters: str = "error", on_error: str = "stop",
                 progress_seconds: float = 10.0, length_mismatch: str = "rule",
                 overwrite: bool = False) -> dict:
  """Predicts every sequence of a file and writes one row per record.

  The output is taken with a lock and appears only when complete.

  Args: the fields of `PredictConfig` (inference/config.py), where each is
  documented; `model_path`, `input_path` and `output_path` are its `model`,
  `input` and `output`.

  Returns:
    {"records", "rejected", "replaced_letters", "padded", "cropped", "seconds",
    "output"}.
  """
  if unknown_letters not in UNKNOWN_LETTERS:
    raise ConfigError(f"unknown_letters={unknown_letters!r}: expected error or as_n")
  check_file_output(output_path, overwrite)
  model = LoadedModel(model_path)
  info = model.info
  plan = info.provided_plan()
  if plan.bigwigs and not coordinate_columns:
    raise ConfigError(
        f"the model takes bigWig features ({', '.join(n for n, _ in plan.bigwigs)}); "
        "give a table with coordinates and --coordinate_columns=chrom,start,end")
  classes = task_type(info.task).classes
  header = (["id", *model.columns] + (["predicted_class"] if classes else [])
            + ["length_adjustment"])
  stats = dict.fromkeys(["records", "rejected", "replaced_letters", "padded", "cropped"], 0)
  rule = info.length_rule
  start = time.monotonic()
  with exclusive_output(output_path, "prediction output",
                        also=(rejects_path(output_path), output_path + ".summary.json")):
    rejects = Rejects(output_path, on_error)
    writer = TableWriter(output_path, header)
    batch = _Batch(model, writer, rc_average)
    ok = False
    try:
      with plan:
        records = input_records(input_path, sequence_column, id_column, plan.columns,
                           coordinate_columns)
        _predict_records(records, input_path, unknown_letters, length_mismatch, plan,
                         batch, batch_size, rejects, stats, progress_seconds)
      if stats["records"] == 0:
        raise InputError("no sequences to predict" + (
            f" ({rejects.describe()})" if rejects.count else ""), path=input_path)
      if batch.meter is not None:
        stats["feature_shift"] = batch.shift(input_path)
      ok = True
    finally:
      stats["rejected"] = rejects.count
      adjusted = stats["padded"] + stats["cropped"]
      comments = ([f"gslm_keras predict: {stats['records']} rows; {rejects.describe()}; "
                   f"{describe_adjustments(stats, rule)}"]
                  if rejects.count or adjusted else [])
      writer.close(ok, comments=comments, summary={**stats, "input": input_path})
      rejects.close(ok)
  stats.update(seconds=time.monotonic() - start, output=output_path)
  if rejects.count:
    logging.warning("%d records rejected, listed in %s", rejects.count, rejects.path)
  if stats["replaced_letters"]:
    logging.warning("%d characters outside the IUPAC codes read as N",
                    stats["replaced_letters"])
  if stats["padded"] + stats["cropped"]:
    logging.warning("%s (column length_adjustment)", describe_adjustments(stats, rule))
  logging.info("%d sequences predicted in %.1f s -> %s", stats["records"],
               stats["seconds"], output_path)
  return stats
