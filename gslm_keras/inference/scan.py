"""A genome, or its BED regions, tiled with a model's window into tracks and
called elements (`python -m gslm_keras.scan`).

The FASTA is streamed front to back (`io.fasta_stream`): a contig is never held
whole, so a 100 Mb chromosome scans in the memory of a few chunks and batches.
Windows of the model's length start every `stride` bases inside each region
(the whole contigs without regions; cut by `inference.tiling`); a window with
more than `max_n_fraction` non-ACGT letters is not scored, and a contig or region shorter than the window
has none: both counted, both gaps in the track. Windows are scored in batches
on the model's strand policy and appended to a work file beside the first
output; a state file written every few seconds says how far the work file is
good, so a killed scan run again with the same settings resumes there. When
every window is scored, the bigWig and BED are written from the work file
(`inference.tracks`), each put in place whole, and the work folder removed.
"""

from __future__ import annotations

import collections
import concurrent.futures
import contextlib
import dataclasses
import itertools
import os
import shutil
import time
from typing import Any, Iterator

import numpy as np
import tensorflow as tf
from absl import logging

from gslm_keras.dna import ops
from gslm_keras.errors import ConfigError, InputError
from gslm_keras.inference import tracks
from gslm_keras.inference.tiling import (contig_windows, expected_windows, regions_of,
                                         window_starts)
from gslm_keras.io.fasta_stream import GenomeStream
from gslm_keras.io.files import atomic_path, read_json, refuse_link, write_json_atomic
from gslm_keras.io.outputs import check_file_output, exclusive_output, hidden_name
from gslm_keras.io.progress import Progress

_ACGT = np.zeros(256, np.int32)
_ACGT[list(b"ACGT")] = 1
STATE_SECONDS = 5.0
COUNTS = ("windows", "scored", "skipped_n")


@dataclasses.dataclass(frozen=True)
class Plan:
  """What a scan writes, settled before any window is read.

  Attributes:
    columns: the model's output columns.
    tracks: (column index, bigWig path) of each track.
    element: the column index elements are called on, or None (no BED).
    geometry: the window's length and stride.
    both_strands: average each window with its reverse complement.
    strand_reason: why, for the summary.
    max_n_fraction: the largest share of non-ACGT letters a scored window has.
  """

  columns: list[str]
  tracks: list[tuple[int, str]]
  element: int | None
  geometry: tracks.Geometry
  both_strands: bool
  strand_reason: str
  max_n_fraction: float


