r"""Builds a dataset directory of TFRecord shards and `dataset_info.json`.

  python -m gslm_keras.build_dataset --flagfile=datasets/splice_statlog/build.flags

Inputs: CSV/TSV (columns by name), FASTA (label per file with
`path:label=<class>` or from the header with --fasta_label_regex), BED plus a
reference genome (windows resized around each interval's centre), GenBank with a
recipe; with --task=unlabelled, a language-model corpus of windows from FASTA
genomes, tables or BED + reference (--length, --stride, --exclude). Splits: files per split (--train/--dev/--test), or --input with
--split_fractions, --split_column or --dev_chromosomes/--test_chromosomes.
--engine=beam runs the same build as an Apache Beam pipeline (DirectRunner by
default; any runner through --beam_pipeline_options).
Run with --list_features to see every computed feature and its parameters.
"""

from __future__ import annotations

from absl import flags

from gslm_keras import cli
from gslm_keras.data.builder.flags import (config_from_flags, define_flags,
                                           options_from_flags)

# One flag per field of BuildOptions, its documentation as help.
OPTIONS = define_flags(flags.FLAGS, module_name=__name__)


def main(argv):
  del argv
  options = options_from_flags(OPTIONS)
  if options.list_features:
    from gslm_keras.features.spec import describe

    print(describe())
    return
  config = config_from_flags(OPTIONS)
  if options.engine == "beam":
    from gslm_keras.data.beam.engine import build_on_beam

    info = build_on_beam(config, options.beam_pipeline_options)
  else:
    from gslm_keras.data.builder.builder import build_dataset

    info = build_dataset(config)
  print(f"Dataset written to {info.directory}")
  for split in info.splits:
    print(f"  {split}: {info.num_records(split)} records")


def run():
  cli.run(main)


if __name__ == "__main__":
  run()
