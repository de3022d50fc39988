r"""Predicts every sequence of a FASTA, CSV or TSV file with a trained model.

  python -m gslm_keras.predict --model=build/models/quickstart \
      --input=sequences.fa --output=predictions.tsv

--model is a training run's directory or a SavedModel export. One output row per
input record, in input order: id, one probability per class (or one value per
target), the predicted class, and length_adjustment (none, padded or cropped:
a sequence of another length than the model's window is cropped or padded where
the training dataset's length rule did, refused where it was error, unless
--length_mismatch=adjust). Streams in batches (memory holds one batch);
--output ending in .parquet writes Parquet.
"""

from __future__ import annotations

from gslm_keras import cli, config_flags
from gslm_keras.inference.config import PredictConfig

# One flag per field of PredictConfig, its documentation as help (config_flags).
OPTIONS = config_flags.define(PredictConfig, module_name=__name__)


def main(argv):
  del argv
  config = OPTIONS.build()  # Before TensorFlow loads: a bad option costs nothing.
  from gslm_keras import api

  stats = api.predict(config)
  print(f"{stats['records']} predictions written to {stats['output']} "
        f"({stats['records'] / max(stats['seconds'], 1e-9):.0f}/s)")
  moved = stats.get("feature_shift", {}).get("moved")
  if moved:
    print(f"warning: {len(moved)} features of the inputs moved from the model's training "
          f"data (most: {', '.join(moved[:5])}); "
          f"{stats['feature_shift']['rows_outside']:.0%} of the rows have a feature more "
          "than 4 training sd away: the feature branch extrapolates there")
  if stats["replaced_letters"]:
    print(f"{stats['replaced_letters']} characters outside the IUPAC codes read as N")
  cli.print_record_counts(stats)


def run():
  cli.run(main)


if __name__ == "__main__":
  run()
