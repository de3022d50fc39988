"""What `export` needs (plain dataclasses: the command declares its flags from them
before TensorFlow loads)."""

from __future__ import annotations

import dataclasses
from typing import ClassVar

from gslm_keras.dna.length import LENGTH_MISMATCH
from gslm_keras.errors import ConfigError
from gslm_keras.inference.config import UNKNOWN_LETTERS


@dataclasses.dataclass(frozen=True)
class ServingOptions:
  """Choices fixed at export time.

  Attributes:
    unknown_letters: "error" (a request with a character outside the IUPAC codes
      fails with a message) or "as_n" (such characters are read as N).
    length_mismatch: a sequence whose length is not the model's window: "rule"
      (the training dataset's length rule: crop or pad where it did, fail the
      request where it was error or skip) or "adjust" (crop or pad it). The
      output `length_adjustment` says per row what was done.
  """

  CHOICES: ClassVar[dict[str, tuple[str, ...]]] = {
      "unknown_letters": UNKNOWN_LETTERS, "length_mismatch": LENGTH_MISMATCH}

  unknown_letters: str = "error"
  length_mismatch: str = "rule"

  def __post_init__(self):
    if self.unknown_letters not in UNKNOWN_LETTERS:
      raise ConfigError(f"unknown_letters={self.unknown_letters!r}: expected error or "
                        "as_n")
    if self.length_mismatch not in LENGTH_MISMATCH:
      raise ConfigError(f"length_mismatch={self.length_mismatch!r}: expected rule or "
                        "adjust")


@dataclasses.dataclass(frozen=True)
class ExportConfig(ServingOptions):
  """A model exported as a SavedModel for TF Serving (`serving.export.export_model`).

  Attributes:
    model: a training run's directory, a pretrain run's (a language model: its
      signatures on raw DNA return per-position base probabilities), or a preset
      name.
    export_base: base directory of exports.
    model_name: the name TF Serving serves the model under (a folder of
      export_base).
    version: numeric version directory under model_name.
    overwrite: replace an existing version.
  """

  model: str = ""
  export_base: str = ""
  model_name: str = ""
  version: int = 1
  overwrite: bool = False

  def options(self) -> ServingOptions:
    return ServingOptions(self.unknown_letters, self.length_mismatch)
