"""The `build_dataset` flags and the `BuildConfig` they make.

Defined on a given `FlagValues`, so that the entry point (`python -m
gslm_keras.build_dataset`) and the training entry point (which builds a missing
dataset from its flagfile) read the same flags; library code never reads the
global FLAGS.
"""

from __future__ import annotations

from absl import flags

from gslm_keras import cli
from gslm_keras.errors import ConfigError

def define_flags(fv: flags.FlagValues) -> None:
  """Defines the build flags on `fv` (the global FLAGS when run as a program)."""
  _define_split_flags(fv)
  _define_input_flags(fv)
  _define_label_flags(fv)
  _define_sequence_flags(fv)
  _define_output_flags(fv)
  _define_corpus_flags(fv)


def _define_corpus_flags(fv):
  flags.DEFINE_integer(
      "stride", None, "--task=unlabelled: bases between window starts (default: "
      "--length).", flag_values=fv)
  flags.DEFINE_boolean(
      "both_strands", False, "--task=unlabelled: also write each window's reverse "
      "complement.", flag_values=fv)
  flags.DEFINE_float(
      "max_n_fraction", 0.1, "--task=unlabelled: drop windows with a larger share of N "
      "(any letter but ACGT).", flag_values=fv)
  flags.DEFINE_list(
      "exclude", [], "--task=unlabelled: FASTA or CSV/TSV (`sequence` column) files; "
      "windows sharing a >= --exclude_k base substring (either strand) with any of "
      "their sequences are dropped.", flag_values=fv)
  flags.DEFINE_integer(
      "exclude_k", 32, "--task=unlabelled: shared substring length that excludes a "
      "window (at most 32).", flag_values=fv)
  flags.DEFINE_integer(
      "split_block", 10000, "--task=unlabelled: --input windows are split by blocks of "
      "this many bases (by --split_fractions, default 0.9,0.05,0.05).", flag_values=fv)
  flags.DEFINE_boolean(
      "soft_mask", True, "--task=unlabelled: flag lower-case (soft-masked) bases so "
      "that the loss can down-weight repeats.", flag_values=fv)


def corpus_config_from_flags(fv: flags.FlagValues, command: str):
  """The CorpusConfig of `--task=unlabelled` flags."""
  from gslm_keras.data.builder.corpus import CorpusConfig
  from gslm_keras.data.builder.tiling import TilingRule

  if not fv.length:
    raise ConfigError("--task=unlabelled needs --length (the window length)")
  unused = [name for name in ("split_column", "dev_chromosomes", "test_chromosomes",
                              "recipe", "classes", "computed_features",
                              "provided_features", "bigwig_features", "dev_fraction")
            if fv[name].present]
  if unused:
    raise ConfigError(f"--task=unlabelled does not use --{', --'.join(unused)}")
  fractions = (0.9, 0.05, 0.05) if fv.split_fractions is None else _floats(
      "split_fractions", fv.split_fractions)
  on_shorter = "skip" if not fv["on_shorter"].present else fv.on_shorter
  rule = TilingRule(
      length=fv.length, stride=fv.stride or fv.length, both_strands=fv.both_strands,
      max_n_fraction=fv.max_n_fraction, on_shorter=on_shorter, soft_mask=fv.soft_mask,
      split_fractions=fractions, split_block=fv.split_block, seed=fv.seed)
  return CorpusConfig(
      output_dir=fv.output_dir, rule=rule, input=_specs(fv.input),
      train=_specs(fv.train), dev=_specs(fv.dev), test=_specs(fv.test),
      exclude=tuple(fv.exclude), exclude_k=fv.exclude_k,
      sequence_column=fv.sequence_column, id_column=fv.id_column,
      reference=fv.reference, bed_strand_aware=fv.bed_strand_aware,
      overwrite=fv.overwrite, records_per_shard=fv.records_per_shard,
      num_workers=fv.num_workers, compression=fv.compression,
      progress_seconds=fv.progress_seconds, name=fv.name, command=command)


