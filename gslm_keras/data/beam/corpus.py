"""A language-model corpus built on Beam (`--task=unlabelled --engine=beam`).

    specs -> ReadSequences -> Reshuffle -> TileRecords -> shards

Each input file is read by one worker (the genome of BED inputs opened once per
worker in `setup`); its sequences (whole chromosomes for a genome) are spread
over the workers, which cut them into windows with the streaming builder's
window loop (`tiling.tile_piece`; the exclusion index built once per worker in
`setup`). Splits are
by seeded blocks, so no record needs another's place in the input. A sequence
longer than a million bases is cut into pieces (each with the bases its last
windows reach into), so a chromosome is tiled by many workers at once.
"""

from __future__ import annotations

import os

import apache_beam as beam

from gslm_keras.data.beam import common
from gslm_keras.data.builder.corpus import (CorpusConfig, check_sequence, corpus_build,
                                          corpus_manifest, exclusion_index, no_windows,
                                          sequences)
from gslm_keras.data.builder.tally import CorpusTally
from gslm_keras.data.builder.tiling import TileCounts, pieces, tile_piece
from gslm_keras.data.dataset_info import MANIFEST, DatasetInfo
from gslm_keras.errors import GslmError
from gslm_keras.io.files import write_json_atomic
from gslm_keras.io.genome import Genome


# Window starts per piece of a long sequence: a chromosome is tiled by many
# workers at once, and no element carries more than about this many bases.
PIECE_BASES = 1_000_000


def _uses_reference(config: CorpusConfig) -> bool:
  return bool(config.reference) and any(spec.resolved_format() == "bed"
                                        for spec, _ in config.specs())


class ReadSequences(beam.DoFn):
  """Reads one input file in order: ((source, n, piece), record id, the piece's
  text, (first start, end of starts, sequence length), contig, start), a long
  sequence cut into pieces of about `piece_bases` bases of window starts
  (`tiling.pieces`); its first bad sequence is emitted as an error (tagged
  `errors`), after which it stops, like the streaming builder."""

  def __init__(self, config: CorpusConfig, piece_bases: int):
    self.config = config
    self.piece_bases = piece_bases

  def setup(self):
    self.genome = None
    if _uses_reference(self.config):
      self.genome = Genome(self.config.reference, keep_case=True)

  def teardown(self):
    if self.genome is not None:
      self.genome.close()

  def process(self, source: int):
    spec, _ = self.config.specs()[source]
    n = 0
    try:
      for n, (record, record_id) in enumerate(
          sequences(self.config, spec, lambda: self.genome), start=1):
        try:
          sequence = check_sequence(self.config, record, spec.path)
        except GslmError as error:
          yield common.error_value((source, n), error)
          return
        total = len(sequence)
        for k, (first, stop, text_end) in enumerate(
            pieces(total, self.config.rule, self.piece_bases)):
          yield ((source, n, k), record_id, sequence[first:text_end],
                 (first, stop, total), record.chrom, record.start or 0)
    except GslmError as error:  # The reader's own, before sequence n + 1 was read.
      yield common.error_value((source, n + 1), error)


class TileRecords(beam.DoFn):
  """Cuts one piece of a sequence into windows: (split, (source, n, piece, k),
  `schema.Record`); the bundle's counts are emitted tagged `tally`."""

  def __init__(self, config: CorpusConfig):
    self.config = config

  def setup(self):
    self.index = exclusion_index(self.config)

  def start_bundle(self):
    self.tally = CorpusTally()

  def process(self, element):
    order, record_id, text, (first, stop, total), chrom, start = element
    spec, fixed = self.config.specs()[order[0]]
    name = spec.source_name()
    counts = self.tally.counts.setdefault(name, TileCounts())
    for k, (split, window) in enumerate(tile_piece(
        text, first, stop, total, record_id, name, self.config.rule, self.index,
        counts, fixed, chrom, start)):
      self.tally.written(split, window.sequence)
      yield split, (*order, k), window

  def finish_bundle(self):
    yield common.bundle_output(common.TALLY, self.tally)


def _pipeline(pipeline, config: CorpusConfig, results_dir: str, piece_bases: int):
  read = (pipeline
          | "Inputs" >> beam.Create(list(range(len(config.specs()))))
          | "Read" >> beam.ParDo(ReadSequences(config, piece_bases)).with_outputs(
              common.ERRORS, main="sequences"))
  tiled = (read.sequences
           | "Spread" >> beam.Reshuffle()
           | "Tile" >> beam.ParDo(TileRecords(config)).with_outputs(
               common.TALLY, main="windows"))
  tally = tiled[common.TALLY] | "Tally" >> beam.CombineGlobally(common.MergeCombineFn())
  results = common.write_shards(tiled.windows, tally, config, results_dir, "none")
  common.save(tally, "tally", os.path.join(results_dir, "tally"))
  common.save(results, "results", os.path.join(results_dir, "results"), as_list=True)
  common.save(read[common.ERRORS]
              | "First" >> beam.combiners.Top.Smallest(1, key=lambda e: e[0]),
              "errors", os.path.join(results_dir, "errors"))


def build_corpus_on_beam(config: CorpusConfig, options_text: str | None,
                         piece_bases: int = PIECE_BASES) -> DatasetInfo:
  """`build_corpus(config)` on Beam, with `options_text` (Beam's own flags); a
  sequence longer than `piece_bases` is cut into pieces tiled in parallel.

  Raises:
    ConfigError, InputError, OutputBusyError: as `build_corpus`.
    GslmError: the pipeline failed for another reason.
  """
  pipeline = common.new_pipeline(options_text)
  with corpus_build(config) as (workdir, index):
    results_dir = common.results_folder(workdir)
    _pipeline(pipeline, config, results_dir, piece_bases)
    common.run(pipeline)
    common.raise_first(common.load(os.path.join(results_dir, "errors")))
    tally = common.load(os.path.join(results_dir, "tally")) or CorpusTally()
    if tally.num_records["train"] == 0:
      raise no_windows(config, tally)
    results = common.renumbered(common.load(os.path.join(results_dir, "results")))
    described = corpus_manifest(config, tally, index, _uses_reference(config), results,
                                workdir, engine="beam")
    common.remove_tree(results_dir)
    write_json_atomic(os.path.join(workdir, MANIFEST), described)
  return DatasetInfo.load(config.output_dir, verify="none")
