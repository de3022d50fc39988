"""Builds a dataset directory: TFRecord shards plus `dataset_info.json`.

`build_dataset(config)` streams the inputs once (plus a label scan when the
classes are not declared), checks every record, assigns splits, writes shards in
worker processes and writes the manifest last. Everything goes to a temporary
directory beside the output, which is renamed into place only when complete: a
failed build leaves nothing behind.
"""

from __future__ import annotations

import dataclasses
import datetime
import hashlib
import math
import os
import shutil
import tempfile
import time
from typing import Any, Iterator, Sequence

import numpy as np
from absl import logging

from gslm_keras.data import genbank, readers, splits
from gslm_keras.data.manifest import (MANIFEST, SCHEMA_VERSION, DatasetInfo,
                                      sha256_file, shard_name, write_json_atomic)
from gslm_keras.data.readers import InputSpec, RawRecord, TableColumns
from gslm_keras.data.shards import ShardJob, ShardWriterPool
from gslm_keras.data.stats import Moments
from gslm_keras.dna import alphabet
from gslm_keras.dna.length import LengthRule
from gslm_keras.errors import ConfigError, InputError
from gslm_keras.features.registry import FeatureSpec, output_names

TASK_CHOICES = ("auto", "binary", "multiclass", "multilabel", "regression")
MISSING_POLICIES = ("error", "fill_mean")
MISSING_MARKERS = frozenset({"", "NA", "N/A", "NULL", "None", "."})
MAX_DISCOVERED_CLASSES = 1000


