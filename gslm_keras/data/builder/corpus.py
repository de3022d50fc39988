"""`build_corpus(config)`: a language-model corpus (`build_dataset --task=unlabelled`).

FASTA genomes (plain, gzip or bgzip; one source tag per file), sequence tables
(labels ignored) and BED intervals on a reference are cut into windows (see
`tiling.py`), each with its source tag and soft-mask flags, and written with the
labelled datasets' contract: TFRecord shards written by worker processes, a
manifest written last, all in a temporary directory renamed into place only
when complete. The manifest's `corpus` section records the window rule, what
every source gave and lost, and what was excluded (files, checksums, k, k-mers).
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
from typing import Any, Iterator

from absl import logging

from gslm_keras.data import readers
from gslm_keras.data.builder import dedup, manifest, splits
from gslm_keras.data.builder.exclusion import KmerIndex
from gslm_keras.data.builder.shards import ShardJob, ShardWriterPool
from gslm_keras.data.builder.tally import CorpusTally
from gslm_keras.data.builder.target import check_output_dir
from gslm_keras.data.builder.tiling import TileCounts, TilingRule, tile
from gslm_keras.data.dataset_info import MANIFEST, UNLABELLED, DatasetInfo
from gslm_keras.dna import alphabet
from gslm_keras.dna.length import LengthRule
from gslm_keras.errors import ConfigError, InputError
from gslm_keras.io.files import sha256_file, write_json_atomic
from gslm_keras.io.genome import Genome
from gslm_keras.io.outputs import exclusive_output, written_beside
from gslm_keras.io.progress import Progress


@dataclasses.dataclass(frozen=True)
class CorpusConfig:
  """Everything a corpus build needs; validated when created.

  Attributes:
    output_dir: the dataset directory to create.
    input: files whose windows are split by blocks (`rule.split_fractions`).
    train, dev, test: files whose windows all go to one split (for example a
      species held out as test).
    rule: window length, stride, strands, N limit, splits.
    exclude: files (FASTA, or CSV/TSV with a `sequence` column) whose sequences
      no window may share a `exclude_k`-base substring with, on either strand.
    exclude_k: the shared-substring length that excludes a window.
    sequence_column, id_column: table columns.
    reference: reference FASTA for BED inputs.
    bed_strand_aware: reverse-complement '-' intervals.
    overwrite, records_per_shard, num_workers, compression, progress_seconds,
      name, command: as in `BuildConfig`.
  """

  output_dir: str
  rule: TilingRule
  input: tuple = ()
  train: tuple = ()
  dev: tuple = ()
  test: tuple = ()
  exclude: tuple[str, ...] = ()
  exclude_k: int = 32
  sequence_column: str = "sequence"
  id_column: str | None = None
  reference: str | None = None
  bed_strand_aware: bool = True
  overwrite: bool = False
  records_per_shard: int = 10000
  num_workers: int = 0
  compression: str = "GZIP"
  progress_seconds: float = 10.0
  name: str | None = None
  command: str | None = None

  def __post_init__(self):
    from gslm_keras.data.readers.spec import input_specs

    for name in ("input", "train", "dev", "test"):
      object.__setattr__(self, name, input_specs(getattr(self, name)))
    if isinstance(self.exclude, str):
      object.__setattr__(self, "exclude", (self.exclude,))
    rule = self.rule
    if not (self.input or self.train):
      raise ConfigError("a corpus needs --input (split by blocks) or --train files")
    if rule.length < 1 or rule.stride < 1:
      raise ConfigError(f"--length={rule.length}, --stride={rule.stride}: expected >= 1")
    if not 0.0 <= rule.max_n_fraction <= 1.0:
      raise ConfigError(f"--max_n_fraction={rule.max_n_fraction}: expected 0 to 1")
    if rule.on_shorter not in ("skip", "pad", "error"):
      raise ConfigError(f"--on_shorter={rule.on_shorter}: expected skip, pad or error")
    if len(rule.split_fractions) != 3 or abs(sum(rule.split_fractions) - 1) > 1e-6 or min(
        rule.split_fractions) < 0:
      raise ConfigError(f"--split_fractions={rule.split_fractions}: expected three "
                        "shares >= 0 summing to 1")
    if rule.split_block < 1:
      raise ConfigError(f"--split_block={rule.split_block}: expected >= 1")
    if self.exclude and not 1 <= self.exclude_k <= min(32, rule.length):
      raise ConfigError(f"--exclude_k={self.exclude_k}: expected 1 to "
                        f"min(32, --length={rule.length})")
    for spec, _ in self.specs():
      spec.resolved_format()  # Refuses an unknown extension now, not mid-build.

  def specs(self) -> list[tuple[Any, str | None]]:
    return ([(s, None) for s in self.input] + [(s, "train") for s in self.train]
            + [(s, "dev") for s in self.dev] + [(s, "test") for s in self.test])

  def to_json(self) -> dict[str, Any]:
    data = dataclasses.asdict(self)
    for key in ("input", "train", "dev", "test"):
      data[key] = [str(spec) for spec in getattr(self, key)]
    data["rule"]["split_fractions"] = list(self.rule.split_fractions)
    return data


def sequences(config: CorpusConfig, spec, genome_of) -> Iterator[tuple[Any, str]]:
  """(RawRecord, its id) of every input sequence of one file."""
  fmt = spec.resolved_format()
  if fmt == "fasta":
    for n, record in enumerate(readers.read_fasta(spec.path), start=1):
      yield record, record.id or f"{n}"
  elif fmt in ("csv", "tsv"):
    columns = readers.TableColumns(sequence=config.sequence_column, labels=(),
                                   id=config.id_column)
    for n, (record, _) in enumerate(readers.read_table(
        spec.path, "," if fmt == "csv" else "\t", columns), start=1):
      yield record, record.id or f"row{n}"
  elif fmt == "genbank":
    yield from _genbank_sequences(spec.path)
  else:  # bed
    if not config.reference:
      raise ConfigError(f"BED input {spec.path} needs --reference")
    options = readers.BedOptions(reference=config.reference, window=0,
                                 strand_aware=config.bed_strand_aware)
    for record in readers.read_bed(spec.path, genome_of(), options, None, {}):
      yield record, record.id


def _genbank_sequences(path: str) -> Iterator[tuple[Any, str]]:
  """The whole sequence of each GenBank record (its annotation is not used)."""
  from Bio import SeqIO

  from gslm_keras.io.text import READ_ERRORS, open_text, read_error

  try:
    with open_text(path) as handle:
      for n, record in enumerate(SeqIO.parse(handle, "genbank"), start=1):
        yield readers.RawRecord(sequence=str(record.seq), locator=f"record {n} "
                                f"'{record.id}'", id=record.id), record.id
  except READ_ERRORS as error:
    raise read_error(path, error) from None
  except ValueError as error:  # Biopython's parse errors.
    raise InputError(f"not a readable GenBank file ({error})", path=path) from None


def check_sequence(config: CorpusConfig, record, path: str) -> str:
  """The record's sequence with U read as T; InputError when it is empty, holds a
  letter that is not a IUPAC code, or is too short under --on_shorter=error."""
  alphabet.check_letters(record.sequence, path, record.locator)
  if config.rule.on_shorter == "error" and len(record.sequence) < config.rule.length:
    raise InputError(f"sequence of {len(record.sequence)} bases is shorter than "
                     f"--length={config.rule.length}; pass --on_shorter=skip or "
                     "pad", path=path, record=record.locator)
  return record.sequence.replace("U", "T").replace("u", "t")


def exclusion_index(config: CorpusConfig) -> KmerIndex | None:
  """The k-mer index of the --exclude files, or None without any."""
  if not config.exclude:
    return None
  index = KmerIndex(config.exclude_k)
  for path in config.exclude:
    index.add_file(path)
  return index


class _CorpusBuilder:
  def __init__(self, config: CorpusConfig, index: KmerIndex | None, workdir: str,
               pool: ShardWriterPool):
    self.config, self.index, self.workdir, self.pool = config, index, workdir, pool
    self.buffers: dict[str, list] = {s: [] for s in splits.SPLITS}
    self.shard_count = dict.fromkeys(splits.SPLITS, 0)
    self.tally = CorpusTally()
    self._genome: Genome | None = None
    self.meter = Progress("sequences read", config.progress_seconds,
                          paths=[spec.path for spec, _ in config.specs()])
    self.n_read = 0

  def genome(self) -> Genome:
    if self._genome is None:
      self._genome = Genome(self.config.reference, keep_case=True)
    return self._genome

  def close(self):
    if self._genome is not None:
      self._genome.close()

  def run(self):
    for spec, fixed in self.config.specs():
      source = spec.source_name()
      counts = self.tally.counts.setdefault(source, TileCounts())
      for record, record_id in sequences(self.config, spec, self.genome):
        sequence = check_sequence(self.config, record, spec.path)
        self.n_read += 1
        for split, window in tile(sequence, record_id, source, self.config.rule,
                                  self.index, counts, fixed, record.chrom,
                                  record.start or 0):
          self.tally.written(split, window.sequence)
          self.buffers[split].append(window)
          if len(self.buffers[split]) >= self.config.records_per_shard:
            self._submit(split)
        self.meter.update(self.n_read, ", ".join(
            f"{s}={n}" for s, n in self.tally.num_records.items()))
    for split in splits.SPLITS:
      self._submit(split)
    results = self.pool.finish()
    self.meter.update(self.n_read, "done", force=True)
    return results

  def _submit(self, split: str):
    records, self.buffers[split] = self.buffers[split], []
    if not records:
      return
    index = self.shard_count[split]
    self.shard_count[split] += 1
    self.pool.submit(ShardJob(
        split=split, index=index, path=os.path.join(self.workdir, f".{split}-{index:05d}.tmp"),
        compression=self.config.compression, records=records, label_kind="none",
        stats_encoder=None, n_provided=0))

  def manifest(self, results) -> dict:
    return corpus_manifest(self.config, self.tally, self.index, self._genome is not None,
                           results, self.workdir)


def corpus_manifest(config: CorpusConfig, tally: CorpusTally, index: KmerIndex | None,
                    reference_used: bool, results, workdir: str,
                    engine: str = "streaming") -> dict:
  """The manifest of a corpus build; renames the shards to their final names."""
  # Long: one dict literal, the corpus manifest's contract.
  shards, _, _ = manifest.install_shards(results, workdir, config.compression)
  rule = LengthRule(config.rule.length, "left", "error",
                    "pad" if config.rule.on_shorter == "pad" else "error")
  return {
      **manifest.header(config, engine),
      "sources": [{"path": spec.path, "role": split or "input", "source":
                   spec.source_name(), "format": spec.resolved_format(),
                   "sha256": sha256_file(spec.path), "bytes": os.path.getsize(spec.path)}
                  for spec, split in config.specs()] + (
                      [{"path": config.reference, "role": "reference",
                        "sha256": sha256_file(config.reference)}]
                      if config.reference and reference_used else []),
      "sequence": {"length_rule": rule.to_json(), "ambiguous": "zeros",
                   "alphabet": "IUPAC codes; stored upper-case, soft-masked "
                               "positions flagged in soft_mask"},
      "computed_features": [], "provided_features": [], "feature_names": [],
      "missing_values": {"policy": "error"},
      "normalization": {"split": "train", "count": tally.num_records["train"],
                        "mean": [], "std": []},
      "task": {"type": UNLABELLED},
      "compression": config.compression,
      "split_rule": {"rule": "blocks", "block": config.rule.split_block,
                     "fractions": list(config.rule.split_fractions),
                     "seed": config.rule.seed,
                     "files": {split: [str(s) for s in getattr(config, split)]
                               for split in splits.SPLITS if getattr(config, split)}},
      "splits": {split: {"num_records": tally.num_records[split],
                         "shards": shards[split]} for split in splits.SPLITS},
      "sequence_overlaps": dedup.sequence_overlaps(tally.seq_hashes),
      "corpus": {
          "length": config.rule.length, "stride": config.rule.stride,
          "both_strands": config.rule.both_strands,
          "max_n_fraction": config.rule.max_n_fraction,
          "on_shorter": config.rule.on_shorter, "soft_mask": config.rule.soft_mask,
          "sources": {name: c.to_json() for name, c in tally.counts.items()},
          "exclusion": None if index is None else {
              "k": index.k, "kmers_both_strands": len(index),
              "files": index.files,
              "rule": f"a window sharing an exact substring of >= {index.k} "
                      "bases (either strand) with any of these sequences is dropped",
              "windows_dropped": sum(c.dropped["excluded"] for c in
                                     tally.counts.values())},
      },
  }


def no_windows(config: CorpusConfig, tally: CorpusTally) -> InputError:
  """The error of a corpus with no training window."""
  total = TileCounts()
  for counts in tally.counts.values():
    total.records += counts.records
    total.shorter_than_length += counts.shorter_than_length
    for key, value in counts.dropped.items():
      total.dropped[key] += value
  reasons = ", ".join(f"{v} {k.replace('_', ' ')}" for k, v in total.dropped.items() if v)
  # The advice follows the largest cause the counts show.
  causes = {"excluded": (total.dropped["excluded"], "every window shares a 32-base "
                         "stretch with an --exclude sequence: the input is the excluded "
                         "data itself, or give another --exclude"),
            "too_many_n": (total.dropped["too_many_n"], "use a larger --max_n_fraction"),
            "short": (total.shorter_than_length, "use a shorter --length or "
                      "--on_shorter=pad")}
  cause = max(causes.values(), key=lambda item: item[0])
  advice = cause[1] if cause[0] else ("use a shorter --length, --on_shorter=pad, or a "
                                      "larger --max_n_fraction")
  return InputError(
      f"no training window of --length={config.rule.length} could be cut from "
      f"{total.records} sequences ({total.shorter_than_length} shorter than the length"
      f"{', windows dropped: ' + reasons if reasons else ''}); {advice}",
      path=", ".join(spec.path for spec, _ in config.specs()))


@contextlib.contextmanager
def corpus_build(config: CorpusConfig):
  """The frame a corpus is built in, by either engine: the output locked and
  checked, the inputs found, the exclusion index built, and a temporary directory
  beside the output, put in place when the block completes.

  Yields:
    (temporary directory, the exclusion `KmerIndex` or None).
  """
  output_dir = os.path.abspath(config.output_dir)
  with exclusive_output(output_dir, "dataset"):
    check_output_dir(output_dir, config.overwrite)
    for spec, _ in config.specs():
      if not os.path.isfile(spec.path):
        raise InputError("input file not found", path=spec.path)
    index = exclusion_index(config)
    if index is not None:
      logging.info("Excluding %d %d-mers (both strands) of %d sequences in %d files",
                   len(index), index.k, sum(f["sequences"] for f in index.files),
                   len(index.files))
    with written_beside(output_dir, "building") as workdir:
      yield workdir, index


def build_corpus(config: CorpusConfig) -> DatasetInfo:
  """Builds the corpus `config` describes and returns its manifest.

  Raises:
    ConfigError, InputError, OutputBusyError: as `build_dataset`; an InputError
    also when no training window survives, or an exclusion file is unreadable.
  """
  with corpus_build(config) as (workdir, index):
    builder = None
    try:
      with ShardWriterPool(config.num_workers or os.cpu_count() or 1) as pool:
        builder = _CorpusBuilder(config, index, workdir, pool)
        results = builder.run()
      if builder.tally.num_records["train"] == 0:
        raise no_windows(config, builder.tally)
      write_json_atomic(os.path.join(workdir, MANIFEST), builder.manifest(results))
    finally:
      if builder is not None:
        builder.close()
  info = DatasetInfo.load(config.output_dir, verify="none")
  logging.info("Corpus written to %s: %s", info.directory, ", ".join(
      f"{s}={info.num_records(s)}" for s in info.splits))
  return info
