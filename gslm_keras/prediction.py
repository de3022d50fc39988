"""Predictions of a trained model on raw sequences: in memory, and streamed from files.

A model is either a training run's directory (`model.keras` plus its
dataset_info.json) or a SavedModel export (its `serving_default` signature). Both go
through the same encoding: the dataset's `SequenceEncoder`, in Python for the
first, inside the exported graph for the second.
"""

from __future__ import annotations

import csv
import json
import os
import time
from typing import Iterator, Sequence

import numpy as np
from absl import logging

from gslm_keras.data.builder import MISSING_MARKERS, parse_finite
from gslm_keras.data.manifest import MANIFEST, DatasetInfo
from gslm_keras.errors import ConfigError, DatasetError, InputError


def load_trained(model_dir: str):
  """(keras model, DatasetInfo it was trained with) from a train model_dir."""
  import keras

  import gslm_keras.models.layers  # noqa: F401  Registers the custom layers.

  path = os.path.join(model_dir, "model.keras")
  if not os.path.exists(path):
    raise DatasetError(f"{model_dir} has no model.keras: not a finished training run")
  with open(os.path.join(model_dir, MANIFEST), encoding="utf-8") as handle:
    info = DatasetInfo(json.load(handle), model_dir)
  return keras.models.load_model(path), info


def predict_sequences(model, info: DatasetInfo, sequences: Sequence[str],
                      provided: np.ndarray | None = None,
                      batch_size: int = 256) -> np.ndarray:
  """Model outputs for raw DNA strings.

  The sequences go through the dataset's `SequenceEncoder` (window rule, one-hot,
  computed features), exactly as in training.

  Args:
    model: a trained model.
    info: the dataset it was trained on (its manifest).
    sequences: DNA strings, any case, any length (cropped or padded by the rule).
    provided: float [N, n_provided] provided features, NaN for missing; required
      when the dataset has provided features.
    batch_size: sequences per batch.

  Returns:
    float32 [N, outputs]: probabilities (classifiers) or values (regression), as
    the model outputs them (binary: the positive class only).
  """
  import tensorflow as tf

  from gslm_keras.data.encoder import SequenceEncoder

  if info.n_provided and provided is None:
    raise ConfigError(f"the model takes {info.n_provided} provided features "
                      f"({', '.join(info.provided_feature_names)}); pass `provided`")
  encoder = SequenceEncoder.from_info(info)
  outputs = []
  for start in range(0, len(sequences), batch_size):
    chunk = tf.constant(list(sequences[start:start + batch_size]))
    extra = None if provided is None else provided[start:start + batch_size]
    outputs.append(np.asarray(model(encoder(chunk, extra), training=False)))
  return np.concatenate(outputs) if outputs else np.zeros((0, model.output.shape[-1]))


class Predictor:
  """A trained model behind one call: sequences (+ provided) -> output columns.

  Args:
    path: a training run's model_dir, or a SavedModel export directory.
  """

  def __init__(self, path: str):
    from gslm_keras.serving.signatures import output_columns

    self.path = path
    if os.path.exists(os.path.join(path, "saved_model.pb")):
      import tensorflow as tf

      manifest = os.path.join(path, "assets", MANIFEST)
      if not os.path.exists(manifest):
        raise DatasetError(f"{path} is a SavedModel without assets/{MANIFEST}: not a "
                           "gslm_keras export")
      with open(manifest, encoding="utf-8") as handle:
        self.info = DatasetInfo(json.load(handle), path)
      self._signature = tf.saved_model.load(path).signatures["serving_default"]
      self._model = None
    elif os.path.exists(os.path.join(path, "model.keras")):
      self._model, self.info = load_trained(path)
      self._signature = None
    else:
      raise DatasetError(f"{path} is neither a training run (model.keras) nor a "
                         "SavedModel export (saved_model.pb)")
    self.columns = output_columns(self.info)

  def __call__(self, sequences: Sequence[str], provided=None) -> np.ndarray:
    """float32 [N, columns]: one column per class (binary: both) or target."""
    from gslm_keras.serving.signatures import to_columns

    if self._signature is not None:
      import tensorflow as tf

      args = {"sequence": tf.constant(list(sequences), tf.string)}
      if self.info.n_provided:
        args["provided_features"] = tf.constant(np.asarray(provided, np.float32))
      out = self._signature(**args)
      key = "values" if self.info.task == "regression" else "probabilities"
      return out[key].numpy()
    return to_columns(self.info, predict_sequences(self._model, self.info, sequences,
                                                   provided, len(sequences) or 1))


def provided_plan(info: DatasetInfo):
  """(input columns to read, function raw values -> model's provided vector)."""
  described = info.data["provided_features"]
  base = [f["name"] for f in described if f["source"] != "missing_indicator"]
  indicators = [f["of"] for f in described if f["source"] == "missing_indicator"]

  def vector(values: list[float]) -> list[float]:
    by_name = dict(zip(base, values))
    return values + [1.0 if np.isnan(by_name[name]) else 0.0 for name in indicators]

  return base, vector


def _records(path: str, sequence_column: str, id_column: str | None,
             provided_columns: list[str]) -> Iterator:
  from gslm_keras.data import readers

  spec = readers.InputSpec(path)
  fmt = spec.resolved_format()
  if fmt == "fasta":
    if provided_columns:
      raise ConfigError("the model takes provided features; give a CSV/TSV with the "
                        f"columns {', '.join(provided_columns)}")
    yield from readers.read_fasta(path)
  elif fmt in ("csv", "tsv"):
    columns = readers.TableColumns(sequence=sequence_column, labels=(), id=id_column,
                                   values=tuple(provided_columns))
    for record, _ in readers.read_table(path, "," if fmt == "csv" else "\t", columns):
      yield record
  else:
    raise ConfigError(f"--input {path}: expected FASTA, CSV or TSV, got {fmt}")


