r"""Builds a dataset directory of TFRecord shards and `dataset_info.json`.

  python -m gslm_keras.build_dataset --flagfile=datasets/splice_statlog/build.flags

Inputs: CSV/TSV (columns by name), FASTA (label per file with
`path:label=<class>` or from the header with --fasta_label_regex), BED plus a
reference genome (windows resized around each interval's centre), GenBank with a
recipe. Splits: files per split (--train/--dev/--test), or --input with
--split_fractions, --split_column or --dev_chromosomes/--test_chromosomes.
Run with --list_features to see every computed feature and its parameters.
"""

from __future__ import annotations

from absl import flags

from gslm_keras import cli

_TRAIN = flags.DEFINE_list("train", [], "Training input files, `path[:label=X][:format=F]`.")
_DEV = flags.DEFINE_list("dev", [], "Dev (model selection) input files.")
_TEST = flags.DEFINE_list("test", [], "Test input files.")
_INPUT = flags.DEFINE_list(
    "input", [], "Input files to split by --split_fractions, --split_column or "
    "--dev_chromosomes/--test_chromosomes.")
_SPLIT_FRACTIONS = flags.DEFINE_list(
    "split_fractions", None, "train,dev,test fractions of a seeded split of --input, "
    "stratified by label, e.g. 0.8,0.1,0.1.")
_SPLIT_COLUMN = flags.DEFINE_string(
    "split_column", None, "Table column naming each row's split: train, dev or test.")
_DEV_CHROMOSOMES = flags.DEFINE_list(
    "dev_chromosomes", [], "Contigs held out as the dev split (inputs with coordinates).")
_TEST_CHROMOSOMES = flags.DEFINE_list(
    "test_chromosomes", [], "Contigs held out as the test split.")
_DEV_FRACTION = flags.DEFINE_float(
    "dev_fraction", 0.0, "Fraction of train moved to a dev split, stratified by label, "
    "when no dev split is given.")
_SEED = flags.DEFINE_integer("seed", 0, "Seed of every random split.")
_SEQUENCE_COLUMN = flags.DEFINE_string(
    "sequence_column", "sequence", "Table column holding the sequence.")
_LABEL_COLUMN = flags.DEFINE_list(
    "label_column", ["label"], "Table label column (several for multi-output "
    "regression).")
_ID_COLUMN = flags.DEFINE_string(
    "id_column", None, "Table id column; ids are `<file>:<record number>` if unset.")
_COORDINATE_COLUMNS = flags.DEFINE_list(
    "coordinate_columns", None, "Table columns chrom,start,end (0-based, half-open); "
    "needed for bigWig features and chromosome splits of tables.")
_STRAND_COLUMN = flags.DEFINE_string("strand_column", None, "Table strand column.")
_FASTA_LABEL_REGEX = flags.DEFINE_string(
    "fasta_label_regex", None, "Regex on FASTA headers; group 1 (or the whole match) "
    "is the label.")
_REFERENCE = flags.DEFINE_string(
    "reference", None, "Reference genome FASTA for BED inputs (plain or bgzip; the "
    ".fai index is built when missing).")
_BED_LABEL_COLUMN = flags.DEFINE_integer(
    "bed_label_column", None, "1-based BED column holding the label (4 = name); the "
    "per-file label is used if unset.")
_BED_STRAND_AWARE = flags.DEFINE_boolean(
    "bed_strand_aware", True, "Reverse-complement windows of '-' BED intervals.")
_RECIPE = flags.DEFINE_enum(
    "recipe", None, ["coding", "function"], "GenBank recipe: `coding` (coding vs "
    "intergenic windows) or `function` (CDS functional category from /product).")
_RECIPE_WINDOW = flags.DEFINE_integer(
    "recipe_window", 200, "Window length of the `coding` recipe.")
_RECIPE_STRIDE = flags.DEFINE_integer(
    "recipe_stride", 200, "Step between windows of the `coding` recipe.")