def _define_split_flags(fv):
  flags.DEFINE_list("train", [], "Training input files, `path[:label=X][:format=F]`.",
                    flag_values=fv)
  flags.DEFINE_list("dev", [], "Dev (model selection) input files.", flag_values=fv)
  flags.DEFINE_list("test", [], "Test input files.", flag_values=fv)
  flags.DEFINE_list(
      "input", [], "Input files to split by --split_fractions, --split_column or "
      "--dev_chromosomes/--test_chromosomes.", flag_values=fv)
  flags.DEFINE_list(
      "split_fractions", None, "train,dev,test fractions of a seeded split of --input, "
      "stratified by label, e.g. 0.8,0.1,0.1.", flag_values=fv)
  flags.DEFINE_string(
      "split_column", None, "Table column naming each row's split: train, dev or test.",
      flag_values=fv)
  flags.DEFINE_list(
      "dev_chromosomes", [], "Contigs held out as the dev split (inputs with coordinates).",
      flag_values=fv)
  flags.DEFINE_list(
      "test_chromosomes", [], "Contigs held out as the test split.", flag_values=fv)
  flags.DEFINE_float(
      "dev_fraction", 0.0, "Fraction of train moved to a dev split, stratified by label, "
      "when no dev split is given.", flag_values=fv)
  flags.DEFINE_integer("seed", 0, "Seed of every random split.", flag_values=fv)


def _define_input_flags(fv):
  flags.DEFINE_string(
      "sequence_column", "sequence", "Table column holding the sequence.", flag_values=fv)
  flags.DEFINE_list(
      "label_column", ["label"], "Table label column (several for multi-output "
      "regression).", flag_values=fv)
  flags.DEFINE_string(
      "id_column", None, "Table id column; ids are `<file>:<record number>` if unset.",
      flag_values=fv)
  flags.DEFINE_list(
      "coordinate_columns", None, "Table columns chrom,start,end (0-based, half-open); "
      "needed for bigWig features and chromosome splits of tables.", flag_values=fv)
  flags.DEFINE_string("strand_column", None, "Table strand column.", flag_values=fv)
  flags.DEFINE_string(
      "fasta_label_regex", None, "Regex on FASTA headers; group 1 (or the whole match) "
      "is the label.", flag_values=fv)
  flags.DEFINE_enum(
      "fasta_ids", "header", ["header", "position"], "FASTA record ids: the first "
      "word of the header, or `<file>:<n>` when header words repeat.", flag_values=fv)
  flags.DEFINE_string(
      "reference", None, "Reference genome FASTA for BED inputs (plain or bgzip; the "
      ".fai index is built when missing).", flag_values=fv)
  flags.DEFINE_integer(
      "bed_label_column", None, "1-based BED column holding the label (4 = name); the "
      "per-file label is used if unset.", flag_values=fv)
  flags.DEFINE_boolean(
      "bed_strand_aware", True, "Reverse-complement windows of '-' BED intervals.", flag_values=fv)


def _define_label_flags(fv):
  flags.DEFINE_enum(
      "recipe", None, ["coding", "function"], "GenBank recipe: `coding` (coding vs "
      "intergenic windows) or `function` (CDS functional category from /product).", flag_values=fv)
  flags.DEFINE_integer(
      "recipe_window", 200, "Window length of the `coding` recipe.", flag_values=fv)
  flags.DEFINE_integer(
      "recipe_stride", 200, "Step between windows of the `coding` recipe.", flag_values=fv)
  flags.DEFINE_string(
      "category_map", None, "JSON {category: regex} for the `function` recipe, in "
      "match order; built-in rules if unset.", flag_values=fv)
  flags.DEFINE_integer(
      "min_class_count", 10, "`function` recipe: categories with fewer CDS are merged "
      "into `other`.", flag_values=fv)
  flags.DEFINE_enum(
      "task", "auto", ["auto", "binary", "multiclass", "multilabel", "regression",
                       "unlabelled"],
      "Task type; `auto` is binary or multiclass by the number of classes; "
      "`unlabelled` builds a language-model corpus of windows (see --stride, "
      "--exclude).", flag_values=fv)
  flags.DEFINE_list(
      "classes", None, "Class names in index order; discovered from the train labels "
      "if unset. Labels outside them are an error.", flag_values=fv)
  flags.DEFINE_string(
      "multilabel_separator", ";", "Separator of class names in a multilabel cell.", flag_values=fv)


