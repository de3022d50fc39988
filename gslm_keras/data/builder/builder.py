"""`build_dataset(config)`: a dataset directory of TFRecord shards and its manifest.

The inputs are streamed once (plus a label scan when the classes are not
declared); every record is checked, assigned a split and buffered into a shard
that a worker process writes; the manifest is written last. Everything goes to a
temporary directory beside the output, renamed into place only when complete: a
failed build leaves nothing behind.
"""

from __future__ import annotations

import contextlib
import json
import os

from absl import logging

from gslm_keras.data.builder import dedup, manifest, splits
from gslm_keras.data.builder.config import BuildConfig
from gslm_keras.data.builder.labels import LabelPlan, discover_labels
from gslm_keras.data.builder.shards import ShardJob, ShardWriterPool
from gslm_keras.io.progress import Progress
from gslm_keras.data.builder.sources import Sources
from gslm_keras.data.builder.tally import BuildTally
from gslm_keras.data.builder.target import check_output_dir
from gslm_keras.data.dataset_info import MANIFEST, DatasetInfo
from gslm_keras.data.readers import RawRecord
from gslm_keras.dna import alphabet
from gslm_keras.dna.length import LengthRule
from gslm_keras.encoding.schema import Record
from gslm_keras.errors import InputError
from gslm_keras.features.provided import ProvidedPlan
from gslm_keras.io.files import write_json_atomic
from gslm_keras.io.outputs import exclusive_output, written_beside


class SequenceCheck:
  """Checks letters and applies the length rule, counting what the rule did.

  Args:
    config: the build config.
    tally: where the lengths and the rule's actions are counted.
    rule: the length rule; taken from the first record checked when None and
      `config.length` is not set.
  """

  def __init__(self, config: BuildConfig, tally: BuildTally,
               rule: LengthRule | None = None):
    self.config = config
    self.tally = tally
    self.rule: LengthRule | None = rule or (
        config.length_rule(config.length) if config.length else None)

  def __call__(self, record: RawRecord, path: str, split: str) -> str | None:
    """The upper-case sequence to store, or None when the rule skips it."""
    sequence = check_letters(record, path)
    if self.rule is None:
      self.rule = self.config.length_rule(len(sequence))
      logging.info("Window length %d taken from the first record (%s, %s)",
                   len(sequence), path, record.locator)
    n = len(sequence)
    self.tally.length_seen(n)
    action = self.rule.action(n)
    if action == "error":
      raise InputError(self.rule.describe_violation(n), path=path, record=record.locator)
    if action != "keep":
      self.tally.action(split, {"crop": "cropped", "pad": "padded"}.get(action) or (
          "skipped_longer" if n > self.rule.length else "skipped_shorter"))
      if action == "skip":
        return None
    return sequence.upper()


def check_letters(record: RawRecord, path: str) -> str:
  """The record's sequence; InputError when it is empty or holds a letter that is
  not a IUPAC nucleotide code."""
  return alphabet.check_letters(record.sequence, path, record.locator)


def make_record(record: RawRecord, sequence: str, label, provided: ProvidedPlan,
                record_id: str, path: str) -> Record:
  """The stored record: id, checked sequence, encoded label, provided values."""
  values = provided.values(dict(zip(provided.columns, record.values)), record.chrom,
                           record.start, record.end, path, record.locator)
  return Record(record_id, sequence, label, values, record.chrom, record.start,
                record.end, record.strand)


def record_ids(sources: Sources):
  """(id, path, locator) of every input record, read again (duplicate ids only)."""
  for source, (spec, _) in enumerate(sources.specs):
    for n, (record, _) in enumerate(sources.records(source, {}), start=1):
      yield (record.id or f"{sources.id_prefix[source]}:{n}", spec.path, record.locator)


def encoder_json(config: BuildConfig, rule: LengthRule) -> str:
  """The `SequenceEncoder` config (JSON text) whose features the train split's
  statistics are computed with."""
  from gslm_keras.encoding.encoder import SequenceEncoder

  encoder = SequenceEncoder(rule, config.ambiguous, config.computed_features)
  return json.dumps(encoder.get_config(), sort_keys=True)


