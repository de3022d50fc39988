"""A labelled dataset built on Beam: the streaming builder's records, splits,
counts and statistics, computed in parallel.

    specs -> ReadSource -> AssignSplit -> Reshuffle -> CheckRecord -> shards
                 |  per source: records per class, first-stage train counts
                 +--------------> side input of AssignSplit

Each input file is read in order by one worker (readers, the genome and bigWig
tracks opened once per worker in `setup`), which numbers its records per class.
The stratified split of the streaming builder depends on a record's rank within
its class over all inputs in order: the rank is the record's number within its
file plus the counts of the files before it, so every record gets the split the
streaming builder gives it without the records being gathered in one place.
"""

from __future__ import annotations

import os

import apache_beam as beam

from gslm_keras.data.beam import common
from gslm_keras.data.builder import manifest
from gslm_keras.data.builder.builder import (SequenceCheck, check_written, encoder_json,
                                           labelled_build, make_record)
from gslm_keras.data.builder.config import BuildConfig
from gslm_keras.data.builder.labels import LabelPlan
from gslm_keras.data.builder.sources import Sources
from gslm_keras.data.builder.tally import BuildTally
from gslm_keras.data.dataset_info import MANIFEST, DatasetInfo
from gslm_keras.errors import GslmError
from gslm_keras.io.files import write_json_atomic

COUNTS = "counts"


def _open_sources(config: BuildConfig) -> Sources:
  sources = Sources(config)
  if config.reference and any(spec.resolved_format() == "bed"
                              for spec, _ in sources.specs):
    sources.genome()
  return sources


class ReadSource(beam.DoFn):
  """Reads one input file in order: (order, record, label, stratum, first-stage
  split, rank in class, rank among first-stage train records of the class).

  Also emits, tagged `counts`, the file's per-class totals, and its first bad
  record as an error (tagged `errors`), after which it stops, like the streaming
  builder.
  """

  def __init__(self, config: BuildConfig, labels: LabelPlan):
    self.config = config
    self.labels = labels

  def setup(self):
    self.sources = _open_sources(self.config)
    self.assigner = self.config.split_assigner()

  def teardown(self):
    self.sources.close()

  def process(self, source: int):
    spec, fixed = self.sources.specs[source]
    ranks: dict[str, tuple[int, int]] = {}
    partial = BuildTally.new(self.labels.classes, ())
    n = 0
    try:
      for n, (record, from_row) in enumerate(
          self.sources.records(source, partial.reader_skipped), start=1):
        try:
          label = self.labels.encode(record.label, spec.path, record.locator)
          stratum = self.labels.stratum(label)
          first = self.assigner.first_stage(fixed, from_row, record.chrom, spec.path,
                                            record.locator)
        except GslmError as error:
          yield common.error_value((source, n), error)
          break
        rank, train_rank = ranks.get(stratum, (0, 0))
        ranks[stratum] = (rank + 1, train_rank + (first == "train"))
        yield (source, n), record, label, stratum, first, rank, train_rank
    except GslmError as error:  # The reader's own, before record n + 1 was read.
      yield common.error_value((source, n + 1), error)
    yield beam.pvalue.TaggedOutput(COUNTS, (source, ranks))
    yield beam.pvalue.TaggedOutput(common.TALLY, partial)


class AssignSplit(beam.DoFn):
  """The record's split, from its ranks and the counts of the files before it."""

  def __init__(self, config: BuildConfig):
    self.config = config

  def setup(self):
    self.assigner = self.config.split_assigner()
    self.offsets = None

  def _offsets(self, counts: dict) -> dict:
    offsets, running = {}, {}
    for source in sorted(counts):
      offsets[source] = dict(running)
      for stratum, (total, train) in counts[source].items():
        before = running.get(stratum, (0, 0))
        running[stratum] = (before[0] + total, before[1] + train)
    return offsets

  def process(self, element, counts):
    if self.offsets is None:
      self.offsets = self._offsets(counts)
    order, record, label, stratum, first, rank, train_rank = element
    before = self.offsets[order[0]].get(stratum, (0, 0))
    split = self.assigner.at_rank(stratum, first, before[0] + rank,
                                  before[1] + train_rank)
    yield order, record, label, split