def _define_sequence_flags(fv):
  flags.DEFINE_integer(
      "length", None, "Window length the model sees; the first record's length if "
      "unset (BED: the window size).", flag_values=fv)
  flags.DEFINE_enum(
      "align", "center", ["center", "left", "right"], "Where a window sits on a longer "
      "or shorter sequence.", flag_values=fv)
  flags.DEFINE_enum(
      "on_longer", "error", ["error", "crop", "skip"], "What to do with a sequence "
      "longer than --length (skips are counted in the manifest).", flag_values=fv)
  flags.DEFINE_enum(
      "on_shorter", "error", ["error", "pad", "skip"], "What to do with a sequence "
      "shorter than --length (padding is N).", flag_values=fv)
  flags.DEFINE_enum(
      "ambiguous", "zeros", ["zeros", "iupac"], "One-hot of IUPAC codes other than "
      "ACGT: all zeros, or fractions of their bases (N is always zeros).", flag_values=fv)
  flags.DEFINE_list(
      "computed_features", [], "Computed features, `name[:param=value...]`, e.g. "
      "gc_content,kmer:k=3:canonical=true (see --list_features).", flag_values=fv)
  flags.DEFINE_list(
      "provided_features", [], "Numeric table columns used as features.", flag_values=fv)
  flags.DEFINE_list(
      "bigwig_features", [], "`name=path.bw` tracks averaged over each interval.", flag_values=fv)
  flags.DEFINE_enum(
      "missing_values", "error", ["error", "fill_mean"], "Missing provided values (empty "
      "cell, NA, no bigWig coverage): error, or fill with the train mean and add a "
      "`<name>_missing` indicator column.", flag_values=fv)


def _define_output_flags(fv):
  flags.DEFINE_string("output_dir", None, "Dataset directory to create.", flag_values=fv)
  flags.DEFINE_boolean(
      "overwrite", False, "Replace a dataset already at --output_dir.", flag_values=fv)
  flags.DEFINE_integer(
      "records_per_shard", 10000, "Records per shard file.", flag_values=fv)
  flags.DEFINE_integer(
      "num_workers", 0, "Shard-writing processes; 0 means one per CPU.", flag_values=fv)
  flags.DEFINE_enum(
      "compression", "GZIP", ["GZIP", "NONE"], "Shard compression.", flag_values=fv)
  flags.DEFINE_float(
      "progress_seconds", 10.0, "Seconds between progress lines.", flag_values=fv)
  flags.DEFINE_string("name", None, "Dataset name (default: the directory name).", flag_values=fv)
  flags.DEFINE_enum(
      "engine", "streaming", ["streaming", "beam"], "streaming: one machine, worker "
      "processes; beam: an Apache Beam pipeline (pip install -e '.[beam]'), the same "
      "dataset, on any Beam runner.", flag_values=fv)
  flags.DEFINE_string(
      "beam_pipeline_options", None, "--engine=beam: Beam's own options, passed "
      "through, e.g. \"--direct_running_mode=multi_processing --direct_num_workers=2\" "
      "or \"--runner=DataflowRunner --project=... --region=... --temp_location=gs://...\" "
      "(default: the DirectRunner, which works offline).", flag_values=fv)
  flags.DEFINE_boolean(
      "list_features", False, "Print the computed features and their parameters, exit.",
      flag_values=fv)


def _specs(values):
  from gslm_keras.data.readers import InputSpec

  return tuple(InputSpec.parse(v) for v in values)


def _floats(name, values):
  try:
    return tuple(float(v) for v in values)
  except ValueError:
    raise ConfigError(f"--{name}={','.join(values)}: expected numbers") from None


def _pairs(name, values):
  pairs = []
  for value in values:
    key, sep, path = value.partition("=")
    if not sep or not key or not path:
      raise ConfigError(f"--{name} entry {value!r}: expected name=path")
    pairs.append((key, path))
  return tuple(pairs)


