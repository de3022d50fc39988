"""`BuildConfig`: everything a dataset build needs, validated when created."""

from __future__ import annotations

import dataclasses
from typing import Any

from gslm_keras.data.builder import splits
from gslm_keras.data.readers import GenbankRecipe, InputSpec
from gslm_keras.data.readers.spec import input_specs
from gslm_keras.dna import alphabet
from gslm_keras.dna.length import LengthRule
from gslm_keras.errors import ConfigError
from gslm_keras.features.provided import MISSING_POLICIES, ProvidedPlan
from gslm_keras.features.spec import FeatureSpec, output_names

TASK_CHOICES = ("auto", "binary", "multiclass", "multilabel", "regression")


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
  recipe: GenbankRecipe | None = None
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
    self._coerce()
    self._check_splits()
    self._check_labels()
    self._check_encoding()
    self._check_inputs()

  def _coerce(self):
    """What a Python caller writes as on the command line: a path or a list of
    them for a split, a feature spec string (or a comma-joined list), a recipe's
    name, a single name for a tuple of names."""
    for name in ("train", "dev", "test", "input"):
      object.__setattr__(self, name, input_specs(getattr(self, name)))
    features = self.computed_features
    features = features.split(",") if isinstance(features, str) else features
    object.__setattr__(self, "computed_features", tuple(
        FeatureSpec.parse(f.strip()) if isinstance(f, str) else f for f in features
        if not isinstance(f, str) or f.strip()))
    for name in ("label_columns", "dev_chromosomes", "test_chromosomes",
                 "provided_features", "classes"):
      if isinstance(getattr(self, name), str):
        object.__setattr__(self, name, (getattr(self, name),))
    if isinstance(self.recipe, str):
      object.__setattr__(self, "recipe", GenbankRecipe(self.recipe))

  def _check_splits(self):
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

  def _check_labels(self):
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

  def _check_encoding(self):
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

  def _check_inputs(self):
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
      elif isinstance(value, GenbankRecipe):
        value = dataclasses.asdict(value)
      data[field.name] = value
    return data

  def split_assigner(self) -> splits.SplitAssigner:
    """The assigner of this build's one split rule (and its dev carve-out)."""
    return splits.SplitAssigner(
        self.split_fractions, self.split_column, self.dev_chromosomes,
        self.test_chromosomes, self.dev_fraction, self.seed)

  def provided_plan(self) -> ProvidedPlan:
    """The plan that reads this build's provided features."""
    return ProvidedPlan(self.provided_features, self.bigwig_features, self.missing_values)