class CheckRecord(beam.DoFn):
  """Checks letters and length and reads the provided features: (split, order,
  `schema.Record`); the bundle's counts are emitted tagged `tally`."""

  def __init__(self, config: BuildConfig, labels: LabelPlan, rule, paths, id_prefix):
    self.config, self.labels, self.rule = config, labels, rule
    self.paths, self.id_prefix = paths, id_prefix

  def setup(self):
    self.provided = self.config.provided_plan().open()

  def teardown(self):
    self.provided.close()

  def start_bundle(self):
    self.tally = BuildTally.new(self.labels.classes, self.provided.base_names)
    self.check = SequenceCheck(self.config, self.tally, self.rule)
    self.provided.missing_counts = dict.fromkeys(self.provided.base_names, 0)

  def process(self, element):
    order, record, label, split = element
    source, n = order
    path = self.paths[source]
    try:
      sequence = self.check(record, path, split)
      if sequence is None:
        return
      record_id = record.id or f"{self.id_prefix[source]}:{n}"
      stored = make_record(record, sequence, label, self.provided, record_id, path)
    except GslmError as error:
      yield common.error_value(order, error)
      return
    self.tally.written(split, record_id, sequence, self.labels.class_names_of(label))
    yield split, order, stored

  def finish_bundle(self):
    self.tally.missing_counts = dict(self.provided.missing_counts)
    yield common.bundle_output(common.TALLY, self.tally)


def _pipeline(pipeline, config: BuildConfig, labels: LabelPlan, rule, sources: Sources,
              results_dir: str):
  paths = [spec.path for spec, _ in sources.specs]
  read = (pipeline
          | "Inputs" >> beam.Create(list(range(len(paths))))
          | "Read" >> beam.ParDo(ReadSource(config, labels)).with_outputs(
              COUNTS, common.ERRORS, common.TALLY, main="records"))
  checked = (read.records
             | "Assign" >> beam.ParDo(AssignSplit(config),
                                      counts=beam.pvalue.AsDict(read[COUNTS]))
             | "Spread" >> beam.Reshuffle()
             | "Check" >> beam.ParDo(CheckRecord(
                 config, labels, rule, paths, sources.id_prefix)).with_outputs(
                     common.ERRORS, common.TALLY, main="records"))
  tally = ((read[common.TALLY], checked[common.TALLY]) | "Tallies" >> beam.Flatten()
           | "Tally" >> beam.CombineGlobally(common.MergeCombineFn()))
  n_provided = len(config.provided_plan().names)
  results = common.write_shards(checked.records, tally, config, results_dir,
                                labels.label_kind, encoder_json(config, rule), n_provided)
  for name in ("computed", "provided"):
    moments = (results
               | f"{name}Moments" >> beam.FlatMap(
                   lambda r, n: [getattr(r, n)] if r.split == "train" else [], n=name)
               | f"{name}Combine" >> beam.CombineGlobally(common.MergeCombineFn()))
    common.save(moments, name, os.path.join(results_dir, name))
  common.save(tally, "tally", os.path.join(results_dir, "tally"))
  common.save(results, "results", os.path.join(results_dir, "results"), as_list=True)
  errors = (read[common.ERRORS], checked[common.ERRORS]) | "Errors" >> beam.Flatten()
  common.save(errors | "First" >> beam.combiners.Top.Smallest(1, key=lambda e: e[0]),
              "errors", os.path.join(results_dir, "errors"))


def _length_rule(config: BuildConfig, sources: Sources):
  """The length rule: --length, or the first record's length (the streaming
  builder's rule). A bad first record is left for the pipeline to report."""
  if config.length:
    return config.length_rule(config.length)
  try:
    for source in range(len(sources.specs)):
      for record, _ in sources.records(source, {}):
        return config.length_rule(max(1, len(record.sequence or "")))
  except GslmError:
    pass
  return config.length_rule(1)


def build_labelled(config: BuildConfig, options_text: str | None) -> DatasetInfo:
  """`build_dataset(config)` on Beam, with `options_text` (Beam's own flags).

  Raises:
    ConfigError, InputError, OutputBusyError: as `build_dataset`.
    GslmError: the pipeline failed for another reason.
  """
  pipeline = common.new_pipeline(options_text)
  with labelled_build(config) as (workdir, sources, labels, provided):
    rule = _length_rule(config, sources)
    results_dir = common.results_folder(workdir)
    _pipeline(pipeline, config, labels, rule, sources, results_dir)
    common.run(pipeline)
    common.raise_first(common.load(os.path.join(results_dir, "errors")))
    tally = common.load(os.path.join(results_dir, "tally"))
    check_written(tally, sources)
    moments = tuple(common.load(os.path.join(results_dir, name))
                    for name in ("computed", "provided"))
    results = common.renumbered(common.load(os.path.join(results_dir, "results")))
    described = manifest.labelled(config, sources.specs, labels, provided, rule, tally,
                                  results, workdir, engine="beam", moments=moments)
    common.remove_tree(results_dir)
    write_json_atomic(os.path.join(workdir, MANIFEST), described)
  return DatasetInfo.load(config.output_dir, verify="none")
