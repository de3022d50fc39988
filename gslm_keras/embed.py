r"""Embeds every sequence of a FASTA, CSV or TSV file with a model's backbone.

  python -m gslm_keras.embed --model=gslm-lm-multispecies --input=sequences.fa \
      --output=embeddings.parquet

--model is a classifier's or a language model's training run, or a preset name.
One embedding per record: the mean over positions of the sequence backbone's
output for the model's window of the sequence, averaged with its reverse
complement's (--noboth_strands: the sequence as given). --output ending in .npz
writes arrays `ids` and `embeddings`; .parquet or .tsv one row per record (id,
emb_0 ... emb_<C-1>, length_adjustment). Streams in batches; locked, and
written whole or not at all.
"""

from __future__ import annotations

from gslm_keras import cli, config_flags
from gslm_keras.inference.config import EmbedConfig

# One flag per field of EmbedConfig, its documentation as help (config_flags).
OPTIONS = config_flags.define(EmbedConfig, module_name=__name__)


def main(argv):
  del argv
  config = OPTIONS.build()  # Before TensorFlow loads: a bad option costs nothing.
  from gslm_keras import api

  stats = api.embed(config)
  print(f"{stats['records']} embeddings of {stats['width']} numbers written to "
        f"{stats['output']}")
  cli.print_record_counts(stats)


def run():
  cli.run(main)


if __name__ == "__main__":
  run()
