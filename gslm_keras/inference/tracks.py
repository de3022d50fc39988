"""What a scan hands to genome tools: bigWig tracks and a BED of called elements.

A scan's windows are `length` bases long and start every `stride` bases; each
window's score covers its `bin`: the `stride` bases at its centre (the whole
window when the stride is longer), so the bins of consecutive windows abut and a
track has one value per base wherever windows were scored. Elements are runs of
windows at or above a threshold whose bins abut, merged into one interval.

Both outputs are written from the scan's records (contig index, window start,
scores), a contig at a time, to the path given (the scan's temporary file, put
in place whole).
"""

from __future__ import annotations

import dataclasses
from typing import Iterator, Sequence

import numpy as np

ENTRIES = 1 << 16  # Values handed to pyBigWig per call.


@dataclasses.dataclass(frozen=True)
class Geometry:
  """Where a window's score goes: `offset` bases into the window, `span` long."""

  length: int
  stride: int

  @property
  def offset(self) -> int:
    return (self.length - self.stride) // 2 if self.stride < self.length else 0

  @property
  def span(self) -> int:
    return min(self.stride, self.length)


def by_contig(records: np.ndarray) -> Iterator[tuple[int, np.ndarray]]:
  """(contig index, its records) of records sorted by contig and start."""
  if not len(records):
    return
  contigs = records["contig"]
  edges = np.flatnonzero(np.diff(contigs)) + 1
  for lo, hi in zip(np.r_[0, edges], np.r_[edges, len(records)]):
    yield int(contigs[lo]), records[lo:hi]


def write_bigwig(path: str, lengths: dict[str, int], records: np.ndarray, column: int,
                 geometry: Geometry) -> int:
  """One bigWig of output column `column` (chromosome sizes from the genome);
  returns the bases it covers. Each run of windows a stride apart is one
  fixed-step block."""
  import pyBigWig

  names = list(lengths)
  covered = 0
  track = pyBigWig.open(path, "w")
  try:
    track.addHeader(list(lengths.items()), maxZooms=10)
    for contig, rows in by_contig(records):
      starts = rows["start"]
      breaks = np.flatnonzero(np.diff(starts) != geometry.stride) + 1
      for lo, hi in zip(np.r_[0, breaks], np.r_[breaks, len(rows)]):
        for part in range(lo, hi, ENTRIES):
          end = min(part + ENTRIES, hi)
          track.addEntries(names[contig], int(starts[part]) + geometry.offset,
                           values=rows["scores"][part:end, column].astype(np.float64),
                           span=geometry.span, step=geometry.stride)
      covered += len(rows) * geometry.span
  finally:
    track.close()
  return covered


def elements(rows: np.ndarray, column: int, threshold: float, geometry: Geometry
             ) -> Iterator[tuple[int, int, float, float]]:
  """(start, end, max, mean) of each run of one contig's windows scoring at least
  `threshold` whose bins abut."""
  score = rows["scores"][:, column]
  above = np.flatnonzero(score >= threshold)
  if not len(above):
    return
  starts = rows["start"][above] + geometry.offset
  # A new element wherever a window's bin does not start where the previous one ended.
  breaks = np.flatnonzero(starts[1:] != starts[:-1] + geometry.span) + 1
  for lo, hi in zip(np.r_[0, breaks], np.r_[breaks, len(above)]):
    values = score[above[lo:hi]]
    yield (int(starts[lo]), int(starts[hi - 1]) + geometry.span, float(values.max()),
           float(values.mean()))


def write_elements(path: str, title: str, names: Sequence[str], records: np.ndarray,
                   column: int, column_name: str, threshold: float, geometry: Geometry,
                   probabilities: bool, description: str) -> dict:
  """BED6 of the elements of `column` (name `<column>_<n>`; score: 1000 x the
  highest probability of its windows, 0 for a regression model) after a UCSC
  `track` line; returns {"elements", "bases"}."""
  count = bases = 0
  with open(path, "w", encoding="utf-8") as handle:
    handle.write(f'track name="{title}" description="{description}"\n')
    for contig, rows in by_contig(records):
      for start, end, best, _ in elements(rows, column, threshold, geometry):
        count += 1
        bases += end - start
        score = int(round(1000 * min(max(best, 0.0), 1.0))) if probabilities else 0
        handle.write(f"{names[contig]}\t{start}\t{end}\t{column_name}_{count}\t"
                     f"{score}\t.\n")
  return {"elements": count, "bases": bases}
