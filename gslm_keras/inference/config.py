"""What `predict` needs (a plain dataclass: the command declares its flags from it
before TensorFlow loads)."""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar

from gslm_keras.dna.length import LENGTH_MISMATCH
from gslm_keras.errors import ConfigError

UNKNOWN_LETTERS = ("error", "as_n")
ON_ERROR = ("stop", "skip")
EMBED_FORMATS = (".npz", ".parquet", ".tsv")


def _check_choices_and_batch(config) -> None:
  """ConfigError for a value outside its field's CHOICES or a batch below 1."""
  for name, allowed in config.CHOICES.items():
    if getattr(config, name) not in allowed:
      raise ConfigError(f"{name}={getattr(config, name)!r}: expected one of "
                        f"{', '.join(allowed)}")
  if config.batch_size < 1:
    raise ConfigError(f"batch_size={config.batch_size}: expected >= 1")


@dataclasses.dataclass(frozen=True)
class PredictConfig:
  """Predictions for every record of a file (`inference.batch.predict_file`).

  Attributes:
    model: a training run's directory or a SavedModel export.
    input: FASTA (ids from the headers) or CSV/TSV with a header (plain or gzip).
    output: `.tsv` (or any other name) for TSV, `.parquet` for Parquet.
    batch_size: sequences per prediction call.
    rc_average: average each prediction with that of the reverse complement.
    sequence_column: the table column holding the sequence.
    id_column: the table column holding the id (ids are the row numbers without).
    coordinate_columns: table columns chrom, start, end (0-based, half-open),
      needed when the model has bigWig features.
    unknown_letters: "error" (a character outside the IUPAC codes stops with the
      file and record named) or "as_n" (it is read as N; replacements counted).
    on_error: "stop" at the first bad record, or "skip" it: skipped records go to
      `<output>.rejects.tsv` with their reasons and are counted.
    length_mismatch: a sequence whose length is not the model's window: "rule"
      (the training dataset's length rule: crop or pad where it did, refuse where
      it was error or skip) or "adjust" (crop or pad it, aligned by the rule).
      Either way, every adjusted row says so in column length_adjustment and is
      counted.
    overwrite: replace an existing output (and its side files: rejects, summary);
      without it an existing output is refused before any work.
    progress_seconds: seconds between progress lines.
  """

  CHOICES: ClassVar[dict[str, tuple[str, ...]]] = {
      "unknown_letters": UNKNOWN_LETTERS, "on_error": ON_ERROR,
      "length_mismatch": LENGTH_MISMATCH}

  model: str
  input: str
  output: str
  batch_size: int = 256
  rc_average: bool = False
  sequence_column: str = "sequence"
  id_column: str | None = None
  coordinate_columns: tuple[str, ...] | None = None
  unknown_letters: str = "error"
  on_error: str = "stop"
  length_mismatch: str = "rule"
  overwrite: bool = False
  progress_seconds: float = 10.0

  def __post_init__(self):
    if self.coordinate_columns is not None and len(self.coordinate_columns) != 3:
      raise ConfigError("--coordinate_columns: expected three names, chrom,start,end")
    _check_choices_and_batch(self)

  def options(self) -> dict[str, Any]:
    """The keyword arguments of `predict_file` besides model, input and output."""
    return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)
            if f.name not in ("model", "input", "output")}


@dataclasses.dataclass(frozen=True)
class EmbedConfig:
  """One pooled backbone embedding per sequence of a file (`inference.embedding`).

  Attributes:
    model: a classifier's or a language model's training run, or a preset name
      (an export keeps no layers).
    input: FASTA (ids from the headers) or CSV/TSV with a header (plain or gzip).
    output: `.npz` (arrays ids and embeddings), `.parquet` or `.tsv`: columns id,
      emb_0 ... emb_<C-1>, length_adjustment.
    both_strands: average each sequence's embedding with its reverse complement's.
    batch_size: sequences per call.
    sequence_column: the table column holding the sequence.
    id_column: the table column holding the id (ids are the row numbers without).
    length_mismatch: a classifier and a sequence of another length than its window:
      "rule" (the training dataset's length rule) or "adjust" (crop or pad it); a
      language model's window is always cropped or padded.
    on_error: "stop" at the first bad record, or "skip" it (to
      `<output>.rejects.tsv`, counted).
    overwrite: replace an existing output.
    progress_seconds: seconds between progress lines.
  """

  CHOICES: ClassVar[dict[str, tuple[str, ...]]] = {
      "on_error": ON_ERROR, "length_mismatch": LENGTH_MISMATCH}

  model: str
  input: str
  output: str
  both_strands: bool = True
  batch_size: int = 256
  sequence_column: str = "sequence"
  id_column: str | None = None
  length_mismatch: str = "rule"
  on_error: str = "stop"
  overwrite: bool = False
  progress_seconds: float = 10.0

  def __post_init__(self):
    _check_choices_and_batch(self)
    if not self.output.endswith(EMBED_FORMATS):
      raise ConfigError(f"--output {self.output}: embeddings are written as "
                        f"{', '.join(EMBED_FORMATS)}; name the output so")
