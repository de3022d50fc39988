"""`BuildOptions`: the options of `build_dataset` as one typed, documented
declaration, the command line's shape (files as `path[:label=X]` strings,
features as specs). `flags.py` generates the command's flags from it and
`to_config` makes the `BuildConfig` (or, for --task=unlabelled, the
`CorpusConfig`) the builders take."""

from __future__ import annotations

import dataclasses
from typing import ClassVar

from gslm_keras.errors import ConfigError

# Options only a language-model corpus (--task=unlabelled) uses, and only a
# labelled build uses.
CORPUS_ONLY = ("stride", "both_strands", "max_n_fraction", "exclude", "exclude_k",
               "split_block", "soft_mask")
LABELLED_ONLY = ("split_column", "dev_chromosomes", "test_chromosomes", "recipe",
                 "classes", "computed_features", "provided_features", "bigwig_features",
                 "dev_fraction")


@dataclasses.dataclass(frozen=True)
class BuildOptions:
  """The options of python -m gslm_keras.build_dataset.

  Attributes:
    train: training input files, `path[:label=X][:format=F]`.
    dev: dev (model selection) input files.
    test: test input files.
    input: input files to split by --split_fractions, --split_column or
      --dev_chromosomes/--test_chromosomes.
    split_fractions: train,dev,test fractions of a seeded split of --input,
      stratified by label, e.g. 0.8,0.1,0.1.
    split_column: table column naming each row's split: train, dev or test.
    dev_chromosomes: contigs held out as the dev split (inputs with coordinates).
    test_chromosomes: contigs held out as the test split.
    dev_fraction: fraction of train moved to a dev split, stratified by label, when
      no dev split is given.
    seed: seed of every random split.
    sequence_column: table column holding the sequence.
    label_column: table label column (several for multi-output regression).
    id_column: table id column; ids are `<file>:<record number>` if unset.
    coordinate_columns: table columns chrom,start,end (0-based, half-open); needed
      for bigWig features and chromosome splits of tables.
    strand_column: table strand column.
    fasta_label_regex: regex on FASTA headers; group 1 (or the whole match) is the
      label.
    fasta_ids: FASTA record ids: the first word of the header, or `<file>:<n>` when
      header words repeat.
    reference: reference genome FASTA for BED inputs (plain or bgzip; the .fai
      index is built when missing).
    bed_label_column: 1-based BED column holding the label (4 = name); the per-file
      label is used if unset.
    bed_strand_aware: reverse-complement windows of '-' BED intervals.
    recipe: GenBank recipe: `coding` (coding vs intergenic windows) or `function`
      (CDS functional category from /product).
    recipe_window: window length of the `coding` recipe.
    recipe_stride: step between windows of the `coding` recipe.
    category_map: JSON {category: regex} for the `function` recipe, in match order;
      built-in rules if unset.
    min_class_count: `function` recipe: categories with fewer CDS are merged into
      `other`.
    task: task type; `auto` is binary or multiclass by the number of classes;
      `unlabelled` builds a language-model corpus of windows (see --stride,
      --exclude).
    classes: class names in index order; discovered from the train labels if unset.
      Labels outside them are an error.
    multilabel_separator: separator of class names in a multilabel cell.
    length: window length the model sees; the first record's length if unset (BED:
      the window size).
    align: where a window sits on a longer or shorter sequence.
    on_longer: what to do with a sequence longer than --length (skips are counted
      in the manifest).
    on_shorter: what to do with a sequence shorter than --length (padding is N).
    ambiguous: one-hot of IUPAC codes other than ACGT: all zeros, or fractions of
      their bases (N is always zeros).
    computed_features: computed features, `name[:param=value...]`, e.g.
      gc_content,kmer:k=3:canonical=true (see --list_features).
    provided_features: numeric table columns used as features.
    bigwig_features: `name=path.bw` tracks averaged over each interval.
    missing_values: missing provided values (empty cell, NA, no bigWig coverage):
      error, or fill with the train mean and add a `<name>_missing` indicator
      column.
    stride: --task=unlabelled: bases between window starts (default: --length).
    both_strands: --task=unlabelled: also write each window's reverse complement.
    max_n_fraction: --task=unlabelled: drop windows with a larger share of N (any
      letter but ACGT).
    exclude: --task=unlabelled: FASTA or CSV/TSV (`sequence` column) files; windows
      sharing a >= --exclude_k base substring (either strand) with any of their
      sequences are dropped.
    exclude_k: --task=unlabelled: shared substring length that excludes a window (at
      most 32).
    split_block: --task=unlabelled: --input windows are split by blocks of this many
      bases (by --split_fractions, default 0.9,0.05,0.05).
    soft_mask: --task=unlabelled: flag lower-case (soft-masked) bases so that the
      loss can down-weight repeats.
    output_dir: dataset directory to create.
    overwrite: replace a dataset already at --output_dir.
    records_per_shard: records per shard file.
    num_workers: shard-writing processes; 0 means one per CPU.
    compression: shard compression.
    progress_seconds: seconds between progress lines.
    name: dataset name (default: the directory name).
    engine: streaming: one machine, worker processes; beam: an Apache Beam pipeline
      (pip install -e '.[beam]'), the same dataset, on any Beam runner.
    beam_pipeline_options: --engine=beam: Beam's own options, passed through, e.g.
      "--direct_running_mode=multi_processing --direct_num_workers=2" or
      "--runner=DataflowRunner --project=... --region=... --temp_location=gs://..."
      (default: the DirectRunner, which works offline).
    list_features: print the computed features and their parameters, exit.
  """

  CHOICES: ClassVar[dict[str, tuple]] = {
      "fasta_ids": ("header", "position"), "recipe": ("coding", "function"),
      "task": ("auto", "binary", "multiclass", "multilabel", "regression", "unlabelled"),
      "align": ("center", "left", "right"), "on_longer": ("error", "crop", "skip"),
      "on_shorter": ("error", "pad", "skip"), "ambiguous": ("zeros", "iupac"),
      "missing_values": ("error", "fill_mean"), "compression": ("GZIP", "NONE"),
      "engine": ("streaming", "beam")}

  train: tuple[str, ...] = ()
  dev: tuple[str, ...] = ()
  test: tuple[str, ...] = ()
  input: tuple[str, ...] = ()
  split_fractions: tuple[float, ...] | None = None
  split_column: str | None = None
  dev_chromosomes: tuple[str, ...] = ()
  test_chromosomes: tuple[str, ...] = ()
  dev_fraction: float = 0.0
  seed: int = 0
  sequence_column: str = "sequence"
  label_column: tuple[str, ...] = ("label",)
  id_column: str | None = None
  coordinate_columns: tuple[str, ...] | None = None
  strand_column: str | None = None
  fasta_label_regex: str | None = None
  fasta_ids: str = "header"
  reference: str | None = None
  bed_label_column: int | None = None
  bed_strand_aware: bool = True
  recipe: str | None = None
  recipe_window: int = 200
  recipe_stride: int = 200
  category_map: str | None = None
  min_class_count: int = 10
  task: str = "auto"
  classes: tuple[str, ...] | None = None
  multilabel_separator: str = ";"
  length: int | None = None
  align: str = "center"
  on_longer: str = "error"
  on_shorter: str = "error"
  ambiguous: str = "zeros"
  computed_features: tuple[str, ...] = ()
  provided_features: tuple[str, ...] = ()
  bigwig_features: tuple[str, ...] = ()
  missing_values: str = "error"
  stride: int | None = None
  both_strands: bool = False
  max_n_fraction: float = 0.1
  exclude: tuple[str, ...] = ()
  exclude_k: int = 32
  split_block: int = 10000
  soft_mask: bool = True
  output_dir: str | None = None
  overwrite: bool = False
  records_per_shard: int = 10000
  num_workers: int = 0
  compression: str = "GZIP"
  progress_seconds: float = 10.0
  name: str | None = None
  engine: str = "streaming"
  beam_pipeline_options: str | None = None
  list_features: bool = False

  def to_config(self, given, command: str):
    """The `BuildConfig` (or `CorpusConfig` for --task=unlabelled) of these options;
    `given` are the options set on the command line or in a flagfile."""
    if not self.output_dir:
      raise ConfigError("--output_dir is required")
    if self.engine != "beam" and self.beam_pipeline_options:
      raise ConfigError("--beam_pipeline_options needs --engine=beam")
    if self.task == "unlabelled":
      unused = [name for name in LABELLED_ONLY if name in given]
      if unused:
        raise ConfigError(f"--task=unlabelled does not use --{', --'.join(unused)}")
      return self._corpus_config(given, command)
    corpus_only = [name for name in CORPUS_ONLY if name in given]
    if corpus_only:
      raise ConfigError(f"--{', --'.join(corpus_only)}: only for --task=unlabelled (a "
                        "language-model corpus); a labelled build does not use them")
    return self._build_config(command)

  def _build_config(self, command: str):
    from gslm_keras.data.builder.config import BuildConfig
    from gslm_keras.data.readers import GenbankRecipe
    from gslm_keras.features.spec import parse_specs

    if self.coordinate_columns is not None and len(self.coordinate_columns) != 3:
      raise ConfigError("--coordinate_columns: expected three names, chrom,start,end")
    recipe = None
    if self.recipe:
      recipe = GenbankRecipe(self.recipe, window=self.recipe_window,
                             stride=self.recipe_stride, category_map=self.category_map,
                             min_class_count=self.min_class_count)
    return BuildConfig(
        output_dir=self.output_dir, train=_specs(self.train), dev=_specs(self.dev),
        test=_specs(self.test), input=_specs(self.input),
        split_fractions=self.split_fractions, split_column=self.split_column,
        dev_chromosomes=self.dev_chromosomes, test_chromosomes=self.test_chromosomes,
        dev_fraction=self.dev_fraction, seed=self.seed,
        sequence_column=self.sequence_column, label_columns=self.label_column,
        id_column=self.id_column, coordinate_columns=self.coordinate_columns,
        strand_column=self.strand_column, fasta_label_regex=self.fasta_label_regex,
        fasta_ids=self.fasta_ids, reference=self.reference,
        bed_label_column=self.bed_label_column, bed_strand_aware=self.bed_strand_aware,
        recipe=recipe, task=self.task, classes=self.classes,
        multilabel_separator=self.multilabel_separator,
        length=self.length if self.length is not None else (
            self.recipe_window if self.recipe == "coding" else None),
        align=self.align, on_longer=self.on_longer, on_shorter=self.on_shorter,
        ambiguous=self.ambiguous, computed_features=parse_specs(self.computed_features),
        provided_features=self.provided_features,
        bigwig_features=_pairs("bigwig_features", self.bigwig_features),
        missing_values=self.missing_values, overwrite=self.overwrite,
        records_per_shard=self.records_per_shard, num_workers=self.num_workers,
        compression=self.compression, progress_seconds=self.progress_seconds,
        name=self.name, command=command)

  def _corpus_config(self, given, command: str):
    from gslm_keras.data.builder.corpus import CorpusConfig
    from gslm_keras.data.builder.tiling import TilingRule

    if not self.length:
      raise ConfigError("--task=unlabelled needs --length (the window length)")
    rule = TilingRule(
        length=self.length, stride=self.stride or self.length,
        both_strands=self.both_strands, max_n_fraction=self.max_n_fraction,
        on_shorter=self.on_shorter if "on_shorter" in given else "skip",
        soft_mask=self.soft_mask,
        split_fractions=self.split_fractions or (0.9, 0.05, 0.05),
        split_block=self.split_block, seed=self.seed)
    return CorpusConfig(
        output_dir=self.output_dir, rule=rule, input=_specs(self.input),
        train=_specs(self.train), dev=_specs(self.dev), test=_specs(self.test),
        exclude=self.exclude, exclude_k=self.exclude_k,
        sequence_column=self.sequence_column, id_column=self.id_column,
        reference=self.reference, bed_strand_aware=self.bed_strand_aware,
        overwrite=self.overwrite, records_per_shard=self.records_per_shard,
        num_workers=self.num_workers, compression=self.compression,
        progress_seconds=self.progress_seconds, name=self.name, command=command)


def _specs(values):
  from gslm_keras.data.readers import InputSpec

  return tuple(InputSpec.parse(v) for v in values)


def _pairs(name, values):
  pairs = []
  for value in values:
    key, sep, path = value.partition("=")
    if not sep or not key or not path:
      raise ConfigError(f"--{name} entry {value!r}: expected name=path")
    pairs.append((key, path))
  return tuple(pairs)