@dataclasses.dataclass(frozen=True)
class BuildConfig:
  """Everything `build_dataset` needs; validated when created.

  Splits come either from files per split (`train`, `dev`, `test`) or from one
  set of `input` files with exactly one of `split_fractions`, `split_column` or
  `dev_chromosomes`/`test_chromosomes`. `dev_fraction` then carves a stratified
  dev split out of train when no dev split was given.

  Attributes:
    output_dir: the dataset directory to create.
    train, dev, test: input files of each split.
    input: input files to split.
    split_fractions: (train, dev, test) fractions for a seeded stratified split.
    split_column: table column naming each row's split (train, dev or test).
    dev_chromosomes, test_chromosomes: held-out contigs (inputs with coordinates).
    dev_fraction: fraction of train moved to dev, stratified by label (0: none).
    seed: seed of every random split.
    sequence_column: table column with the sequence.
    label_columns: table label column (one; several for multi-output regression).
    id_column: table id column; ids are `<file>:<n>` when None.
    coordinate_columns: table columns (chrom, start, end), 0-based half-open.
    strand_column: table strand column.
    fasta_label_regex: regex on FASTA headers; group 1 (or the match) is the label.
    fasta_ids: "header" (the first word of each header) or "position"
      (`<file>:<n>`, for files whose header words repeat).
    reference: reference genome FASTA for BED inputs.
    bed_label_column: 1-based BED column with the label; per-file label if None.
    bed_strand_aware: reverse-complement windows of '-' BED intervals.
    recipe: GenBank recipe for GenBank inputs.
    task: "auto" (binary or multiclass by class count), "binary", "multiclass",
      "multilabel" or "regression".
    classes: declared class names, in index order; discovered from the train
      labels (sorted, numerically when all are integers) when None.
    multilabel_separator: separator of class names in a multilabel cell.
    length: window length; the first record's length when None.
    align, on_longer, on_shorter: see `LengthRule`.
    ambiguous: one-hot of IUPAC codes, "zeros" or "iupac".
    computed_features: computed features, in column order.
    provided_features: numeric table columns used as features.
    bigwig_features: (name, path) of bigWig tracks averaged over each interval.
    missing_values: "error", or "fill_mean" (train mean plus an indicator column
      `<name>_missing` per provided feature).
    overwrite: replace an existing dataset at output_dir.
    records_per_shard: records per shard file.
    num_workers: shard-writing processes; 0 means one per CPU.
    compression: "GZIP" or "NONE".
    progress_seconds: seconds between progress lines.
    name: dataset name for the manifest (default: output dir name).
    command: the command line that ran the build, for the manifest.
  """

  output_dir: str
  train: tuple[InputSpec, ...] = ()
  dev: tuple[InputSpec, ...] = ()
  test: tuple[InputSpec, ...] = ()
  input: tuple[InputSpec, ...] = ()
  split_fractions: tuple[float, float, float] | None = None
  split_column: str | None = None
  dev_chromosomes: tuple[str, ...] = ()
  test_chromosomes: tuple[str, ...] = ()
  dev_fraction: float = 0.0
  seed: int = 0
  sequence_column: str = "sequence"
  label_columns: tuple[str, ...] = ("label",)
  id_column: str | None = None
  coordinate_columns: tuple[str, str, str] | None = None
  strand_column: str | None = None
  fasta_label_regex: str | None = None
  fasta_ids: str = "header"
  reference: str | None = None
  bed_label_column: int | None = None
  bed_strand_aware: bool = True
  recipe: genbank.GenbankRecipe | None = None
  task: str = "auto"
  classes: tuple[str, ...] | None = None
  multilabel_separator: str = ";"
  length: int | None = None
  align: str = "center"
  on_longer: str = "error"
  on_shorter: str = "error"
  ambiguous: str = "zeros"
  computed_features: tuple[FeatureSpec, ...] = ()
  provided_features: tuple[str, ...] = ()
  bigwig_features: tuple[tuple[str, str], ...] = ()
  missing_values: str = "error"
  overwrite: bool = False
  records_per_shard: int = 10000
  num_workers: int = 0
  compression: str = "GZIP"
  progress_seconds: float = 10.0
  name: str | None = None
  command: str | None = None

  def __post_init__(self):
    explicit = bool(self.train or self.dev or self.test)
    if explicit == bool(self.input):
      raise ConfigError(
          "give either --train (with optional --dev/--test) or --input with a split "
          "rule, not both and not neither")
    if explicit and not self.train:
      raise ConfigError("--dev/--test given without --train")
    strategies = [name for name, on in (
        ("split_fractions", self.split_fractions is not None),
        ("split_column", self.split_column is not None),
        ("dev_chromosomes/test_chromosomes",
         bool(self.dev_chromosomes or self.test_chromosomes))) if on]
    if self.input and len(strategies) != 1:
      raise ConfigError(
          "--input needs exactly one split rule: --split_fractions, --split_column "
          f"or --dev_chromosomes/--test_chromosomes (got {strategies or 'none'})")
    if explicit and strategies:
      raise ConfigError(f"{strategies[0]} applies to --input, not to --train/--dev/--test")
    if self.split_fractions is not None:
      splits.StratifiedSplitter(self.split_fractions, self.seed)  # validates
    if not 0.0 <= self.dev_fraction < 1.0:
      raise ConfigError(f"dev_fraction={self.dev_fraction}: expected 0 <= f < 1")
    if self.dev_fraction and (self.dev or (self.split_fractions and self.split_fractions[1])):
      raise ConfigError("dev_fraction is set but a dev split is already given")
    if self.task not in TASK_CHOICES:
      raise ConfigError(f"task={self.task!r}: expected one of {', '.join(TASK_CHOICES)}")
    if self.task in ("binary", "multiclass", "multilabel", "auto") and len(
        self.label_columns) != 1:
      raise ConfigError(
          f"task={self.task}: expected one label column, got {list(self.label_columns)}")
    if self.classes is not None:
      if len(set(self.classes)) != len(self.classes):
        raise ConfigError(f"classes={list(self.classes)} repeats a class")
      if self.task == "binary" and len(self.classes) != 2:
        raise ConfigError(f"task=binary needs 2 classes, got {list(self.classes)}")
      if len(self.classes) < 2 and self.task != "multilabel":
        raise ConfigError(f"classes={list(self.classes)}: need at least 2")
    if self.fasta_ids not in ("header", "position"):
      raise ConfigError(f"fasta_ids={self.fasta_ids!r}: expected header or position")
    if self.missing_values not in MISSING_POLICIES:
      raise ConfigError(f"missing_values={self.missing_values!r}: expected one of "
                        f"{', '.join(MISSING_POLICIES)}")
    if self.ambiguous not in alphabet.AMBIGUOUS_MODES:
      raise ConfigError(f"ambiguous={self.ambiguous!r}: expected one of "
                        f"{', '.join(alphabet.AMBIGUOUS_MODES)}")
    if self.compression not in ("GZIP", "NONE"):
      raise ConfigError(f"compression={self.compression!r}: expected GZIP or NONE")
    if self.records_per_shard < 1:
      raise ConfigError(f"records_per_shard={self.records_per_shard}: expected >= 1")
    if self.length is not None:
      self.length_rule(self.length)  # validates
    else:
      LengthRule(1, self.align, self.on_longer, self.on_shorter)  # validates
    output_names(self.computed_features)
    names = list(self.provided_features) + [n for n, _ in self.bigwig_features]
    if len(set(names)) != len(names):
      raise ConfigError(f"provided feature names repeat: {names}")
    formats = {spec.resolved_format() for spec in self.all_inputs()}
    if "bed" in formats and not self.reference:
      raise ConfigError("BED input needs --reference (the genome FASTA)")
    if "genbank" in formats and self.recipe is None:
      raise ConfigError("GenBank input needs --recipe (coding or function)")
    if self.bigwig_features and not ("bed" in formats or "genbank" in formats
                                     or self.coordinate_columns):
      raise ConfigError(
          "bigWig features need coordinates: BED or GenBank input, or "
          "--coordinate_columns=chrom,start,end for tables")
    if self.provided_features and formats - {"csv", "tsv"}:
      raise ConfigError(
          "--provided_features names table columns; it needs CSV/TSV input")

  def all_inputs(self) -> tuple[InputSpec, ...]:
    return self.train + self.dev + self.test + self.input

  def length_rule(self, length: int) -> LengthRule:
    return LengthRule(length, self.align, self.on_longer, self.on_shorter)

  def to_json(self) -> dict[str, Any]:
    data = {}
    for field in dataclasses.fields(self):
      value = getattr(self, field.name)
      if isinstance(value, tuple):
        value = [v if isinstance(v, (str, int, float, tuple)) else str(v)
                 for v in value]
      elif isinstance(value, genbank.GenbankRecipe):
        value = dataclasses.asdict(value)
      data[field.name] = value
    return data


