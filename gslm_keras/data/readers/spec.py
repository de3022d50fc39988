"""What a reader is given (an input file with its options) and what it yields."""

from __future__ import annotations

import dataclasses
import os
from typing import Sequence

from gslm_keras.errors import ConfigError

FORMATS = ("csv", "tsv", "fasta", "bed", "genbank")
_EXTENSIONS = {
    ".csv": "csv", ".tsv": "tsv", ".txt": "tsv", ".fa": "fasta", ".fasta": "fasta",
    ".fna": "fasta", ".fas": "fasta", ".bed": "bed", ".gb": "genbank",
    ".gbk": "genbank", ".genbank": "genbank", ".gbff": "genbank",
}


@dataclasses.dataclass(frozen=True)
class InputSpec:
  """One input file, written `path[:key=value...]` on the command line.

  Attributes:
    path: the file (plain or gzip-compressed).
    label: label given to every record of the file (FASTA or BED per class).
    format: one of FORMATS; detected from the extension when None.
    source: species or source name of the file's records (language-model
      corpora); the file name without extensions when None.
  """

  path: str
  label: str | None = None
  format: str | None = None
  source: str | None = None

  @classmethod
  def parse(cls, text: str) -> "InputSpec":
    path, *options = text.strip().split(":")
    kwargs = {}
    for option in options:
      key, sep, value = option.partition("=")
      if not sep or key not in ("label", "format", "source"):
        raise ConfigError(
            f"input {text!r}: option {option!r} is not label=..., format=... or "
            "source=...")
      kwargs[key] = value
    if not path:
      raise ConfigError(f"input {text!r}: empty path")
    return cls(path=path, **kwargs)

  def resolved_format(self) -> str:
    if self.format:
      if self.format not in FORMATS:
        raise ConfigError(
            f"input {self.path}: format={self.format!r}; expected one of "
            f"{', '.join(FORMATS)}")
      return self.format
    name = self.path.lower()
    for suffix in (".gz", ".bgz"):
      if name.endswith(suffix):
        name = name[:-len(suffix)]
    fmt = _EXTENSIONS.get(os.path.splitext(name)[1])
    if fmt is None:
      raise ConfigError(
          f"input {self.path}: cannot tell the format from the extension; add "
          f":format=<{'|'.join(FORMATS)}>")
    return fmt

  def source_name(self) -> str:
    """`source`, or the file name without its extensions."""
    if self.source:
      return self.source
    name = os.path.basename(self.path)
    if name.lower().endswith((".gz", ".bgz")):
      name = os.path.splitext(name)[0]
    return os.path.splitext(name)[0]

  def __str__(self) -> str:
    options = [f"{k}={v}" for k, v in (("label", self.label), ("format", self.format),
                                       ("source", self.source)) if v is not None]
    return ":".join([self.path] + options)


@dataclasses.dataclass
class RawRecord:
  """One sequence as read, before validation.

  Attributes:
    sequence: the sequence text as found (any case).
    locator: where it is in its file ("line 12", "record 3").
    id: identifier from the file, or None (the builder makes one).
    label: raw label text, or None for unlabelled input.
    values: raw text of the requested provided-feature columns, in order.
    chrom, start, end, strand: coordinates (0-based, half-open) when known.
  """

  sequence: str
  locator: str
  id: str | None = None
  label: str | None = None
  values: Sequence[str] = ()
  chrom: str | None = None
  start: int | None = None
  end: int | None = None
  strand: str | None = None


def input_specs(value) -> tuple["InputSpec", ...]:
  """A split's inputs as a Python caller may give them: a path (or spec string), a
  list of them, or InputSpecs."""
  value = (value,) if isinstance(value, str) else value
  return tuple(InputSpec.parse(v) if isinstance(v, str) else v for v in value)