class _Builder:
  """State of one build: checks records, buffers shards, collects statistics."""

  def __init__(self, config: BuildConfig, sources: Sources, labels: LabelPlan,
               workdir: str, provided: ProvidedPlan, pool: ShardWriterPool):
    self.config = config
    self.sources = sources
    self.labels = labels
    self.workdir = workdir
    self.provided = provided
    self.pool = pool
    self.tally = BuildTally.new(labels.classes, provided.base_names)
    self.check = SequenceCheck(config, self.tally)
    self.assigner = config.split_assigner()
    self.buffers: dict[str, list[Record]] = {s: [] for s in splits.SPLITS}
    self.shard_count = {s: 0 for s in splits.SPLITS}
    self.meter: Progress | None = None
    self.n_read = 0

  def add(self, record: RawRecord, source: int, fixed: str | None,
          from_row: str | None, n_in_source: int):
    path = self.sources.specs[source][0].path
    label = self.labels.encode(record.label, path, record.locator)
    split = self.assigner.assign(self.labels.stratum(label), fixed, from_row,
                                 record.chrom, path, record.locator)
    sequence = self.check(record, path, split)
    if sequence is None:
      return
    record_id = record.id or f"{self.sources.id_prefix[source]}:{n_in_source}"
    stored = make_record(record, sequence, label, self.provided, record_id, path)
    self.tally.written(split, record_id, sequence, self.labels.class_names_of(label))
    self.buffers[split].append(stored)
    if len(self.buffers[split]) >= self.config.records_per_shard:
      self._submit(split)

  def _submit(self, split: str):
    records = self.buffers[split]
    if not records:
      return
    self.buffers[split] = []
    index = self.shard_count[split]
    self.shard_count[split] += 1
    self.pool.submit(ShardJob(
        split=split, index=index,
        path=os.path.join(self.workdir, f".{split}-{index:05d}.tmp"),
        compression=self.config.compression, records=records,
        label_kind=self.labels.label_kind,
        stats_encoder=(encoder_json(self.config, self.check.rule)
                       if split == "train" else None),
        n_provided=len(self.provided.names)))

  def progress(self, force: bool = False):
    if self.meter is None:
      self.meter = Progress("records read", self.config.progress_seconds,
                            paths=[spec.path for spec, _ in self.sources.specs])
    self.meter.update(self.n_read, ", ".join(f"{s}={n}" for s, n in
                                             self.tally.num_records.items()), force)

  def run(self):
    for source in range(len(self.sources.specs)):
      fixed = self.sources.specs[source][1]
      for n_in_source, (record, from_row) in enumerate(
          self.sources.records(source, self.tally.reader_skipped), start=1):
        self.n_read += 1
        self.add(record, source, fixed, from_row, n_in_source)
        self.progress()  # A clock read per record: huge records still report.
    for split in splits.SPLITS:
      self._submit(split)
    results = self.pool.finish()
    self.progress(force=True)
    return results

  def manifest(self, results) -> dict:
    """The manifest dict; renames the shards to their final names."""
    self.tally.missing_counts = dict(self.provided.missing_counts)
    return manifest.labelled(self.config, self.sources.specs, self.labels, self.provided,
                             self.check.rule, self.tally, results, self.workdir)


@contextlib.contextmanager
def labelled_build(config: BuildConfig):
  """The frame a labelled dataset is built in, by either engine: the output locked
  and checked, the inputs opened, the classes found, and a temporary directory
  beside the output, put in place when the block completes.

  Yields:
    (temporary directory, `Sources`, `LabelPlan`, opened `ProvidedPlan`).
  """
  output_dir = os.path.abspath(config.output_dir)
  with exclusive_output(output_dir, "dataset"):
    check_output_dir(output_dir, config.overwrite)
    sources = Sources(config)
    provided = config.provided_plan()
    try:
      with written_beside(output_dir, "building") as workdir:
        labels = discover_labels(config, sources)
        provided.open()  # A missing or bad bigWig fails here, before any record.
        yield workdir, sources, labels, provided
    finally:
      provided.close()
      sources.close()


def check_written(tally: BuildTally, sources: Sources) -> None:
  """InputError when no training record was written or two records share an id."""
  if tally is None or tally.num_records["train"] == 0:
    raise InputError("no training records were written (all skipped or no "
                     "train split)", path=sources.specs[0][0].path)
  dedup.check_unique_ids(tally.id_hashes, lambda: record_ids(sources))


def build_dataset(config: BuildConfig) -> DatasetInfo:
  """Builds the dataset `config` describes and returns its manifest.

  The output is taken with a lock (a second build into it fails at once), the
  dataset is written in a temporary directory beside it, and it replaces an old
  dataset (with `overwrite`) only when complete: a failed or killed build leaves
  the previous dataset whole, and the next build removes what it left.

  A `CorpusConfig` (`--task=unlabelled`) is built by `corpus.build_corpus`.

  Raises:
    ConfigError: invalid options or an output_dir that may not be replaced.
    InputError: bad input, naming the file, the record and what was wrong.
    OutputBusyError: another process is writing the same output_dir.
  """
  from gslm_keras.data.builder.corpus import CorpusConfig, build_corpus

  if isinstance(config, CorpusConfig):
    return build_corpus(config)
  with labelled_build(config) as (workdir, sources, labels, provided):
    with ShardWriterPool(config.num_workers or os.cpu_count() or 1) as pool:
      builder = _Builder(config, sources, labels, workdir, provided, pool)
      results = builder.run()
    check_written(builder.tally, sources)
    write_json_atomic(os.path.join(workdir, MANIFEST), builder.manifest(results))
  info = DatasetInfo.load(config.output_dir, verify="none")
  logging.info("Dataset written to %s: %s", info.directory, ", ".join(
      f"{s}={info.num_records(s)}" for s in info.splits))
  return info