def parse_finite(text: str, what: str, path: str, locator: str,
                   hint: str = "") -> float:
  """float(text), or an InputError naming `what` for text or NaN/inf."""
  try:
    value = float(text)
  except ValueError:
    raise InputError(f"{what} = {text!r} is not a number", path=path,
                     record=locator) from None
  if not math.isfinite(value):
    raise InputError(f"{what} = {text!r} is NaN or infinite{hint}", path=path,
                     record=locator)
  return value


# ---------------------------------------------------------------------------
# Labels


def _sort_classes(values):
  try:
    return sorted(values, key=int)
  except ValueError:
    return sorted(values)


class LabelPlan:
  """Task type, class names and the raw-label encoder."""

  def __init__(self, task: str, classes: Sequence[str], label_columns, separator,
               aliases: dict[str, str] | None = None):
    self.task = task
    self.classes = list(classes)
    self.label_columns = list(label_columns)
    self.separator = separator
    self.aliases = dict(aliases or {})
    self._index = {name: i for i, name in enumerate(self.classes)}
    for alias, name in self.aliases.items():
      self._index[alias] = self._index[name]

  @property
  def label_kind(self) -> str:
    return "int" if self.task in ("binary", "multiclass") else "float"

  def encode(self, raw: str | None, path: str, locator: str):
    # An empty multilabel cell is a record with none of the classes.
    if raw is None or (not raw.strip() and self.task != "multilabel"):
      raise InputError("record has no label (empty label)", path=path, record=locator)
    if self.task == "regression":
      return [parse_finite(text, f"label {column!r}", path, locator)
              for column, text in zip(self.label_columns, raw.split("\t"))]
    if self.task == "multilabel":
      vector = [0.0] * len(self.classes)
      for name in filter(None, (t.strip() for t in raw.split(self.separator))):
        if name not in self._index:
          raise InputError(self._unknown(name), path=path, record=locator)
        vector[self._index[name]] = 1.0
      return vector
    if raw not in self._index:
      raise InputError(self._unknown(raw), path=path, record=locator)
    return self._index[raw]

  def _unknown(self, name):
    return (f"label {name!r} is not one of the classes "
            f"{', '.join(map(repr, self.classes))}")

  def stratum(self, encoded) -> str:
    """The group a stratified split keeps in proportion: the class (set)."""
    if self.task == "regression":
      return ""
    return "|".join(self.class_names_of(encoded))

  def class_names_of(self, encoded) -> list[str]:
    """Class names an encoded label counts towards (for per-split counts)."""
    if self.task in ("binary", "multiclass"):
      return [self.classes[encoded]]
    if self.task == "multilabel":
      return [c for c, on in zip(self.classes, encoded) if on]
    return []


# ---------------------------------------------------------------------------
# Provided features


