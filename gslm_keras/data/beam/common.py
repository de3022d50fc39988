"""Pieces both Beam builds share: errors as data, per-bundle tallies, shard
keying and writing, combining statistics, running the pipeline.

Errors are data: a DoFn that meets bad input emits (order key, error) instead of
raising, the smallest key (the first bad record in input order, the one the
streaming builder stops at) is saved, and the driver raises it after the
pipeline, before anything is made final. Tallies are counted per bundle and
emitted in `finish_bundle`, so a retried bundle's counts are dropped with its
records.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import math
import os
import pickle
import shlex
import subprocess
from typing import Any, Iterable

import apache_beam as beam
from apache_beam.options.pipeline_options import PipelineOptions, StandardOptions
from apache_beam.transforms.window import GlobalWindow
from apache_beam.utils.windowed_value import WindowedValue

from gslm_keras.data.builder import dedup
from gslm_keras.data.builder.shards import ShardJob, ShardResult, write_shard
from gslm_keras.data.builder.stats import merged
from gslm_keras.errors import ConfigError, GslmError, InputError
from gslm_keras.io.files import atomic_path, check_private, private_directory
from gslm_keras.startup import dying_with_parent

ERRORS = "errors"
TALLY = "tally"


def error_value(order: tuple, error: GslmError) -> beam.pvalue.TaggedOutput:
  """The tagged output carrying `error` of the record at `order`."""
  if isinstance(error, InputError):
    described = {"reason": error.reason, "path": error.path, "record": error.record}
  else:
    described = {"reason": str(error), "path": None, "record": None}
  described["kind"] = type(error).__name__
  return beam.pvalue.TaggedOutput(ERRORS, (order, described))


def raise_first(errors: list) -> None:
  """Raises the first error in input order, as the streaming builder would."""
  if not errors:
    return
  _, described = min(errors, key=lambda item: item[0])
  if described["kind"] == "InputError":
    raise InputError(described["reason"], path=described["path"],
                     record=described["record"])
  if described["kind"] == "ConfigError":
    raise ConfigError(described["reason"])
  raise GslmError(described["reason"])


def bundle_output(tag: str, value: Any) -> beam.pvalue.TaggedOutput:
  """A value emitted from `finish_bundle` (which must name its window)."""
  return beam.pvalue.TaggedOutput(
      tag, WindowedValue(value, GlobalWindow().max_timestamp(), [GlobalWindow()]))


class MergeCombineFn(beam.CombineFn):
  """Combines values that have `merge` (tallies, `Moments`) into one; None when
  there are none."""

  def create_accumulator(self):
    return None

  def add_input(self, total, value):
    return merged(total, value)

  def merge_accumulators(self, totals):
    result = None
    for total in totals:
      result = self.add_input(result, total)
    return result

  def extract_output(self, total):
    return total


def shard_count(num_records: int, records_per_shard: int) -> int:
  return max(1, math.ceil(num_records / records_per_shard))


def shard_key(split: str, order: tuple, num_records: dict, records_per_shard: int):
  """(split, shard index) of a record: a stable hash of its place in the input
  spread over ceil(records / records_per_shard) shards."""
  count = shard_count(num_records[split], records_per_shard)
  return split, dedup.hash64(":".join(map(str, order))) % count


class WriteShard(beam.DoFn):
  """Writes one shard (its records sorted by their place in the input) into
  `shard_dir` and returns its `ShardResult`.

  The file is written under a temporary name and renamed (`atomic_path`), so a
  retried or duplicated bundle replaces it whole with the same bytes. `shard_dir`
  is inside the pipeline's results folder, which is removed once the finished
  shards are renamed out of it: the temporary file of a worker killed mid-write,
  whose bundle the runner retried elsewhere, goes with it.
  """

  def __init__(self, shard_dir: str, compression: str, label_kind: str,
               stats_encoder: str | None, n_provided: int):
    self.shard_dir = shard_dir
    self.compression = compression
    self.label_kind = label_kind
    self.stats_encoder = stats_encoder
    self.n_provided = n_provided

  def process(self, element):
    (split, index), keyed = element
    records = [record for _, record in sorted(keyed, key=lambda item: item[0])]
    final = os.path.join(self.shard_dir, f"{split}-{index:05d}")
    with atomic_path(final) as temporary:
      result = write_shard(ShardJob(
          split=split, index=index, path=temporary, compression=self.compression,
          records=records, label_kind=self.label_kind,
          stats_encoder=self.stats_encoder if split == "train" else None,
          n_provided=self.n_provided if split == "train" else 0))
    yield dataclasses.replace(result, path=final)


def write_shards(records, tally, config, results_dir: str, label_kind: str,
                 stats_encoder: str | None = None, n_provided: int = 0):
  """Groups (split, order, record) into shards and writes them into
  `results_dir`/shards; the PCollection of `ShardResult`s."""
  per_shard = config.records_per_shard
  return (
      records
      | "ShardKey" >> beam.Map(
          lambda item, t: (shard_key(item[0], item[1], t.num_records, per_shard),
                           (item[1], item[2])), t=beam.pvalue.AsSingleton(tally))
      | "GroupShards" >> beam.GroupByKey()
      | "WriteShards" >> beam.ParDo(WriteShard(
          os.path.join(results_dir, "shards"), config.compression, label_kind,
          stats_encoder, n_provided)))


def renumbered(results: Iterable[ShardResult]) -> list[ShardResult]:
  """Shard results numbered 0..n-1 per split (an index no record hashed to is
  skipped), without their moments (combined separately)."""
  by_split: dict[str, list[ShardResult]] = {}
  for result in sorted(results, key=lambda r: (r.split, r.index)):
    by_split.setdefault(result.split, []).append(result)
  return [dataclasses.replace(result, index=i, computed=None, provided=None)
          for split_results in by_split.values() for i, result in enumerate(split_results)]


def save(pcoll, label: str, path: str, as_list: bool = False):
  """Writes the one element of `pcoll` (or all as a list) to `path` (pickle)."""
  if as_list:
    pcoll = pcoll | f"{label}List" >> beam.combiners.ToList()
  return pcoll | f"{label}Save" >> beam.Map(_dump, path)


def _dump(value, path: str):
  with atomic_path(path) as temporary, open(temporary, "wb") as handle:
    pickle.dump(value, handle)


def remove_tree(path: str) -> None:
  """Removes the pipeline's results directory (it must not stay in the dataset):
  after the manifest is composed, which renames the shards out of it."""
  import shutil

  shutil.rmtree(path)


def results_folder(workdir: str) -> str:
  """The pipeline's results folder inside `workdir`: private (0700), since the
  driver unpickles what is in it."""
  return private_directory(os.path.join(workdir, ".beam"))


def load(path: str):
  """Unpickles a result the pipeline saved, from a folder checked to be private."""
  check_private(os.path.dirname(path))
  with open(path, "rb") as handle:
    return pickle.load(handle)


def check_options(options_text: str | None) -> list[str]:
  """The `--beam_pipeline_options` text as arguments, each known to Beam with a
  valid value.

  Raises:
    ConfigError: one line naming the unknown option or the bad value (Beam itself
      prints its whole usage text for a bad value and only warns of an unknown
      option, which then does nothing).
  """
  from apache_beam.options.pipeline_options import _BeamArgumentParser

  args = shlex.split(options_text or "")
  parser = _BeamArgumentParser(allow_abbrev=False)
  for kind in {str(c): c for c in PipelineOptions.__subclasses__()}.values():
    kind._add_argparse_args(parser)  # noqa: SLF001  How Beam builds its parser.
  said = io.StringIO()
  try:
    with contextlib.redirect_stderr(said):
      _, unknown = parser.parse_known_args(args)
  except SystemExit:
    lines = [line for line in said.getvalue().splitlines() if "error:" in line]
    reason = lines[-1].split("error:", 1)[1].strip() if lines else "cannot be read"
    raise ConfigError(f"--beam_pipeline_options={options_text!r}: {reason}") from None
  unknown = [arg for arg in unknown if arg.startswith("-")]
  if unknown:
    raise ConfigError(
        f"--beam_pipeline_options={options_text!r}: {', '.join(unknown)} is not a Beam "
        "pipeline option (see Beam's documentation of pipeline options, e.g. "
        "--runner, --direct_running_mode, --direct_num_workers)")
  return args


def new_pipeline(options_text: str | None) -> beam.Pipeline:
  """A pipeline with `--beam_pipeline_options` text (Beam's own flags).

  Raises:
    ConfigError: the options name an unknown option, an unknown runner or an
      invalid value.
  """
  args = check_options(options_text)
  try:
    options = PipelineOptions(args)
    return beam.Pipeline(runner=_default_runner(options), options=options)
  except ValueError as error:
    raise ConfigError(f"--beam_pipeline_options={options_text!r}: {error}") from None


def _default_runner(options: PipelineOptions):
  """The FnApiRunner (what the DirectRunner runs batch pipelines on) when no runner
  is named: Beam's DirectRunner first tries the PrismRunner, which downloads a
  binary at run time, and falls back only after that fails."""
  if options.view_as(StandardOptions).runner:
    return None
  from apache_beam.runners.portability.fn_api_runner import FnApiRunner

  return FnApiRunner()


class _WorkersDieWithTheDriver:
  """The `subprocess` module as Beam's local job service sees it: its SDK worker
  processes (`--direct_running_mode=multi_processing`) die with the driver.

  Without it, a driver killed with SIGKILL left its workers (900 MB each) running
  for up to 30 s, until gRPC noticed, and their tracebacks reached the user's
  terminal. Beam starts each worker with `shell=True`: the command runs as
  `startup.dying_with_parent(["/bin/sh", "-c", "exec " + command])`, so that the
  launcher, the shell and the worker are one process, the one Beam waits on, and
  the kill signal asked for reaches the worker.
  """

  def __getattr__(self, name):
    return getattr(subprocess, name)

  @staticmethod
  def Popen(command, **kwargs):  # noqa: N802  The name Beam calls.
    if kwargs.get("shell") and isinstance(command, str):
      command, kwargs["shell"] = ["/bin/sh", "-c", "exec " + command], False
    elif isinstance(command, str):
      command = [command]
    return subprocess.Popen(dying_with_parent(list(command)), **kwargs)


def _tie_workers_to_the_driver() -> None:
  from apache_beam.runners.portability import local_job_service

  local_job_service.subprocess = _WorkersDieWithTheDriver()


def run(pipeline: beam.Pipeline) -> None:
  """Runs the pipeline to the end (local worker processes die with this one).

  Raises:
    GslmError: the pipeline failed (its last line of error text).
  """
  _tie_workers_to_the_driver()
  try:
    pipeline.run().wait_until_finish()
  except (KeyboardInterrupt, GslmError):
    raise
  except Exception as error:  # A runner's own failure: one line, not its traceback.
    lines = [line for line in str(error).strip().splitlines() if line.strip()]
    raise GslmError(f"the Beam pipeline failed: {lines[-1] if lines else error!r}"
                    ) from None