def plan(config, model) -> Plan:
  """The scan of `config` (a `ScanConfig`) with a `LoadedModel`.

  Raises:
    ConfigError: a model with provided features, an element column it lacks or
      not named where it has several outputs.
  """
  if model.info.n_provided:
    raise ConfigError(
        f"{model.path} also takes provided features "
        f"({', '.join(model.info.provided_feature_names)}); a scan computes features "
        "from the sequence alone: scan with a model trained without them")
  columns = list(model.columns)
  binary = model.info.task == "binary"
  chosen = (_element_column(config, columns, binary)
            if config.beds or config.element_column else None)
  element = chosen if config.beds else None
  # A binary model's one track: its positive class, or --element_column's class.
  shown = [chosen if config.element_column else 1] if binary else list(
      range(len(columns)))
  track_paths = []
  for path in config.tracks:
    if len(shown) == 1:
      track_paths.append((shown[0], path))
      continue
    stem, dot, ext = path.rpartition(".")
    track_paths += [(k, f"{stem}.{columns[k]}.{ext}") for k in shown]
  length = model.length
  stride = config.stride or max(length // 2, 1)
  symmetry = model.strand_symmetry()
  if config.strands == "auto":
    both = symmetry == "reverse_complement"
    reason = {"reverse_complement": "trained with reverse-complement augmentation: "
                                    "both strands averaged",
              "rc_average": "the model averages both strands itself"}.get(
                  symmetry, "a strand-oriented model: the forward strand as given")
  else:
    both = config.strands == "both"
    reason = f"--strands={config.strands}"
  return Plan(columns, track_paths, element, tracks.Geometry(length, stride), both,
              reason, config.max_n_fraction)


def _element_column(config, columns: list[str], binary: bool) -> int:
  if config.element_column is None:
    if binary:
      return 1
    raise ConfigError(f"the model has {len(columns)} outputs ({', '.join(columns)}); "
                      "name the one elements are called on with --element_column")
  for k, name in enumerate(columns):
    if config.element_column in (name, name.split("_", 1)[1]):
      return k
  raise ConfigError(f"--element_column={config.element_column}: the model's outputs "
                    f"are {', '.join(columns)}")


class Work:
  """The scan's work folder beside its first output: `scores.bin` (records of
  contig, start and scores, appended) and `state.json` (how many records are
  good, the counts and where to go on, with the settings they belong to)."""

  def __init__(self, first_output: str, settings: dict, width: int):
    self.dir = hidden_name(first_output, "scan-work")
    self.records_path = os.path.join(self.dir, "scores.bin")
    self.state_path = os.path.join(self.dir, "state.json")
    self.dtype = np.dtype([("contig", "<i4"), ("start", "<i8"),
                           ("scores", "<f4", (width,))])
    self.settings = settings
    self.state = {"settings": settings, "records": 0, "next": [0, 0],
                  "counts": dict.fromkeys(COUNTS, 0)}
    self.resumed = False
    self._handle = None
    self._saved = float("-inf")  # The first batch saves a state at once.

  def open(self) -> None:
    """Resumes the work of an identical scan, or starts afresh."""
    # A link planted at the work folder's name is refused, never written through.
    refuse_link(self.dir, "a scan's work folder")
    if os.path.exists(self.state_path):
      state = read_json(self.state_path)
      if state.get("settings") == self.settings:
        self.state, self.resumed = state, True
      else:
        logging.warning("Discarding the unfinished scan in %s: it had other settings",
                        self.dir)
        shutil.rmtree(self.dir)
    elif os.path.isdir(self.dir):
      shutil.rmtree(self.dir)
    os.makedirs(self.dir, exist_ok=True)
    self._handle = open(self.records_path, "ab")
    self._handle.truncate(self.state["records"] * self.dtype.itemsize)
    if self.resumed:
      logging.info("Resuming the scan from %s: %d windows already scored", self.dir,
                   self.state["records"])

  def append(self, contig: int, starts: np.ndarray, scores: np.ndarray) -> None:
    rows = np.empty(len(starts), self.dtype)
    rows["contig"], rows["start"], rows["scores"] = contig, starts, scores
    self._handle.write(rows.tobytes())
    self.state["records"] += len(rows)

  def advance(self, contig: int, position: int, counts: dict, force: bool = False
              ) -> None:
    """Where to go on (the next window start at or after `position` in `contig`);
    saved with the counts every few seconds, after the records it covers."""
    self.state["next"], self.state["counts"] = [contig, position], dict(counts)
    if force or time.monotonic() - self._saved >= STATE_SECONDS:
      self._handle.flush()
      os.fsync(self._handle.fileno())
      write_json_atomic(self.state_path, self.state)
      self._saved = time.monotonic()

  def records(self) -> np.ndarray:
    self._handle.close()
    if not self.state["records"]:
      return np.zeros(0, self.dtype)
    return np.memmap(self.records_path, self.dtype, "r", shape=(self.state["records"],))

  def remove(self) -> None:
    if self._handle is not None:
      self._handle.close()
    shutil.rmtree(self.dir, ignore_errors=True)


def _tiles(genome: GenomeStream, regions: dict, geometry: tracks.Geometry, state: dict,
           batch_size: int) -> Iterator[tuple[int, Any, Any]]:
  """(contig, starts, windows) of every window still to score, in order, at most
  `batch_size` at a time, and (contig, None, None) after each contig."""
  resume_contig, resume_at = state["next"]
  index = {name: i for i, name in enumerate(genome.lengths)}
  for name, chunks in itertools.groupby(genome.chunks(), key=lambda c: c[0]):
    contig = index[name]
    if contig not in regions or contig < resume_contig:
      continue
    first = resume_at if contig == resume_contig else 0
    starts = window_starts(regions[contig], geometry.length, geometry.stride, first)
    yield from ((contig, begins, windows) for begins, windows in contig_windows(
        ((o, d) for _, o, d in chunks), starts, geometry.length, batch_size))
    yield contig, None, None


def score_windows(model, plan_: Plan, genome: GenomeStream, regions: dict, work: Work,
                  batch_size: int, progress_seconds: float) -> dict:
  """Scores every window not in the work file yet; returns the counts.

  One thread runs the model while this one cuts the next batch and stores the
  last: the forward passes never wait for Python.
  """
  forward = tf.function(lambda w: model.windows_to_columns(w, None),
                        reduce_retracing=True)

  def predict(windows: np.ndarray) -> np.ndarray:
    batch = tf.constant(windows)
    out = forward(batch)
    if plan_.both_strands:
      out = (out + forward(ops.reverse_complement_bytes(batch))) / 2.0
    return out.numpy()

  counts = dict(work.state["counts"])
  meter = Progress("windows scored", progress_seconds,
                   total=expected_windows(regions, plan_.geometry))
  least = (1.0 - plan_.max_n_fraction) * plan_.geometry.length

  def commit(contig, begins, keep, future) -> None:
    if begins is None:
      work.advance(contig + 1, 0, counts, force=True)
      return
    counts["windows"] += len(begins)
    counts["skipped_n"] += int((~keep).sum())
    if future is not None:
      work.append(contig, begins[keep], future.result())
      counts["scored"] += int(keep.sum())
    work.advance(contig, int(begins[-1]) + 1, counts)
    meter.update(counts["windows"])

  pending: collections.deque = collections.deque()
  with concurrent.futures.ThreadPoolExecutor(1) as pool:
    for contig, begins, windows in _tiles(genome, regions, plan_.geometry, work.state,
                                          batch_size):
      keep = None if begins is None else _ACGT[windows].sum(axis=1) >= least
      future = (pool.submit(predict, windows[keep])
                if keep is not None and keep.any() else None)
      pending.append((contig, begins, keep, future))
      while len(pending) > 2:
        commit(*pending.popleft())
    while pending:
      commit(*pending.popleft())
  return counts


def summary_of(config, plan_: Plan, counts: dict, skipped: dict, threshold: dict | None,
               written: dict, seconds: float) -> dict[str, Any]:
  return {"genome": os.path.realpath(config.genome), "regions": config.regions,
          "model": config.model, "window": plan_.geometry.length,
          "stride": plan_.geometry.stride, "both_strands": plan_.both_strands,
          "strands": plan_.strand_reason, "max_n_fraction": config.max_n_fraction,
          **counts, **skipped, "threshold": threshold, "outputs": written,
          "seconds": round(seconds, 1), "command": config.command}


def _settings(config, model, plan_: Plan) -> dict:
  """What a resumed scan must share with the one it goes on from."""
  def stamp(path):
    return [os.path.realpath(path), os.path.getsize(path), os.path.getmtime(path)] if (
        path and os.path.isfile(path)) else os.path.realpath(path) if path else None

  model_file = os.path.join(model.path, "model.keras")
  return {"model": stamp(model_file if os.path.isfile(model_file) else model.path),
          "genome": stamp(config.genome), "regions": stamp(config.regions),
          "length": plan_.geometry.length, "stride": plan_.geometry.stride,
          "both_strands": plan_.both_strands, "max_n_fraction": plan_.max_n_fraction,
          "columns": plan_.columns}


def scan_genome(config, choose_threshold) -> dict[str, Any]:
  """Tiles `config.genome` (a `ScanConfig`) and writes its tracks and elements.

  Args:
    config: the scan.
    choose_threshold: (model, column) -> {"threshold", ...}: the element threshold
      when `config.threshold` is not given (the dev split's best MCC, from
      `evaluation.threshold`).

  Returns:
    The summary, also written to `<first output>.summary.json`.
  """
  from gslm_keras.inference.model import LoadedModel

  for path in config.output:
    check_file_output(path, config.overwrite)
  model = LoadedModel(config.model)
  plan_ = plan(config, model)
  outputs = [path for _, path in plan_.tracks] + list(config.beds)
  for path in outputs:
    check_file_output(path, config.overwrite)
  start = time.monotonic()
  summary_path = config.output[0] + ".summary.json"
  with contextlib.ExitStack() as locks:
    for path in outputs:
      locks.enter_context(exclusive_output(path, "scan output", also=(
          (summary_path,) if path == outputs[0] else ())))
    genome = GenomeStream(config.genome)
    regions, skipped = regions_of(config, genome, plan_.geometry.length)
    threshold = None
    if plan_.element is not None:
      threshold = ({"threshold": config.threshold, "source": "--threshold"}
                   if config.threshold is not None else
                   {**choose_threshold(model, plan_.element), "source": "dev split"})
    work = Work(config.output[0], _settings(config, model, plan_), len(plan_.columns))
    work.open()
    counts = score_windows(model, plan_, genome, regions, work, config.batch_size,
                           config.progress_seconds)
    if not counts["scored"]:
      raise InputError(f"none of its {counts['windows']} windows could be scored: each "
                       f"has more than {config.max_n_fraction:.0%} N (--max_n_fraction)",
                       path=config.genome)
    written = _write_outputs(config, plan_, genome, work.records(), threshold)
    skipped["region_bases"] = sum(end - start for spans in regions.values()
                                  for start, end in spans)
    skipped["bases_without_score"] = skipped["region_bases"] - counts["scored"] * min(
        plan_.geometry.stride, plan_.geometry.length)
    summary = summary_of(config, plan_, counts, skipped, threshold, written,
                         time.monotonic() - start)
    write_json_atomic(summary_path, summary)
    work.remove()
  logging.info("%d windows scored (%d skipped for N) in %.1f s -> %s", counts["scored"],
               counts["skipped_n"], summary["seconds"], ", ".join(outputs))
  return summary


def _write_outputs(config, plan_: Plan, genome: GenomeStream, records: np.ndarray,
                   threshold: dict | None) -> dict:
  """Every bigWig and the BED, each into a temporary file, all put in place
  together once all are written; returns what each holds."""
  written = {}
  names = list(genome.lengths)
  with contextlib.ExitStack() as stack:
    for column, path in plan_.tracks:
      tmp = stack.enter_context(atomic_path(path, suffix=".bw"))
      written[path] = {"bases": tracks.write_bigwig(tmp, genome.lengths, records, column,
                                                    plan_.geometry)}
    for path in config.beds:
      tmp = stack.enter_context(atomic_path(path, suffix=".bed"))
      name = plan_.columns[plan_.element]
      cut = threshold["threshold"]
      written[path] = tracks.write_elements(
          tmp, os.path.basename(path).rsplit(".", 1)[0], names, records, plan_.element,
          name, cut, plan_.geometry, probabilities=name.startswith("prob_"),
          description=f"gslm_keras scan: windows with {name} >= {cut:.4g} "
                      f"({threshold['source']}), merged")
  return written