class ProvidedPlan:
  """Parses table columns and bigWig means into provided-feature values."""

  def __init__(self, config: BuildConfig):
    self.columns = list(config.provided_features)
    self.bigwig_specs = list(config.bigwig_features)
    self.policy = config.missing_values
    self.base_names = self.columns + [name for name, _ in self.bigwig_specs]
    self.names = list(self.base_names)
    if self.policy == "fill_mean":
      self.names += [f"{name}_missing" for name in self.base_names]
    self._bigwigs = []
    self.missing_counts = {name: 0 for name in self.base_names}

  def open(self):
    if self.bigwig_specs:
      import pyBigWig  # Deferred: only bigWig features need it.

      for name, path in self.bigwig_specs:
        if not os.path.exists(path):
          raise InputError("bigWig file not found", path=path)
        handle = pyBigWig.open(path)
        if handle is None or not handle.isBigWig():
          raise InputError("not a bigWig file", path=path)
        self._bigwigs.append((name, path, handle, handle.chroms()))

  def close(self):
    for _, _, handle, _ in self._bigwigs:
      handle.close()
    self._bigwigs = []

  def describe(self) -> list[dict[str, Any]]:
    described = [{"name": c, "source": "column"} for c in self.columns]
    described += [{"name": n, "source": "bigwig", "path": p, "statistic": "mean"}
                  for n, p in self.bigwig_specs]
    if self.policy == "fill_mean":
      described += [{"name": f"{n}_missing", "source": "missing_indicator", "of": n}
                    for n in self.base_names]
    return described

  def values(self, raw: RawRecord, path: str) -> list[float]:
    values = [self._parse(name, text, path, raw.locator)
              for name, text in zip(self.columns, raw.values)]
    for name, bw_path, handle, chroms in self._bigwigs:
      if raw.chrom is None or raw.start is None or raw.end is None:
        raise InputError(f"bigWig feature {name!r} needs coordinates",
                         path=path, record=raw.locator)
      if raw.chrom not in chroms:
        raise InputError(
            f"contig {raw.chrom!r} is not in bigWig {bw_path} (its contigs: "
            f"{', '.join(list(chroms)[:5])}...)", path=path, record=raw.locator)
      end = min(raw.end, chroms[raw.chrom])
      mean = handle.stats(raw.chrom, raw.start, end, type="mean", exact=True)[0]
      values.append(self._missing(name, path, raw.locator) if mean is None else mean)
    if self.policy == "fill_mean":
      values += [1.0 if math.isnan(v) else 0.0 for v in values]
    return values

  def _missing(self, name, path, locator):
    if self.policy == "error":
      raise InputError(
          f"provided feature {name!r} is missing (set --missing_values=fill_mean "
          "to fill it with the train mean and add an indicator)",
          path=path, record=locator)
    self.missing_counts[name] += 1
    return float("nan")

  def _parse(self, name, text, path, locator):
    if text in MISSING_MARKERS:
      return self._missing(name, path, locator)
    return parse_finite(text, f"provided feature {name!r}", path, locator,
                          "; mark a missing value with an empty cell or NA")


# ---------------------------------------------------------------------------
# Reading


def _table_delimiter(spec: InputSpec) -> str:
  return "," if spec.resolved_format() == "csv" else "\t"


class _Sources:
  """The config's input files, each read as a stream of (record, split or None)."""

  def __init__(self, config: BuildConfig):
    self.config = config
    self.specs = [(spec, "train") for spec in config.train]
    self.specs += [(spec, "dev") for spec in config.dev]
    self.specs += [(spec, "test") for spec in config.test]
    self.specs += [(spec, None) for spec in config.input]
    for spec, _ in self.specs:
      if not os.path.isfile(spec.path):
        raise InputError("input file not found", path=spec.path)
    names = [os.path.basename(spec.path) for spec, _ in self.specs]
    self.id_prefix = [name if names.count(name) == 1 else spec.path
                      for name, (spec, _) in zip(names, self.specs)]
    self._genome = None

  def columns(self) -> TableColumns:
    config = self.config
    chrom, start, end = config.coordinate_columns or (None, None, None)
    return TableColumns(
        sequence=config.sequence_column, labels=config.label_columns,
        id=config.id_column, values=config.provided_features,
        split=config.split_column, chrom=chrom, start=start, end=end,
        strand=config.strand_column)

  def genome(self) -> readers.Genome:
    if self._genome is None:
      self._genome = readers.Genome(self.config.reference)
    return self._genome

  def close(self):
    if self._genome is not None:
      self._genome.close()

  def records(self, index: int, skipped: dict[str, int]
              ) -> Iterator[tuple[RawRecord, str | None]]:
    """(record, split named by the file itself, or None) of source `index`."""
    spec, _ = self.specs[index]
    fmt = spec.resolved_format()
    config = self.config
    if fmt in ("csv", "tsv"):
      yield from readers.read_table(spec.path, _table_delimiter(spec), self.columns())
      return
    if fmt == "fasta":
      if spec.label is None and config.fasta_label_regex is None:
        raise ConfigError(
            f"FASTA input {spec.path} needs a label: add :label=<class> to the path "
            "or set --fasta_label_regex")
      stream = readers.read_fasta(spec.path, spec.label, config.fasta_label_regex)
      if config.fasta_ids == "position":
        stream = (dataclasses.replace(record, id=None) for record in stream)
    elif fmt == "bed":
      options = readers.BedOptions(
          reference=config.reference, window=config.length or 0,
          label_column=config.bed_label_column, strand_aware=config.bed_strand_aware)
      if not options.window:
        raise ConfigError("BED input needs --length (the window size)")
      if spec.label is None and options.label_column is None:
        raise ConfigError(
            f"BED input {spec.path} needs a label: add :label=<class> to the path "
            "or set --bed_label_column")
      stream = readers.read_bed(spec.path, self.genome(), options, spec.label, skipped)
    else:
      stream = genbank.read_genbank(spec.path, config.recipe, skipped)
    for record in stream:
      yield record, None