class _Writer:
  """Writes prediction rows as TSV or Parquet to a temporary name, renamed on close."""

  def __init__(self, path: str, header: list[str]):
    self.path = path
    self.tmp = f"{path}.tmp-{os.getpid()}"
    self.header = header
    self.parquet = path.endswith(".parquet")
    if self.parquet:
      self._writer = None
    else:
      self._handle = open(self.tmp, "w", newline="")
      self._csv = csv.writer(self._handle, delimiter="\t", lineterminator="\n")
      self._csv.writerow(header)

  def write(self, ids, values: np.ndarray, predicted):
    if self.parquet:
      import pyarrow as pa
      import pyarrow.parquet as pq

      columns = {"id": pa.array(ids, pa.string())}
      for j, name in enumerate(self.header[1:1 + values.shape[1]]):
        columns[name] = pa.array(values[:, j], pa.float32())
      if predicted is not None:
        columns["predicted_class"] = pa.array(predicted, pa.string())
      table = pa.table(columns)
      if self._writer is None:
        self._writer = pq.ParquetWriter(self.tmp, table.schema)
      self._writer.write_table(table)
      return
    for i, record_id in enumerate(ids):
      row = [record_id, *(f"{v:.6g}" for v in values[i])]
      if predicted is not None:
        row.append(predicted[i])
      self._csv.writerow(row)

  def close(self, ok: bool):
    if self.parquet:
      if self._writer is not None:
        self._writer.close()
    else:
      self._handle.close()
    if ok and os.path.exists(self.tmp):
      os.replace(self.tmp, self.path)
    elif os.path.exists(self.tmp):
      os.remove(self.tmp)


def predict_file(model_path: str, input_path: str, output_path: str,
                 batch_size: int = 256, rc_average: bool = False,
                 sequence_column: str = "sequence", id_column: str | None = None,
                 unknown_letters: str = "error", progress_seconds: float = 10.0) -> dict:
  """Predicts every sequence of a FASTA/CSV/TSV file, streaming, in batches.

  Writes one row per input record, in input order: its id, one column per class
  (probabilities) or target (values), and the predicted class for classifiers.
  Memory holds one batch at a time.

  Args:
    model_path: a training run's model_dir or a SavedModel export.
    input_path: FASTA (ids from the headers) or CSV/TSV with a header.
    output_path: `.tsv` (or any other name) for TSV, `.parquet` for Parquet.
    batch_size: sequences per prediction call.
    rc_average: average each prediction with that of the reverse complement.
    sequence_column, id_column: table columns (ids are `<n>` when no id column).
    unknown_letters: "error" (a character outside the IUPAC codes stops with the
      file and record named) or "as_n" (it is read as N).
    progress_seconds: seconds between progress lines.

  Returns:
    {"records": n, "seconds": s, "output": path}.
  """
  from gslm_keras.dna import alphabet

  if unknown_letters not in ("error", "as_n"):
    raise ConfigError(f"unknown_letters={unknown_letters!r}: expected error or as_n")
  predictor = Predictor(model_path)
  info = predictor.info
  provided_columns, provided_vector = provided_plan(info)
  classes = info.task in ("binary", "multiclass")
  writer = _Writer(output_path, ["id", *predictor.columns]
                   + (["predicted_class"] if classes else []))
  start = last = time.monotonic()
  count = 0
  batch: list = []

  def flush():
    ids = [r[0] for r in batch]
    sequences = [r[1] for r in batch]
    provided = np.array([r[2] for r in batch], np.float32) if provided_columns else None
    values = predictor(sequences, provided)
    if rc_average:
      reverse = [alphabet.reverse_complement_np(s) for s in sequences]
      values = (values + predictor(reverse, provided)) / 2.0
    predicted = ([info.classes[int(i)] for i in values.argmax(axis=1)] if classes
                 else None)
    writer.write(ids, values, predicted)
    batch.clear()

  ok = False
  try:
    for n, record in enumerate(_records(input_path, sequence_column, id_column,
                                        provided_columns), start=1):
      sequence = record.sequence
      if not sequence:
        raise InputError("empty sequence", path=input_path, record=record.locator)
      bad = alphabet.find_invalid(sequence)
      if bad is not None:
        if unknown_letters == "error":
          raise InputError(
              f"character {bad[1]!r} at position {bad[0] + 1} is not a IUPAC nucleotide "
              "code (use --unknown_letters=as_n to read such characters as N)",
              path=input_path, record=record.locator)
        sequence = alphabet.replace_invalid(sequence)
      provided = None
      if provided_columns:
        provided = provided_vector([
            float("nan") if text in MISSING_MARKERS else parse_finite(
                text, f"provided feature {name!r}", input_path, record.locator)
            for text, name in zip(record.values, provided_columns)])
      batch.append((record.id or str(n), sequence, provided))
      count += 1
      if len(batch) >= batch_size:
        flush()
        now = time.monotonic()
        if now - last >= progress_seconds:
          last = now
          logging.info("%d sequences predicted (%.0f/s)", count, count / (now - start))
    if batch:
      flush()
    if count == 0:
      raise InputError("no sequences to predict", path=input_path)
    ok = True
  finally:
    writer.close(ok)
  seconds = time.monotonic() - start
  logging.info("%d sequences predicted in %.1f s -> %s", count, seconds, output_path)
  return {"records": count, "seconds": seconds, "output": output_path}