_CATEGORY_MAP = flags.DEFINE_string(
    "category_map", None, "JSON {category: regex} for the `function` recipe, in "
    "match order; built-in rules if unset.")
_MIN_CLASS_COUNT = flags.DEFINE_integer(
    "min_class_count", 10, "`function` recipe: categories with fewer CDS are merged "
    "into `other`.")
_TASK = flags.DEFINE_enum(
    "task", "auto", ["auto", "binary", "multiclass", "multilabel", "regression"],
    "Task type; `auto` is binary or multiclass by the number of classes.")
_CLASSES = flags.DEFINE_list(
    "classes", None, "Class names in index order; discovered from the train labels "
    "if unset. Labels outside them are an error.")
_MULTILABEL_SEPARATOR = flags.DEFINE_string(
    "multilabel_separator", ";", "Separator of class names in a multilabel cell.")
_LENGTH = flags.DEFINE_integer(
    "length", None, "Window length the model sees; the first record's length if "
    "unset (BED: the window size).")
_ALIGN = flags.DEFINE_enum(
    "align", "center", ["center", "left", "right"], "Where a window sits on a longer "
    "or shorter sequence.")
_ON_LONGER = flags.DEFINE_enum(
    "on_longer", "error", ["error", "crop", "skip"], "What to do with a sequence "
    "longer than --length (skips are counted in the manifest).")
_ON_SHORTER = flags.DEFINE_enum(
    "on_shorter", "error", ["error", "pad", "skip"], "What to do with a sequence "
    "shorter than --length (padding is N).")
_AMBIGUOUS = flags.DEFINE_enum(
    "ambiguous", "zeros", ["zeros", "iupac"], "One-hot of IUPAC codes other than "
    "ACGT: all zeros, or fractions of their bases (N is always zeros).")
_COMPUTED_FEATURES = flags.DEFINE_list(
    "computed_features", [], "Computed features, `name[:param=value...]`, e.g. "
    "gc_content,kmer:k=3:canonical=true (see --list_features).")
_PROVIDED_FEATURES = flags.DEFINE_list(
    "provided_features", [], "Numeric table columns used as features.")
_BIGWIG_FEATURES = flags.DEFINE_list(
    "bigwig_features", [], "`name=path.bw` tracks averaged over each interval.")
_MISSING_VALUES = flags.DEFINE_enum(
    "missing_values", "error", ["error", "fill_mean"], "Missing provided values (empty "
    "cell, NA, no bigWig coverage): error, or fill with the train mean and add a "
    "`<name>_missing` indicator column.")
_OUTPUT_DIR = flags.DEFINE_string("output_dir", None, "Dataset directory to create.")
_OVERWRITE = flags.DEFINE_boolean(
    "overwrite", False, "Replace a dataset already at --output_dir.")
_RECORDS_PER_SHARD = flags.DEFINE_integer(
    "records_per_shard", 10000, "Records per shard file.")
_NUM_WORKERS = flags.DEFINE_integer(
    "num_workers", 0, "Shard-writing processes; 0 means one per CPU.")
_COMPRESSION = flags.DEFINE_enum(
    "compression", "GZIP", ["GZIP", "NONE"], "Shard compression.")
_PROGRESS_SECONDS = flags.DEFINE_float(
    "progress_seconds", 10.0, "Seconds between progress lines.")
_NAME = flags.DEFINE_string("name", None, "Dataset name (default: the directory name).")
_LIST_FEATURES = flags.DEFINE_boolean(
    "list_features", False, "Print the computed features and their parameters, exit.")


def _specs(values):
  from gslm_keras.data.readers import InputSpec

  return tuple(InputSpec.parse(v) for v in values)


def _floats(name, values):
  from gslm_keras.errors import ConfigError

  try:
    return tuple(float(v) for v in values)
  except ValueError:
    raise ConfigError(f"--{name}={','.join(values)}: expected numbers") from None


