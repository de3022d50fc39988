"""`build_dataset(config)`: a dataset directory of TFRecord shards and its manifest.

The inputs are streamed once (plus a label scan when the classes are not
declared); every record is checked, assigned a split and buffered into a shard
that a worker process writes; the manifest is written last. Everything goes to a
temporary directory beside the output, renamed into place only when complete: a
failed build leaves nothing behind.
"""

from __future__ import annotations

import json
import os

from absl import logging

from gslm_keras.data.build import dedup, manifest, splits
from gslm_keras.data.build.config import BuildConfig
from gslm_keras.data.build.labels import LabelPlan, discover_labels
from gslm_keras.data.build.shards import ShardJob, ShardWriterPool
from gslm_keras.io.progress import Progress
from gslm_keras.data.build.sources import Sources
from gslm_keras.data.build.target import check_output_dir
from gslm_keras.data.dataset_info import MANIFEST, DatasetInfo
from gslm_keras.data.readers import RawRecord
from gslm_keras.dna import alphabet
from gslm_keras.dna.length import LengthRule
from gslm_keras.encoding.schema import Record
from gslm_keras.errors import InputError
from gslm_keras.features.provided import ProvidedPlan
from gslm_keras.features.spec import output_names
from gslm_keras.io.files import write_json_atomic
from gslm_keras.io.outputs import exclusive_output, written_beside


