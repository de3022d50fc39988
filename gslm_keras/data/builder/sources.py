"""The build's input files, each read as a stream of raw records."""

from __future__ import annotations

import dataclasses
import os
from typing import Iterator

from gslm_keras.data import readers
from gslm_keras.data.builder.config import BuildConfig
from gslm_keras.data.readers import InputSpec, RawRecord, TableColumns
from gslm_keras.errors import ConfigError, InputError
from gslm_keras.io.genome import Genome


def _table_delimiter(spec: InputSpec) -> str:
  return "," if spec.resolved_format() == "csv" else "\t"


class Sources:
  """The config's input files, each read as a stream of (record, split or None)."""

  def __init__(self, config: BuildConfig):
    self.config = config
    self.specs = [(spec, "train") for spec in config.train]
    self.specs += [(spec, "dev") for spec in config.dev]
    self.specs += [(spec, "test") for spec in config.test]
    self.specs += [(spec, None) for spec in config.input]
    for spec, _ in self.specs:
      if not os.path.isfile(spec.path):
        raise InputError("input file not found", path=spec.path)
    names = [os.path.basename(spec.path) for spec, _ in self.specs]
    self.id_prefix = [name if names.count(name) == 1 else spec.path
                      for name, (spec, _) in zip(names, self.specs)]
    self._genome = None

  def columns(self) -> TableColumns:
    config = self.config
    chrom, start, end = config.coordinate_columns or (None, None, None)
    return TableColumns(
        sequence=config.sequence_column, labels=config.label_columns,
        id=config.id_column, values=config.provided_features,
        split=config.split_column, chrom=chrom, start=start, end=end,
        strand=config.strand_column)

  def genome(self) -> Genome:
    if self._genome is None:
      self._genome = Genome(self.config.reference)
    return self._genome

  def close(self):
    if self._genome is not None:
      self._genome.close()

  def records(self, index: int, skipped: dict[str, int]
              ) -> Iterator[tuple[RawRecord, str | None]]:
    """(record, split named by the file itself, or None) of source `index`."""
    spec, _ = self.specs[index]
    fmt = spec.resolved_format()
    config = self.config
    if fmt in ("csv", "tsv"):
      yield from readers.read_table(spec.path, _table_delimiter(spec), self.columns())
      return
    if fmt == "fasta":
      if spec.label is None and config.fasta_label_regex is None:
        raise ConfigError(
            f"FASTA input {spec.path} needs a label: add :label=<class> to the path "
            "or set --fasta_label_regex")
      stream = readers.read_fasta(spec.path, spec.label, config.fasta_label_regex)
      if config.fasta_ids == "position":
        stream = (dataclasses.replace(record, id=None) for record in stream)
    elif fmt == "bed":
      options = readers.BedOptions(
          reference=config.reference, window=config.length or 0,
          label_column=config.bed_label_column, strand_aware=config.bed_strand_aware)
      if not options.window:
        raise ConfigError("BED input needs --length (the window size)")
      if spec.label is None and options.label_column is None:
        raise ConfigError(
            f"BED input {spec.path} needs a label: add :label=<class> to the path "
            "or set --bed_label_column")
      stream = readers.read_bed(spec.path, self.genome(), options, spec.label, skipped)
    else:
      stream = readers.read_genbank(spec.path, config.recipe, skipped)
    for record in stream:
      yield record, None
