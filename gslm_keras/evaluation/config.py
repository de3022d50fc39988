"""What `evaluate` needs (a plain dataclass: the command declares its flags from it
before TensorFlow loads)."""

from __future__ import annotations

import dataclasses

from gslm_keras.errors import ConfigError


@dataclasses.dataclass(frozen=True)
class EvaluateConfig:
  """A model measured on a dataset split, or a language model on DNA.

  Attributes:
    model: a training run's directory, a pretrain run's (a language model) or a
      preset name.
    data_dir: classifiers: the dataset to evaluate on (the training dataset when
      unset); results on another dataset go beside the run's own.
    split: the split to evaluate.
    batch_size: classifiers: prediction batch size.
    rc_average: classifiers: each prediction the mean of the window's and its
      reverse complement's, features computed on each strand (for a model trained
      with reverse-complement augmentation; as predict --rc_average); the metrics
      record it as "strands".
    input: language models: a FASTA file to measure bits per base on (cut into
      windows of the corpus length).
    output: language models: the JSON report of input.
    source: language models: the source name of input in the report (default:
      the file name).
    seed: language models: seed of the masks.
  """

  model: str = ""
  data_dir: str | None = None
  split: str = "test"
  batch_size: int = 256
  rc_average: bool = False
  input: str | None = None
  output: str | None = None
  source: str | None = None
  seed: int = 1234

  def __post_init__(self):
    if self.batch_size < 1:
      raise ConfigError(f"batch_size={self.batch_size}: expected >= 1")