def config_from_flags(fv: flags.FlagValues, command: str | None = None):
  """Turns parsed build flags into a BuildConfig, once.

  Args:
    fv: parsed flags.
    command: the command line to record; this process's own when None.
  """
  from gslm_keras.data.builder.config import BuildConfig
  from gslm_keras.data.readers import GenbankRecipe
  from gslm_keras.features.spec import parse_specs

  if not fv.output_dir:
    raise ConfigError("--output_dir is required")
  command = command or cli.command_line("gslm_keras.build_dataset")
  if fv.task == "unlabelled":
    return corpus_config_from_flags(fv, command)
  corpus_only = [name for name in ("stride", "both_strands", "max_n_fraction", "exclude",
                                   "exclude_k", "split_block", "soft_mask")
                 if fv[name].present]
  if corpus_only:
    raise ConfigError(f"--{', --'.join(corpus_only)}: only for --task=unlabelled (a "
                      "language-model corpus); a labelled build does not use them")
  coordinates = None
  if fv.coordinate_columns is not None:
    if len(fv.coordinate_columns) != 3:
      raise ConfigError("--coordinate_columns: expected three names, chrom,start,end")
    coordinates = tuple(fv.coordinate_columns)
  fractions = None
  if fv.split_fractions is not None:
    fractions = _floats("split_fractions", fv.split_fractions)
  recipe = None
  if fv.recipe:
    recipe = GenbankRecipe(fv.recipe, window=fv.recipe_window,
                           stride=fv.recipe_stride,
                           category_map=fv.category_map,
                           min_class_count=fv.min_class_count)
  return BuildConfig(
      output_dir=fv.output_dir, train=_specs(fv.train),
      dev=_specs(fv.dev), test=_specs(fv.test), input=_specs(fv.input),
      split_fractions=fractions, split_column=fv.split_column,
      dev_chromosomes=tuple(fv.dev_chromosomes),
      test_chromosomes=tuple(fv.test_chromosomes),
      dev_fraction=fv.dev_fraction, seed=fv.seed,
      sequence_column=fv.sequence_column,
      label_columns=tuple(fv.label_column), id_column=fv.id_column,
      coordinate_columns=coordinates, strand_column=fv.strand_column,
      fasta_label_regex=fv.fasta_label_regex, fasta_ids=fv.fasta_ids,
      reference=fv.reference,
      bed_label_column=fv.bed_label_column,
      bed_strand_aware=fv.bed_strand_aware, recipe=recipe, task=fv.task,
      classes=tuple(fv.classes) if fv.classes is not None else None,
      multilabel_separator=fv.multilabel_separator,
      length=fv.length if fv.length is not None else (
          fv.recipe_window if fv.recipe == "coding" else None),
      align=fv.align, on_longer=fv.on_longer, on_shorter=fv.on_shorter,
      ambiguous=fv.ambiguous,
      computed_features=parse_specs(fv.computed_features),
      provided_features=tuple(fv.provided_features),
      bigwig_features=_pairs("bigwig_features", fv.bigwig_features),
      missing_values=fv.missing_values, overwrite=fv.overwrite,
      records_per_shard=fv.records_per_shard, num_workers=fv.num_workers,
      compression=fv.compression, progress_seconds=fv.progress_seconds,
      name=fv.name, command=command)


def config_from_flagfile(path: str, **overrides):
  """The BuildConfig a dataset flagfile describes, with `overrides` as later flags."""
  fv = flags.FlagValues()
  define_flags(fv)
  args = [f"--flagfile={path}"] + [f"--{key}={value}" for key, value in overrides.items()]
  try:
    fv(["build_dataset", *args])
  except flags.Error as error:
    raise ConfigError(f"dataset flagfile {path}: {error}") from None
  command = " ".join(["python -m gslm_keras.build_dataset", *args])
  return config_from_flags(fv, command=command)


def build_missing(data_dir: str, flagfile: str | None,
                  distribution_strategy: str = "default") -> None:
  """Builds `data_dir` from a dataset flagfile when it holds no dataset yet (the
  quickstart). Not under multi-worker training: the workers would race; the
  dataset must exist before they start."""
  import os

  from absl import logging

  from gslm_keras.data.builder.builder import build_dataset
  from gslm_keras.data.dataset_info import MANIFEST

  if not flagfile or os.path.exists(os.path.join(data_dir, MANIFEST)):
    return
  if distribution_strategy == "multi_worker":
    return
  logging.info("No dataset at %s yet: building it from %s", data_dir, flagfile)
  build_dataset(config_from_flagfile(flagfile, output_dir=data_dir))
