"""Pooled backbone embeddings: one vector per sequence, from any gslm_keras model
with a sequence backbone (a classifier's training run, a language model's, or a
preset).

The embedding of a sequence is the mean over positions of the backbone's output
(`tower_filters` numbers) for the model's window of it: cropped or padded as the
model's training data were (a classifier: its dataset's length rule, refusing
where it refused unless length_mismatch="adjust"; a language model: its corpus
window), one-hot encoded as in training. With both
strands (the default) it is the mean of the window's and its reverse
complement's embeddings, so a sequence and its reverse complement embed alike.
`embed_file` streams a FASTA, CSV or TSV file into a table (TSV or Parquet: id,
emb_0 ... emb_<C-1>, length_adjustment) or an NPZ (ids, embeddings), locked and
written whole or not at all.
"""

from __future__ import annotations

import time
from typing import Sequence

import numpy as np
import tensorflow as tf
from absl import logging

from gslm_keras.dna import ops
from gslm_keras.errors import ConfigError, InputError
from gslm_keras.inference.load import load
from gslm_keras.io.files import save_npz
from gslm_keras.io.outputs import check_file_output, exclusive_output
from gslm_keras.io.progress import Progress
from gslm_keras.io.tables import Rejects, TableWriter, rejects_path


class Embedder:
  """Pooled backbone embeddings of raw DNA strings for a loaded model.

  Args:
    model: a `LoadedModel` or `LanguageModel` of a training run (an export keeps
      no layers: refused in one line), or its path or preset name.

  Attributes:
    width: the embedding's length (the backbone's channels).
    length: the window the model reads.
  """

  def __init__(self, model):
    from gslm_keras.models.backbone import find_backbone

    self.model = load(model)
    # A LoadedModel keeps its layers in _keras (None for an export); a LanguageModel
    # in keras_model.
    keras_model = (self.model._keras if hasattr(self.model, "_keras")
                   else self.model.keras_model)
    if keras_model is None:
      raise ConfigError(f"{self.model.path} is a SavedModel export, which keeps no "
                        "layers: embeddings need the training run's directory or a preset")
    self.backbone = find_backbone(keras_model)
    if self.backbone is None:
      raise ConfigError(f"{self.model.path} has no sequence backbone (a features-only "
                        "model?): there is nothing to embed sequences with")
    self.width = int(self.backbone.output.shape[-1])
    info = self.model.info
    self.length = info.length_rule.length
    self.align = info.length_rule.align
    self.ambiguous = info.ambiguous
    self._call = tf.function(self._pooled, reduce_retracing=True)

  def _pooled(self, strings: tf.Tensor, both_strands: bool) -> tf.Tensor:
    return self._mean(ops.window_bytes(strings, self.length, self.align), both_strands)

  def of_windows(self, windows: Sequence[str], both_strands: bool = True
                 ) -> np.ndarray:
    """float32 [N, width] for windows read exactly as given (a language model reads
    any length; no cropping or padding), one call per distinct length."""
    out = np.zeros((len(windows), self.width), np.float32)
    by_length: dict[int, list[int]] = {}
    for i, window in enumerate(windows):
      by_length.setdefault(len(window), []).append(i)
    for length, rows in by_length.items():
      strings = tf.constant([windows[i] for i in rows], tf.string)
      out[rows] = self._exact(strings, length, both_strands).numpy()
    return out

  @tf.function(reduce_retracing=True)
  def _exact(self, strings: tf.Tensor, length: int, both_strands: bool) -> tf.Tensor:
    windows = ops.window_bytes(strings, length, "left")
    return self._mean(windows, both_strands)

  def _mean(self, windows: tf.Tensor, both_strands: bool) -> tf.Tensor:
    out = tf.reduce_mean(self.backbone(ops.one_hot(windows, self.ambiguous),
                                       training=False), axis=1)
    if both_strands:
      reverse = ops.reverse_complement_bytes(windows)
      out = (out + tf.reduce_mean(self.backbone(ops.one_hot(reverse, self.ambiguous),
                                                training=False), axis=1)) / 2.0
    return tf.cast(out, tf.float32)

  def __call__(self, sequences: Sequence[str], both_strands: bool = True,
               batch_size: int = 256) -> np.ndarray:
    """float32 [N, width] for DNA strings (any case; windowed as in training)."""
    parts = [self._call(tf.constant(list(sequences[i:i + batch_size]), tf.string),
                        both_strands).numpy()
             for i in range(0, len(sequences), batch_size)]
    return np.concatenate(parts) if parts else np.zeros((0, self.width), np.float32)