class _SequenceCheck:
  """Checks letters and applies the length rule; counts what the rule did."""

  def __init__(self, config: BuildConfig):
    self.config = config
    self.rule: LengthRule | None = config.length_rule(config.length) if config.length else None
    self.actions: dict[str, dict[str, int]] = {s: {} for s in splits.SPLITS}
    self.length_range: list[int | None] = [None, None]

  def __call__(self, record: RawRecord, path: str, split: str) -> str | None:
    """The upper-case sequence to store, or None when the rule skips it."""
    sequence = record.sequence
    if sequence is None or not sequence.strip():
      raise InputError("empty sequence", path=path, record=record.locator)
    bad = alphabet.find_invalid(sequence)
    if bad is not None:
      position, char = bad
      raise InputError(
          f"character {char!r} at position {position + 1} is not a IUPAC nucleotide "
          "code (ACGTUN RYSWKMBDHV, any case)", path=path, record=record.locator)
    if self.rule is None:
      self.rule = self.config.length_rule(len(sequence))
      logging.info("Window length %d taken from the first record (%s, %s)",
                   len(sequence), path, record.locator)
    n = len(sequence)
    lo, hi = self.length_range
    self.length_range = [n if lo is None else min(lo, n), n if hi is None else max(hi, n)]
    action = self.rule.action(n)
    if action == "error":
      raise InputError(self.rule.describe_violation(n), path=path, record=record.locator)
    if action != "keep":
      key = {"crop": "cropped", "pad": "padded"}.get(action) or (
          "skipped_longer" if n > self.rule.length else "skipped_shorter")
      self.actions[split][key] = self.actions[split].get(key, 0) + 1
      if action == "skip":
        return None
    return sequence.upper()


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
    self.check = _SequenceCheck(config)
    self.assigner = splits.SplitAssigner(
        config.split_fractions, config.split_column, config.dev_chromosomes,
        config.test_chromosomes, config.dev_fraction, config.seed)
    self.buffers: dict[str, list[Record]] = {s: [] for s in splits.SPLITS}
    self.shard_count = {s: 0 for s in splits.SPLITS}
    self.num_records = {s: 0 for s in splits.SPLITS}
    self.class_counts = {s: {c: 0 for c in labels.classes} for s in splits.SPLITS}
    self.reader_skipped: dict[str, int] = {}
    self.id_hashes = dedup.HashLog()
    self.seq_hashes = {s: dedup.HashLog() for s in splits.SPLITS}
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
    provided = self.provided.values(
        dict(zip(self.provided.columns, record.values)), record.chrom, record.start,
        record.end, path, record.locator)
    record_id = record.id or f"{self.sources.id_prefix[source]}:{n_in_source}"
    self.id_hashes.add(dedup.hash64(record_id))
    self.seq_hashes[split].add(dedup.hash64(sequence))
    for name in self.labels.class_names_of(label):
      self.class_counts[split][name] += 1
    self.buffers[split].append(Record(record_id, sequence, label, provided, record.chrom,
                                      record.start, record.end, record.strand))
    self.num_records[split] += 1
    if len(self.buffers[split]) >= self.config.records_per_shard:
      self._submit(split)

  def _encoder_json(self) -> str:
    from gslm_keras.encoding.encoder import SequenceEncoder

    encoder = SequenceEncoder(self.check.rule, self.config.ambiguous,
                              self.config.computed_features)
    return json.dumps(encoder.get_config(), sort_keys=True)

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
        stats_encoder=self._encoder_json() if split == "train" else None,
        n_provided=len(self.provided.names)))

  def progress(self, force: bool = False):
    if self.meter is None:
      self.meter = Progress("records read", self.config.progress_seconds,
                            paths=[spec.path for spec, _ in self.sources.specs])
    self.meter.update(self.n_read, ", ".join(f"{s}={n}" for s, n in
                                             self.num_records.items()), force)

  def run(self):
    for source in range(len(self.sources.specs)):
      fixed = self.sources.specs[source][1]
      for n_in_source, (record, from_row) in enumerate(
          self.sources.records(source, self.reader_skipped), start=1):
        self.n_read += 1
        self.add(record, source, fixed, from_row, n_in_source)
        self.progress()  # A clock read per record: huge records still report.
    for split in splits.SPLITS:
      self._submit(split)
    results = self.pool.finish()
    self.progress(force=True)
    return results

  def record_ids(self):
    """(id, path, locator) of every input record, read again (duplicate ids only)."""
    for source, (spec, _) in enumerate(self.sources.specs):
      for n, (record, _) in enumerate(self.sources.records(source, {}), start=1):
        yield (record.id or f"{self.sources.id_prefix[source]}:{n}", spec.path,
               record.locator)

  def manifest(self, results) -> dict:
    """The manifest dict; renames the shards to their final names."""
    config, labels = self.config, self.labels
    shards, computed, provided = manifest.install_shards(results, self.workdir,
                                                         config.compression)
    split_entries = {split: {
        "num_records": self.num_records[split], "shards": shards[split],
        "length_actions": self.check.actions[split],
        "class_counts": self.class_counts[split] if labels.classes else None,
    } for split in splits.SPLITS}
    computed_names = output_names(config.computed_features)
    return {
        **manifest.header(config),
        "sources": manifest.source_entries(config, self.sources.specs),
        "sequence": manifest.sequence_section(config, self.check.rule.to_json(),
                                              self.check.length_range),
        "computed_features": [f.to_json() for f in config.computed_features],
        "provided_features": self.provided.describe(),
        "missing_values": manifest.missing_section(self.provided),
        "feature_names": computed_names + self.provided.names,
        "normalization": manifest.normalization(
            len(computed_names), len(self.provided.names), computed, provided,
            self.num_records["train"]),
        "task": labels.describe(),
        "compression": config.compression,
        "split_rule": manifest.split_rule(config),
        "splits": split_entries,
        "skipped_by_reader": self.reader_skipped,
        "sequence_overlaps": dedup.sequence_overlaps(self.seq_hashes),
    }


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
  from gslm_keras.data.build.corpus import CorpusConfig, build_corpus

  if isinstance(config, CorpusConfig):
    return build_corpus(config)
  output_dir = os.path.abspath(config.output_dir)
  with exclusive_output(output_dir, "dataset"):
    check_output_dir(output_dir, config.overwrite)
    sources = Sources(config)
    provided = config.provided_plan()
    try:
      with written_beside(output_dir, "building") as workdir:
        labels = discover_labels(config, sources)
        provided.open()
        with ShardWriterPool(config.num_workers or os.cpu_count() or 1) as pool:
          builder = _Builder(config, sources, labels, workdir, provided, pool)
          results = builder.run()
        if builder.num_records["train"] == 0:
          raise InputError("no training records were written (all skipped or no "
                           "train split)", path=sources.specs[0][0].path)
        dedup.check_unique_ids(builder.id_hashes, builder.record_ids)
        write_json_atomic(os.path.join(workdir, MANIFEST), builder.manifest(results))
    finally:
      provided.close()
      sources.close()
  info = DatasetInfo.load(output_dir, verify="none")
  logging.info("Dataset written to %s: %s", output_dir, ", ".join(
      f"{s}={info.num_records(s)}" for s in info.splits))
  return info
