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

from absl import flags

from gslm_keras import cli

_MODEL = flags.DEFINE_string("model", None, "model_dir of a training run, or an export.")
_INPUT = flags.DEFINE_string("input", None, "FASTA, CSV or TSV (plain or gzip).")
_OUTPUT = flags.DEFINE_string("output", None, "Output .tsv or .parquet.")
_BATCH_SIZE = flags.DEFINE_integer("batch_size", 256, "Sequences per batch.")
_RC_AVERAGE = flags.DEFINE_boolean(
    "rc_average", False, "Average each prediction with its reverse complement's.")
_SEQUENCE_COLUMN = flags.DEFINE_string("sequence_column", "sequence",
                                       "Table column with the sequence.")
_ID_COLUMN = flags.DEFINE_string("id_column", None, "Table id column (default: row n).")
_COORDINATE_COLUMNS = flags.DEFINE_list(
    "coordinate_columns", None, "Table columns chrom,start,end (0-based, half-open), "
    "for models with bigWig features.")
_UNKNOWN_LETTERS = flags.DEFINE_enum(
    "unknown_letters", "error", ["error", "as_n"], "Characters outside the IUPAC codes: "
    "stop with the record named, or read them as N.")
_ON_ERROR = flags.DEFINE_enum(
    "on_error", "stop", ["stop", "skip"], "A record that cannot be predicted: stop, or "
    "skip it (listed with its reason in <output>.rejects.tsv and counted).")
_LENGTH_MISMATCH = flags.DEFINE_enum(
    "length_mismatch", "rule", ["rule", "adjust"], "A sequence whose length is not "
    "the model's window: follow the training dataset's length rule (crop or pad where "
    "it did, refuse where it was error or skip), or crop / pad it anyway. Adjusted "
    "rows say so in column length_adjustment and are counted.")
_OVERWRITE = flags.DEFINE_boolean(
    "overwrite", False, "Replace an existing --output (and its side files: rejects, "
    "summary); without it an existing output is refused, as every tool does.")
_PROGRESS_SECONDS = flags.DEFINE_float("progress_seconds", 10.0,
                                       "Seconds between progress lines.")


def main(argv):
  del argv
  from gslm_keras.errors import ConfigError
  from gslm_keras.inference.batch import predict_file

  cli.require(_MODEL, _INPUT, _OUTPUT)
  coordinates = _COORDINATE_COLUMNS.value
  if coordinates is not None and len(coordinates) != 3:
    raise ConfigError("--coordinate_columns: expected three names, chrom,start,end")
  stats = predict_file(_MODEL.value, _INPUT.value, _OUTPUT.value,
                       batch_size=_BATCH_SIZE.value, rc_average=_RC_AVERAGE.value,
                       sequence_column=_SEQUENCE_COLUMN.value, id_column=_ID_COLUMN.value,
                       coordinate_columns=coordinates,
                       unknown_letters=_UNKNOWN_LETTERS.value,
                       on_error=_ON_ERROR.value, progress_seconds=_PROGRESS_SECONDS.value,
                       length_mismatch=_LENGTH_MISMATCH.value,
                       overwrite=_OVERWRITE.value)
  print(f"{stats['records']} predictions written to {stats['output']} "
        f"({stats['records'] / max(stats['seconds'], 1e-9):.0f}/s)")
  moved = stats.get("feature_shift", {}).get("moved")
  if moved:
    print(f"warning: {len(moved)} features of the inputs moved from the model's training "
          f"data (most: {', '.join(moved[:5])}); "
          f"{stats['feature_shift']['rows_outside']:.0%} of the rows have a feature more "
          "than 4 training sd away: the feature branch extrapolates there")
  if stats["rejected"]:
    print(f"{stats['rejected']} records rejected: {stats['output']}.rejects.tsv")
  if stats["replaced_letters"]:
    print(f"{stats['replaced_letters']} characters outside the IUPAC codes read as N")
  if stats["padded"] or stats["cropped"]:
    print(f"{stats['padded']} sequences padded with N and {stats['cropped']} cropped to "
          "the model's window (column length_adjustment)")


def run():
  cli.run(main)


if __name__ == "__main__":
  run()
