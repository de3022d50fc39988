"""What `predict` needs (a plain dataclass: the command declares its flags from it
before TensorFlow loads)."""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar, Sequence

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


TRACK_FORMATS = (".bw", ".bigwig", ".bigWig")
STRANDS = ("auto", "forward", "both")


@dataclasses.dataclass(frozen=True)
class ScanConfig:
  """A whole genome (or BED regions) tiled with a model's window into tracks and
  called elements (`inference.scan`).

  Attributes:
    model: a classifier's or regression model's training run or export, without
      provided features (scan computes features from the sequence alone).
    genome: FASTA, plain, gzip or bgzip; read front to back, never whole.
    output: a bigWig (.bw: one track per output column, `<name>.<column>.bw` when
      the model has several; a binary classifier's one track is its positive class,
      or --element_column's class) and/or a BED of called elements (.bed), joined
      by commas.
    regions: BED file of the regions to tile (0-based, half-open); the whole
      genome without it.
    stride: bases between window starts (0: half the window). Each window's score
      covers the `stride` bases at its centre in the track.
    strands: "auto" (both strands averaged for a model trained with
      reverse-complement augmentation; a model that averages them itself, or a
      strand-oriented one, as it reads), "forward" or "both" (averaged).
    threshold: windows scoring at least this are elements; without it the cut
      with the best MCC on the model's own dev split.
    element_column: the output column elements are called on (a binary
      classifier: its positive class; needed when the model has several).
    max_n_fraction: a window with a larger share of N (or other non-ACGT letters)
      is not scored (counted; a gap in the track).
    batch_size: windows per forward pass.
    progress_seconds: seconds between progress lines.
    overwrite: replace existing outputs.
    command: the command line, recorded in the BED header.

  A killed scan resumes where it stopped when run again with the same settings
  (its work is kept in a hidden folder beside the first output).
  """

  CHOICES: ClassVar[dict[str, tuple[str, ...]]] = {"strands": STRANDS}

  model: str
  genome: str
  output: str | Sequence[str]
  regions: str | None = None
  stride: int = 0
  strands: str = "auto"
  threshold: float | None = None
  element_column: str | None = None
  max_n_fraction: float = 0.1
  batch_size: int = 256
  progress_seconds: float = 10.0
  overwrite: bool = False
  command: str | None = None

  def __post_init__(self):
    paths = (self.output.split(",") if isinstance(self.output, str)
             else list(self.output))
    paths = tuple(p.strip() for p in paths if p.strip())
    object.__setattr__(self, "output", paths)
    if not paths:
      raise ConfigError("--output is required: a bigWig (.bw) and/or a BED (.bed)")
    for path in paths:
      if not path.endswith(TRACK_FORMATS + (".bed",)):
        raise ConfigError(f"--output {path}: scan writes bigWig tracks (.bw) and BED "
                          "elements (.bed); name each output so")
    if len(set(paths)) != len(paths) or len(self.beds) > 1 or len(self.tracks) > 1:
      raise ConfigError(f"--output={','.join(paths)}: name at most one .bw and one .bed")
    if self.threshold is not None and not self.beds:
      raise ConfigError("--threshold calls elements: add a .bed to --output")
    if self.stride < 0:
      raise ConfigError(f"--stride={self.stride}: expected >= 1 (0: half the window)")
    if not 0.0 <= self.max_n_fraction <= 1.0:
      raise ConfigError(f"--max_n_fraction={self.max_n_fraction}: expected 0 to 1")
    _check_choices_and_batch(self)

  @property
  def tracks(self) -> tuple[str, ...]:
    return tuple(p for p in self.output if p.endswith(TRACK_FORMATS))

  @property
  def beds(self) -> tuple[str, ...]:
    return tuple(p for p in self.output if p.endswith(".bed"))
