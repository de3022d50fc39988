"""Progress lines for long steps: how far, how fast, and how long is left.

The fraction done comes from a known total (items) or from the bytes read of
the input files (`gslm_keras.io.text` counts them, compressed bytes for gzip),
so a stream of unknown length still gets an estimate.
"""

from __future__ import annotations

import os
import time
from typing import Sequence

from absl import logging

from gslm_keras.io import text


def _clock(seconds: float) -> str:
  seconds = int(round(seconds))
  if seconds < 60:
    return f"{seconds} s"
  if seconds < 3600:
    return f"{seconds // 60} min {seconds % 60:02d} s"
  return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"


class Progress:
  """Logs `<done> <unit> (<rate>/s), <percent>, about <time> left` at most every
  `every` seconds.

  Args:
    unit: what is counted ("records read", "variants scored").
    every: seconds between lines.
    total: the number of items when known.
    paths: input files whose bytes read give the fraction done otherwise.
  """

  def __init__(self, unit: str, every: float = 10.0, total: int | None = None,
               paths: Sequence[str] = ()):
    self.unit = unit
    self.every = every
    self.total = total
    self.paths = [os.path.abspath(p) for p in paths if p and os.path.isfile(p)]
    self.size = sum(os.path.getsize(p) for p in self.paths)
    self.start = self.last = time.monotonic()

  def fraction(self, done: int) -> float | None:
    if self.total:
      return min(done / self.total, 1.0)
    if self.size:
      return min(sum(text.bytes_read(p) for p in self.paths) / self.size, 1.0)
    return None

  def line(self, done: int, extra: str = "") -> str:
    elapsed = max(time.monotonic() - self.start, 1e-9)
    parts = [f"{done} {self.unit} ({done / elapsed:,.0f}/s)"]
    fraction = self.fraction(done)
    if fraction:
      parts.append(f"{fraction:.0%}")
      parts.append(f"about {_clock(elapsed * (1 - fraction) / fraction)} left")
    return ", ".join(parts) + (f": {extra}" if extra else "")

  def update(self, done: int, extra: str = "", force: bool = False) -> None:
    """Logs a line when `every` seconds have passed since the last (or `force`)."""
    now = time.monotonic()
    if force or now - self.last >= self.every:
      self.last = now
      logging.info("%s", self.line(done, extra))