def _discover_labels(config: BuildConfig, sources: _Sources) -> LabelPlan:
  """Declared or discovered classes, and the task type."""
  task = config.task
  if task == "regression":
    return LabelPlan(task, [], config.label_columns, config.multilabel_separator)
  classes = list(config.classes) if config.classes is not None else None
  aliases: dict[str, str] = {}
  recipe = config.recipe
  if classes is None and recipe is not None and recipe.name == "coding":
    classes = recipe.class_names()
  elif classes is None and recipe is not None:
    counts = {name: 0 for name in recipe.class_names()}
    for index in range(len(sources.specs)):
      for record, _ in sources.records(index, {}):
        counts[record.label] += 1
    classes = [name for name, n in counts.items()
               if n >= recipe.min_class_count and name != genbank.OTHER]
    aliases = {name: genbank.OTHER for name, n in counts.items()
               if 0 < n < recipe.min_class_count and name != genbank.OTHER}
    if aliases or counts[genbank.OTHER]:
      classes.append(genbank.OTHER)
    if aliases:
      logging.info("Categories with fewer than %d CDS merged into %r: %s",
                   recipe.min_class_count, genbank.OTHER, ", ".join(sorted(aliases)))
  if classes is None:
    # Classes come from the training inputs; dev and test labels must be among
    # them. With --input the split is not known yet, so all input is scanned.
    found: set[str] = set()
    for index, (spec, split) in enumerate(sources.specs):
      if split not in ("train", None):
        continue
      for record, _ in sources.records(index, {}):
        raw = record.label
        if raw is None or (not raw.strip() and task != "multilabel"):
          raise InputError("record has no label (empty label)", path=spec.path,
                           record=record.locator)
        if task == "multilabel":
          found.update(t.strip() for t in raw.split(config.multilabel_separator)
                       if t.strip())
        else:
          found.add(raw)
        if len(found) > MAX_DISCOVERED_CLASSES:
          raise ConfigError(
              f"the label column has more than {MAX_DISCOVERED_CLASSES} distinct "
              "values; for a numeric target pass --task=regression, or declare "
              "--classes")
    classes = _sort_classes(found)
    if len(classes) < 2 and task != "multilabel":
      raise InputError(
          f"the training labels hold only one class ({classes}); a classifier "
          "needs at least two", path=sources.specs[0][0].path)
  if task == "auto":
    task = "binary" if len(classes) == 2 else "multiclass"
  if task == "binary" and len(classes) != 2:
    raise ConfigError(f"task=binary but the labels hold {len(classes)} classes: "
                      f"{classes}")
  return LabelPlan(task, classes, config.label_columns, config.multilabel_separator,
                   aliases)


# ---------------------------------------------------------------------------
# Building


def _hash64(text: str) -> int:
  return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(),
                        "little")


class _HashLog:
  """Append-only uint64 hashes with their record locations, 16 bytes a record."""

  def __init__(self):
    self._hashes: list[np.ndarray] = []
    self._buffer: list[int] = []

  def add(self, value: int):
    self._buffer.append(value)
    if len(self._buffer) >= 65536:
      self._flush()

  def _flush(self):
    if self._buffer:
      self._hashes.append(np.array(self._buffer, np.uint64))
      self._buffer = []

  def array(self) -> np.ndarray:
    self._flush()
    if not self._hashes:
      return np.zeros(0, np.uint64)
    return np.concatenate(self._hashes)


def _duplicates(hashes: np.ndarray) -> np.ndarray:
  """Hash values that occur more than once."""
  values, counts = np.unique(hashes, return_counts=True)
  return values[counts > 1]


