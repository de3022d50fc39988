"""Writing TFRecord shards in parallel worker processes.

GZIP compression costs about 6x the time of writing uncompressed on one core,
so each shard is serialised, compressed, hashed and summarised (normalisation
statistics of the train split) in a worker process while the main process keeps
reading input. At most two jobs per worker are in flight, so memory stays
bounded by a few shards' worth of records whatever the input size.
"""

from __future__ import annotations

import collections
import concurrent.futures
import concurrent.futures.process
import dataclasses
import multiprocessing
import os
from typing import Any, Sequence

import numpy as np

from gslm_keras.data.builder.stats import Moments
from gslm_keras.encoding.schema import serialize
from gslm_keras.io.files import sha256_file
from gslm_keras.startup import worker_start


@dataclasses.dataclass
class ShardJob:
  """One shard to write.

  Attributes:
    split: split name.
    index: shard number within the split.
    path: temporary output path (renamed by the builder when all is done).
    compression: "GZIP" or "NONE".
    records: `schema.Record`s.
    label_kind: "int" (class index), "float" (vector) or "none".
    stats_encoder: the `SequenceEncoder` config as JSON text when the shard's
      normalisation statistics are wanted (train split), else None.
    n_provided: number of provided-feature values per record.
  """

  split: str
  index: int
  path: str
  compression: str
  records: list
  label_kind: str
  stats_encoder: str | None
  n_provided: int


@dataclasses.dataclass
class ShardResult:
  split: str
  index: int
  path: str
  num_records: int
  sha256: str
  bytes: int
  computed: Moments | None
  provided: Moments | None


_ENCODERS: dict[str, Any] = {}
_STATS_BATCH = 2048


def _computed_features_fn(encoder_json: str):
  """A traced function computing the encoder's features, cached per process."""
  if encoder_json not in _ENCODERS:
    import json

    import tensorflow as tf

    from gslm_keras.encoding.encoder import SequenceEncoder

    encoder = SequenceEncoder.from_config(json.loads(encoder_json))

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string)])
    def compute(sequences):
      return encoder.encode_windows(encoder.windows(sequences))[1]

    _ENCODERS[encoder_json] = compute
  return _ENCODERS[encoder_json]


def write_shard(job: ShardJob) -> ShardResult:
  """Writes one shard to `job.path` and summarises it. Runs in a worker."""
  import tensorflow as tf

  options = tf.io.TFRecordOptions(compression_type=job.compression)
  with tf.io.TFRecordWriter(job.path, options) as writer:
    for record in job.records:
      writer.write(serialize(record, job.label_kind))
  computed = provided = None
  if job.stats_encoder is not None:
    compute = _computed_features_fn(job.stats_encoder)
    sequences = [r.sequence for r in job.records]
    computed = None
    for start in range(0, len(sequences), _STATS_BATCH):
      values = compute(tf.constant(sequences[start:start + _STATS_BATCH])).numpy()
      part = Moments.of(values)
      computed = part if computed is None else computed.merge(part)
    if job.n_provided:
      provided = Moments.of(np.array([r.provided for r in job.records], np.float32))
  return ShardResult(job.split, job.index, job.path, len(job.records),
                     sha256_file(job.path), os.path.getsize(job.path),
                     computed, provided)


class ShardWriterPool:
  """Runs `write_shard` jobs in worker processes (or inline with one worker).

  The processes start with the second job: a dataset of one shard is written
  inline, without paying for starting workers that import TensorFlow.

  Args:
    num_workers: worker processes; 1 writes in the calling process.
  """

  def __init__(self, num_workers: int):
    self.num_workers = max(1, int(num_workers))
    self._executor = None
    self._held: ShardJob | None = None
    self._pending: collections.deque = collections.deque()
    self.results: list[ShardResult] = []

  def submit(self, job: ShardJob) -> None:
    if self.num_workers == 1:
      self.results.append(write_shard(job))
      return
    if self._executor is None:
      if self._held is None:
        self._held = job
        return
      # spawn, not fork: forking a process that has started TensorFlow threads
      # can deadlock the child.
      self._executor = concurrent.futures.ProcessPoolExecutor(
          self.num_workers, mp_context=multiprocessing.get_context("spawn"),
          initializer=worker_start, initargs=(os.getpid(),))
      held, self._held = self._held, None
      self._pending.append(self._executor.submit(write_shard, held))
    self._pending.append(self._executor.submit(write_shard, job))
    while len(self._pending) > 2 * self.num_workers:
      self.results.append(self._result(self._pending.popleft()))

  def _result(self, future) -> ShardResult:
    try:
      return future.result()
    except concurrent.futures.process.BrokenProcessPool:
      from gslm_keras.errors import GslmError

      raise GslmError(
          "a shard-writing worker process died. Worker processes start by importing "
          "the calling script: if build_dataset runs from a script, put the call "
          "under `if __name__ == \"__main__\":`, or pass num_workers=1 to write in "
          "this process") from None

  def finish(self) -> Sequence[ShardResult]:
    if self._held is not None:
      held, self._held = self._held, None
      self.results.append(write_shard(held))
    while self._pending:
      self.results.append(self._result(self._pending.popleft()))
    return self.results

  def close(self) -> None:
    self._held = None
    if self._executor is not None:
      self._executor.shutdown(wait=True, cancel_futures=True)
      self._executor = None

  def __enter__(self):
    return self

  def __exit__(self, *exc):
    self.close()
