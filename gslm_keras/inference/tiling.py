"""A genome's windows: where they start in each region, and their bases cut from
a stream of chunks holding only what is still needed (`inference.scan`)."""

from __future__ import annotations

from typing import Iterator

import numpy as np

from gslm_keras.errors import InputError
from gslm_keras.io.fasta_stream import GenomeStream
from gslm_keras.io.regions import read_regions


def window_starts(regions: list[tuple[int, int]], length: int, stride: int,
                  first: int = 0, block: int = 1 << 15) -> Iterator[np.ndarray]:
  """Sorted int64 starts of the windows of one contig's regions, `block` at a
  time, from position `first` on (a resumed scan)."""
  for start, end in regions:
    last = end - length
    if first > start:
      start += -(-(first - start) // stride) * stride
    for lo in range(start, last + 1, block * stride):
      yield np.arange(lo, min(last, lo + (block - 1) * stride) + 1, stride, np.int64)


def contig_windows(chunks, starts: Iterator[np.ndarray], length: int, most: int
                   ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
  """(starts, uint8 windows [n, length]) of one contig, at most `most` at a time,
  from its (offset, bases) chunks; holds only the bases still needed."""
  buffer, buffer_start = b"", 0
  pending = np.zeros(0, np.int64)
  for offset, data in chunks:
    if not buffer:
      buffer_start = offset
    buffer += data
    end = buffer_start + len(buffer)
    view = None
    while True:
      if not len(pending):
        pending = next(starts, None)
        if pending is None:
          return
      ready = int(np.searchsorted(pending + length, end, side="right"))
      if not ready:
        break
      if view is None:
        view = np.lib.stride_tricks.sliding_window_view(
            np.frombuffer(buffer, np.uint8), length)
      take = pending[:min(ready, most)]
      yield take, view[take - buffer_start]
      pending = pending[len(take):]
    cut = min(int(pending[0]), end) - buffer_start
    buffer, buffer_start = buffer[cut:], buffer_start + cut


def regions_of(config, genome: GenomeStream, length: int) -> tuple[dict, dict]:
  """({contig index: [(start, end)]}, counts of contigs skipped) of the scan.

  Raises:
    InputError: a BED region shorter than the window; no contig that long.
  """
  names = list(genome.lengths)
  index = {name: i for i, name in enumerate(names)}
  purpose = f"the model's {length} bp window"
  if config.regions:
    found = read_regions(config.regions, genome, min_length=length, purpose=purpose)
    skipped = {}
  else:
    found = [(n, 0, size) for n, size in genome.lengths.items() if size >= length]
    skipped = {"contigs_shorter_than_window": len(names) - len(found)}
    if not found:
      raise InputError(f"no contig is as long as {purpose} (the longest has "
                       f"{max(genome.lengths.values())} bp): nothing to scan",
                       path=genome.path)
  by_contig: dict[int, list[tuple[int, int]]] = {}
  for name, start, end in found:
    by_contig.setdefault(index[name], []).append((start, end))
  return by_contig, skipped


def expected_windows(regions: dict, geometry) -> int:
  """How many windows of `geometry` (a `tracks.Geometry`) the regions hold."""
  return sum(max((end - start - geometry.length) // geometry.stride + 1, 0)
             for spans in regions.values() for start, end in spans)