class _Builder:
  """State of one build: checks records, buffers shards, collects statistics."""

  def __init__(self, config: BuildConfig, sources: _Sources, labels: LabelPlan,
               workdir: str, provided: ProvidedPlan):
    self.config = config
    self.sources = sources
    self.labels = labels
    self.workdir = workdir
    self.provided = provided
    self.rule = config.length_rule(config.length) if config.length else None
    self.buffers: dict[str, list] = {s: [] for s in splits.SPLITS}
    self.shard_count = {s: 0 for s in splits.SPLITS}
    self.num_records = {s: 0 for s in splits.SPLITS}
    self.class_counts = {s: {c: 0 for c in labels.classes} for s in splits.SPLITS}
    self.length_actions = {s: {} for s in splits.SPLITS}
    self.length_range = [None, None]
    self.reader_skipped: dict[str, int] = {}
    self.id_hashes = _HashLog()
    self.seq_hashes = {s: _HashLog() for s in splits.SPLITS}
    self.pool = ShardWriterPool(config.num_workers or os.cpu_count() or 1)
    self.started = time.monotonic()
    self.last_report = self.started
    self.n_read = 0
    self.splitter = None
    if config.split_fractions is not None:
      self.splitter = splits.StratifiedSplitter(config.split_fractions, config.seed)
    elif config.dev_chromosomes or config.test_chromosomes:
      self.splitter = splits.ChromosomeSplitter(config.dev_chromosomes,
                                                config.test_chromosomes)
    self.dev_splitter = None
    if config.dev_fraction:
      self.dev_splitter = splits.StratifiedSplitter(
          (1.0 - config.dev_fraction, config.dev_fraction, 0.0), config.seed + 1)

  # -- per record --------------------------------------------------------------

  def _split_of(self, record: RawRecord, fixed: str | None, from_row: str | None,
                path: str, stratum: str) -> str:
    if fixed is not None:
      split = fixed
    elif self.config.split_column is not None:
      if from_row not in splits.SPLITS:
        raise InputError(
            f"split column {self.config.split_column!r} = {from_row!r}; expected "
            f"one of {', '.join(splits.SPLITS)}", path=path, record=record.locator)
      split = from_row
    elif isinstance(self.splitter, splits.ChromosomeSplitter):
      if record.chrom is None:
        raise InputError("a chromosome split needs coordinates for every record",
                         path=path, record=record.locator)
      split = self.splitter.assign(record.chrom)
    else:
      split = self.splitter.assign(stratum)
    if split == "train" and self.dev_splitter is not None:
      split = self.dev_splitter.assign(stratum)
    return split

  def _check_sequence(self, record: RawRecord, path: str, split: str) -> str | None:
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
      counts = self.length_actions[split]
      counts[key] = counts.get(key, 0) + 1
      if action == "skip":
        return None
    return sequence.upper()

  def add(self, record: RawRecord, source: int, fixed: str | None,
          from_row: str | None, n_in_source: int):
    path = self.sources.specs[source][0].path
    label = self.labels.encode(record.label, path, record.locator)
    split = self._split_of(record, fixed, from_row, path, self.labels.stratum(label))
    sequence = self._check_sequence(record, path, split)
    if sequence is None:
      return
    provided = self.provided.values(record, path)
    record_id = record.id or f"{self.sources.id_prefix[source]}:{n_in_source}"
    self.id_hashes.add(_hash64(record_id))
    self.seq_hashes[split].add(_hash64(sequence))
    for name in self.labels.class_names_of(label):
      self.class_counts[split][name] += 1
    self.buffers[split].append((record_id, sequence, label, provided, record.chrom,
                                record.start, record.end, record.strand))
    self.num_records[split] += 1
    if len(self.buffers[split]) >= self.config.records_per_shard:
      self._submit(split)

  def _submit(self, split: str):
    records = self.buffers[split]
    if not records:
      return
    self.buffers[split] = []
    index = self.shard_count[split]
    self.shard_count[split] += 1
    stats = None
    if split == "train":
      import json

      stats = (json.dumps(self.rule.to_json(), sort_keys=True), self.config.ambiguous,
               json.dumps([f.to_json() for f in self.config.computed_features]))
    self.pool.submit(ShardJob(
        split=split, index=index,
        path=os.path.join(self.workdir, f".{split}-{index:05d}.tmp"),
        compression=self.config.compression, records=records,
        label_kind=self.labels.label_kind, stats_encoder=stats,
        n_provided=len(self.provided.names)))

  def progress(self, force: bool = False):
    now = time.monotonic()
    if force or now - self.last_report >= self.config.progress_seconds:
      self.last_report = now
      rate = self.n_read / max(now - self.started, 1e-9)
      logging.info("%d records read (%.0f/s): %s", self.n_read, rate,
                   ", ".join(f"{s}={n}" for s, n in self.num_records.items()))

  # -- whole build -------------------------------------------------------------

  def run(self):
    for source in range(len(self.sources.specs)):
      fixed = self.sources.specs[source][1]
      n_in_source = 0
      for record, from_row in self.sources.records(source, self.reader_skipped):
        n_in_source += 1
        self.n_read += 1
        self.add(record, source, fixed, from_row, n_in_source)
        if self.n_read % 1000 == 0:
          self.progress()
    for split in splits.SPLITS:
      self._submit(split)
    results = self.pool.finish()
    self.progress(force=True)
    return results

  def check_duplicate_ids(self):
    duplicated = _duplicates(self.id_hashes.array())
    if duplicated.size == 0:
      return
    # Rare error path: read the inputs again to name the records.
    wanted = set(int(h) for h in duplicated)
    seen: dict[int, str] = {}
    for source in range(len(self.sources.specs)):
      path = self.sources.specs[source][0].path
      for n, (record, _) in enumerate(self.sources.records(source, {}), start=1):
        record_id = record.id or f"{self.sources.id_prefix[source]}:{n}"
        key = _hash64(record_id)
        if key in wanted:
          where = f"{path} {record.locator}"
          if key in seen:
            raise InputError(f"duplicate id {record_id!r}, first seen at {seen[key]}",
                             path=path, record=record.locator)
          seen[key] = where
    raise InputError(f"{duplicated.size} duplicate record ids")  # pragma: no cover

  def sequence_overlaps(self) -> dict[str, Any]:
    unique = {}
    report: dict[str, Any] = {}
    for split in splits.SPLITS:
      hashes = self.seq_hashes[split].array()
      values, counts = np.unique(hashes, return_counts=True)
      unique[split] = values
      if hashes.size:
        report[f"{split}_duplicate_sequences"] = int((counts - 1).sum())
    for a, b in (("train", "dev"), ("train", "test"), ("dev", "test")):
      if unique[a].size and unique[b].size:
        report[f"{a}_{b}_shared_sequences"] = int(
            np.intersect1d(unique[a], unique[b], assume_unique=True).size)
    return report