class _Sink:
  """Where embeddings go: table rows as they come (TSV, Parquet), or an NPZ written
  at the end; both appear whole or not at all."""

  def __init__(self, path: str, width: int):
    self.path, self.npz = path, path.endswith(".npz")
    self.ids: list[str] = []
    self.vectors: list[np.ndarray] = []
    self.writer = None if self.npz else TableWriter(
        path, ["id", *(f"emb_{i}" for i in range(width)), "length_adjustment"])

  def write(self, batch, vectors: np.ndarray) -> None:
    if self.npz:
      self.ids.extend(i for i, _, _ in batch)
      self.vectors.append(vectors)
      return
    self.writer.write([{"id": i, **{f"emb_{k}": float(v) for k, v in enumerate(row)},
                        "length_adjustment": a} for (i, _, a), row in zip(batch, vectors)])

  def close(self, ok: bool, summary: dict) -> None:
    if self.npz:
      if ok:
        save_npz(self.path, ids=np.asarray(self.ids),
                 embeddings=np.concatenate(self.vectors))
    else:
      self.writer.close(ok, summary=summary)


def embed_file(config) -> dict:
  """Embeds every sequence of `config.input` into `config.output` (an `EmbedConfig`).

  Returns:
    {"records", "rejected", "padded", "cropped", "width", "seconds", "output"}.

  Raises:
    ConfigError: a model without a backbone, an export.
    InputError: a bad record (with on_error=stop), or no record at all.
  """
  check_file_output(config.output, config.overwrite)
  embedder = Embedder(config.model)
  stats = dict.fromkeys(["records", "rejected", "padded", "cropped"], 0)
  start = time.monotonic()
  with exclusive_output(config.output, "embedding output",
                        also=(rejects_path(config.output),
                              config.output + ".summary.json")):
    rejects = Rejects(config.output, config.on_error)
    sink = _Sink(config.output, embedder.width)
    ok = False
    try:
      _embed_records(config, embedder, sink, rejects, stats)
      ok = True
    finally:
      stats["rejected"] = rejects.count
      sink.close(ok, {**stats, "input": config.input})
      rejects.close(ok)
  stats.update(width=embedder.width, seconds=time.monotonic() - start,
               output=config.output)
  logging.info("%d sequences embedded (%d numbers each) in %.1f s -> %s",
               stats["records"], embedder.width, stats["seconds"], config.output)
  return stats


def _embed_records(config, embedder: Embedder, sink: _Sink, rejects, stats) -> None:
  from gslm_keras.inference.batch import checked_sequence, input_records

  rule = embedder.model.info.length_rule
  # A language model's window is cut from any sequence; a classifier follows its rule.
  mismatch = ("adjust" if embedder.model.task.objective != "supervised"
              else config.length_mismatch)
  meter = Progress("sequences embedded", config.progress_seconds, paths=[config.input])
  batch: list[tuple[str, str, str]] = []

  def flush():
    if batch:
      sink.write(batch, embedder([s for _, s, _ in batch], config.both_strands,
                                 config.batch_size))
      batch.clear()

  for n, record in enumerate(input_records(config.input, config.sequence_column,
                                      config.id_column, (), None), start=1):
    try:
      sequence, _ = checked_sequence(record, config.input, "error")
      adjusted = rule.adjustment(len(sequence), mismatch, config.input, record.locator)
    except InputError as error:
      rejects.handle(error)
      continue
    if adjusted != "none":
      stats[adjusted] += 1
    batch.append((record.id or str(n), sequence, adjusted))
    stats["records"] += 1
    meter.update(stats["records"])
    if len(batch) >= config.batch_size:
      flush()
  flush()
  if stats["records"] == 0:
    raise InputError("no sequences to embed" + (
        f" ({rejects.describe()})" if rejects.count else ""), path=config.input)