def _pairs(name, values):
  from gslm_keras.errors import ConfigError

  pairs = []
  for value in values:
    key, sep, path = value.partition("=")
    if not sep or not key or not path:
      raise ConfigError(f"--{name} entry {value!r}: expected name=path")
    pairs.append((key, path))
  return tuple(pairs)


def config_from_flags():
  """Turns the parsed flags into a BuildConfig, once."""
  from gslm_keras.data.builder import BuildConfig
  from gslm_keras.data.genbank import GenbankRecipe
  from gslm_keras.errors import ConfigError
  from gslm_keras.features.registry import parse_specs

  if not _OUTPUT_DIR.value:
    raise ConfigError("--output_dir is required")
  coordinates = None
  if _COORDINATE_COLUMNS.value is not None:
    if len(_COORDINATE_COLUMNS.value) != 3:
      raise ConfigError("--coordinate_columns: expected three names, chrom,start,end")
    coordinates = tuple(_COORDINATE_COLUMNS.value)
  fractions = None
  if _SPLIT_FRACTIONS.value is not None:
    fractions = _floats("split_fractions", _SPLIT_FRACTIONS.value)
  recipe = None
  if _RECIPE.value:
    recipe = GenbankRecipe(_RECIPE.value, window=_RECIPE_WINDOW.value,
                           stride=_RECIPE_STRIDE.value,
                           category_map=_CATEGORY_MAP.value,
                           min_class_count=_MIN_CLASS_COUNT.value)
  return BuildConfig(
      output_dir=_OUTPUT_DIR.value, train=_specs(_TRAIN.value),
      dev=_specs(_DEV.value), test=_specs(_TEST.value), input=_specs(_INPUT.value),
      split_fractions=fractions, split_column=_SPLIT_COLUMN.value,
      dev_chromosomes=tuple(_DEV_CHROMOSOMES.value),
      test_chromosomes=tuple(_TEST_CHROMOSOMES.value),
      dev_fraction=_DEV_FRACTION.value, seed=_SEED.value,
      sequence_column=_SEQUENCE_COLUMN.value,
      label_columns=tuple(_LABEL_COLUMN.value), id_column=_ID_COLUMN.value,
      coordinate_columns=coordinates, strand_column=_STRAND_COLUMN.value,
      fasta_label_regex=_FASTA_LABEL_REGEX.value, reference=_REFERENCE.value,
      bed_label_column=_BED_LABEL_COLUMN.value,
      bed_strand_aware=_BED_STRAND_AWARE.value, recipe=recipe, task=_TASK.value,
      classes=tuple(_CLASSES.value) if _CLASSES.value is not None else None,
      multilabel_separator=_MULTILABEL_SEPARATOR.value,
      length=_LENGTH.value if _LENGTH.value is not None else (
          _RECIPE_WINDOW.value if _RECIPE.value == "coding" else None),
      align=_ALIGN.value, on_longer=_ON_LONGER.value, on_shorter=_ON_SHORTER.value,
      ambiguous=_AMBIGUOUS.value,
      computed_features=parse_specs(_COMPUTED_FEATURES.value),
      provided_features=tuple(_PROVIDED_FEATURES.value),
      bigwig_features=_pairs("bigwig_features", _BIGWIG_FEATURES.value),
      missing_values=_MISSING_VALUES.value, overwrite=_OVERWRITE.value,
      records_per_shard=_RECORDS_PER_SHARD.value, num_workers=_NUM_WORKERS.value,
      compression=_COMPRESSION.value, progress_seconds=_PROGRESS_SECONDS.value,
      name=_NAME.value, command=cli.command_line("gslm_keras.build_dataset"))


def main(argv):
  del argv
  if _LIST_FEATURES.value:
    from gslm_keras.features.registry import describe

    print(describe())
    return
  from gslm_keras.data.builder import build_dataset

  info = build_dataset(config_from_flags())
  print(f"Dataset written to {info.directory}")
  for split in info.splits:
    print(f"  {split}: {info.num_records(split)} records")


def run():
  cli.run(main)


if __name__ == "__main__":
  run()