def _check_output_dir(output_dir: str, overwrite: bool):
  if not os.path.exists(output_dir):
    return
  if not os.path.isdir(output_dir):
    raise ConfigError(f"output_dir {output_dir} exists and is not a directory")
  if os.path.exists(os.path.join(output_dir, MANIFEST)):
    if not overwrite:
      raise ConfigError(
          f"output_dir {output_dir} already holds a dataset; pass --overwrite to "
          "replace it")
    return
  if os.listdir(output_dir):
    raise ConfigError(
        f"output_dir {output_dir} exists, is not empty and holds no dataset; "
        "refusing to replace it (choose another --output_dir)")


def _install(workdir: str, output_dir: str):
  """Moves the finished build into place; an old dataset is removed only after."""
  old = None
  if os.path.exists(output_dir):
    old = f"{output_dir}.old-{os.getpid()}"
    os.rename(output_dir, old)
  os.rename(workdir, output_dir)
  if old is not None:
    shutil.rmtree(old, ignore_errors=True)


def _package_version() -> str:
  from gslm_keras import __version__

  return __version__


def _source_entries(config: BuildConfig, sources: _Sources) -> list[dict[str, Any]]:
  entries = []
  for spec, split in sources.specs:
    entries.append({"path": spec.path, "role": split or "input",
                    "format": spec.resolved_format(), "label": spec.label,
                    "sha256": sha256_file(spec.path),
                    "bytes": os.path.getsize(spec.path)})
  extra = [("reference", config.reference)]
  extra += [("bigwig", path) for _, path in config.bigwig_features]
  if config.recipe is not None and config.recipe.category_map:
    extra.append(("category_map", config.recipe.category_map))
  for role, path in extra:
    if path:
      entries.append({"path": path, "role": role, "sha256": sha256_file(path),
                      "bytes": os.path.getsize(path)})
  return entries


def build_dataset(config: BuildConfig) -> DatasetInfo:
  """Builds the dataset `config` describes and returns its manifest.

  Raises:
    ConfigError: invalid options or an output_dir that may not be replaced.
    InputError: bad input, naming the file, the record and what was wrong.
  """
  output_dir = os.path.abspath(config.output_dir)
  _check_output_dir(output_dir, config.overwrite)
  parent = os.path.dirname(output_dir)
  os.makedirs(parent, exist_ok=True)
  sources = _Sources(config)
  provided = ProvidedPlan(config)
  workdir = tempfile.mkdtemp(prefix=f".{os.path.basename(output_dir)}.building-",
                             dir=parent)
  try:
    labels = _discover_labels(config, sources)
    provided.open()
    builder = _Builder(config, sources, labels, workdir, provided)
    try:
      results = builder.run()
    finally:
      builder.pool.close()
    if builder.num_records["train"] == 0:
      raise InputError("no training records were written (all skipped or no train "
                       "split)", path=sources.specs[0][0].path)
    builder.check_duplicate_ids()
    manifest = _manifest(config, sources, labels, provided, builder, results, workdir)
    write_json_atomic(os.path.join(workdir, MANIFEST), manifest)
    _install(workdir, output_dir)
  except BaseException:
    shutil.rmtree(workdir, ignore_errors=True)
    raise
  finally:
    provided.close()
    sources.close()
  info = DatasetInfo.load(output_dir, verify="none")
  logging.info("Dataset written to %s: %s", output_dir, ", ".join(
      f"{s}={info.num_records(s)}" for s in info.splits))
  return info


def _manifest(config, sources, labels, provided, builder, results, workdir):
  """Renames the shards to their final names and returns the manifest dict."""
  by_split: dict[str, list] = {s: [] for s in splits.SPLITS}
  for result in results:
    by_split[result.split].append(result)
  split_entries = {}
  computed = Moments.empty(len(output_names(config.computed_features)))
  provided_moments = Moments.empty(len(provided.names))
  for split, shard_results in by_split.items():
    shard_results.sort(key=lambda r: r.index)
    shards = []
    for result in shard_results:
      name = shard_name(split, result.index, len(shard_results), config.compression)
      os.rename(result.path, os.path.join(workdir, name))
      shards.append({"file": name, "num_records": result.num_records,
                     "sha256": result.sha256, "bytes": result.bytes})
      if split == "train":
        if result.computed is not None:
          computed = computed.merge(result.computed)
        if result.provided is not None:
          provided_moments = provided_moments.merge(result.provided)
    split_entries[split] = {
        "num_records": builder.num_records[split], "shards": shards,
        "length_actions": builder.length_actions[split],
        "class_counts": builder.class_counts[split] if labels.classes else None,
    }
  mean = np.concatenate([computed.mean, provided_moments.mean]).tolist()
  std = np.concatenate([computed.std(), provided_moments.std()]).tolist()
  computed_names = output_names(config.computed_features)
  task = {"type": labels.task, "classes": labels.classes or None,
          "label_columns": list(config.label_columns)}
  if labels.task == "binary":
    task["positive_class"] = labels.classes[1]
  if labels.aliases:
    task["merged_classes"] = labels.aliases
  split_rule: dict[str, Any]
  if config.input:
    if config.split_fractions is not None:
      split_rule = {"rule": "stratified_fractions",
                    "fractions": list(config.split_fractions), "seed": config.seed}
    elif config.split_column is not None:
      split_rule = {"rule": "column", "column": config.split_column}
    else:
      split_rule = {"rule": "chromosomes", "dev": list(config.dev_chromosomes),
                    "test": list(config.test_chromosomes)}
  else:
    split_rule = {"rule": "files"}
  if config.dev_fraction:
    split_rule["dev_from_train"] = {"fraction": config.dev_fraction,
                                    "seed": config.seed + 1, "stratified": True}
  return {
      "schema_version": SCHEMA_VERSION,
      "name": config.name or os.path.basename(os.path.abspath(config.output_dir)),
      "created": datetime.datetime.now(datetime.timezone.utc).isoformat(
          timespec="seconds"),
      "package_version": _package_version(),
      "build_command": config.command,
      "build_config": config.to_json(),
      "sources": _source_entries(config, sources),
      "sequence": {
          "length_rule": builder.rule.to_json(),
          "alphabet": "IUPAC nucleotide codes ACGTUNRYSWKMBDHV, any case; stored "
                      "upper-case",
          "ambiguous": config.ambiguous,
          "ambiguous_rule": ("N and window padding are all zeros; other IUPAC codes "
                             + ("are all zeros" if config.ambiguous == "zeros" else
                                "are fractions of their bases (R = 0.5 A + 0.5 G)")
                             + "; computed features count only A, C, G, T"),
          "observed_length": {"min": builder.length_range[0],
                              "max": builder.length_range[1]},
      },
      "computed_features": [f.to_json() for f in config.computed_features],
      "provided_features": provided.describe(),
      "missing_values": {"policy": config.missing_values,
                         "markers": sorted(MISSING_MARKERS),
                         "missing_counts": provided.missing_counts,
                         "storage": "NaN in provided_features; the pipeline fills "
                                    "the train mean"},
      "feature_names": computed_names + provided.names,
      "normalization": {"split": "train", "count": builder.num_records["train"],
                        "mean": mean, "std": std,
                        "rule": "(x - mean) / std; std 1 for constant columns"},
      "task": task,
      "compression": config.compression,
      "split_rule": split_rule,
      "splits": split_entries,
      "skipped_by_reader": builder.reader_skipped,
      "sequence_overlaps": builder.sequence_overlaps(),
  }
