"""Provided features: table columns and bigWig means, with one rule for missing values.

The same `ProvidedPlan` turns raw values into a record's provided-feature vector
when a dataset is built, when a model predicts a table and when variants are
scored, so the three cannot disagree: the same missing markers, the same
`<name>_missing` indicator columns, and the same bigWig mean over an interval
(clipped to the contig; an interval with no coverage is missing).
"""

from __future__ import annotations

import math
import os
from typing import Any, Mapping, Sequence

from gslm_keras.errors import InputError

MISSING_POLICIES = ("error", "fill_mean")
MISSING_MARKERS = frozenset({"", "NA", "N/A", "NULL", "None", "."})
BUILD_HINT = ("set --missing_values=fill_mean to fill it with the train mean and add "
              "an indicator")
MODEL_HINT = ("the model was trained without missing values (its dataset was built "
              "with --missing_values=error); give a value")


def parse_finite(text: str, what: str, path: str | None, locator: str | None,
                 hint: str = "") -> float:
  """float(text), or an InputError naming `what` for text or NaN/inf."""
  try:
    value = float(text)
  except ValueError:
    raise InputError(f"{what} = {text!r} is not a number", path=path,
                     record=locator) from None
  if not math.isfinite(value):
    raise InputError(f"{what} = {text!r} is NaN or infinite{hint}", path=path,
                     record=locator)
  return value


class ProvidedPlan:
  """Which provided features a dataset has and how each value is obtained.

  Args:
    columns: table columns, in order.
    bigwigs: (name, path) of bigWig tracks, averaged over each record's interval.
    policy: "error" (a missing value stops with the record named) or
      "fill_mean" (NaN, filled with the train mean downstream, plus an indicator
      column `<name>_missing` per feature).
    missing_hint: what to tell the user about a missing value under "error".
  """

  def __init__(self, columns: Sequence[str] = (), bigwigs: Sequence[tuple[str, str]] = (),
               policy: str = "error", missing_hint: str = BUILD_HINT):
    if policy not in MISSING_POLICIES:
      raise ValueError(f"policy={policy!r}: expected one of {', '.join(MISSING_POLICIES)}")
    self.columns = list(columns)
    self.bigwigs = list(bigwigs)
    self.policy = policy
    self.missing_hint = missing_hint
    self.base_names = self.columns + [name for name, _ in self.bigwigs]
    self.names = list(self.base_names)
    if policy == "fill_mean":
      self.names += [f"{name}_missing" for name in self.base_names]
    self.missing_counts = {name: 0 for name in self.base_names}
    self._handles: dict[str, tuple[str, Any, dict[str, int]]] = {}

  @classmethod
  def from_manifest(cls, described: Sequence[Mapping[str, Any]], policy: str,
                    missing_hint: str = MODEL_HINT) -> "ProvidedPlan":
    """The plan a dataset manifest's `provided_features` entries describe."""
    columns = [f["name"] for f in described if f["source"] == "column"]
    bigwigs = [(f["name"], f["path"]) for f in described if f["source"] == "bigwig"]
    return cls(columns, bigwigs, policy, missing_hint)

  def __len__(self) -> int:
    return len(self.names)

  def describe(self) -> list[dict[str, Any]]:
    """The manifest's `provided_features` entries."""
    described = [{"name": c, "source": "column"} for c in self.columns]
    described += [{"name": n, "source": "bigwig", "path": p, "statistic": "mean"}
                  for n, p in self.bigwigs]
    if self.policy == "fill_mean":
      described += [{"name": f"{n}_missing", "source": "missing_indicator", "of": n}
                    for n in self.base_names]
    return described

  # -- bigWig handles -----------------------------------------------------------

  def open(self) -> "ProvidedPlan":
    if self.bigwigs and not self._handles:
      import pyBigWig  # Deferred: only bigWig features need it.

      for name, path in self.bigwigs:
        if not os.path.exists(path):
          raise InputError(f"bigWig file of provided feature {name!r} not found",
                           path=path)
        handle = pyBigWig.open(path)
        if handle is None or not handle.isBigWig():
          raise InputError("not a bigWig file", path=path)
        self._handles[name] = (path, handle, handle.chroms())
    return self

  def close(self) -> None:
    for _, handle, _ in self._handles.values():
      handle.close()
    self._handles = {}

  def __enter__(self):
    return self.open()

  def __exit__(self, *exc):
    self.close()

  # -- values ---------------------------------------------------------------------

  def values(self, texts: Mapping[str, str | None], chrom: str | None,
             start: int | None, end: int | None, path: str | None,
             locator: str | None) -> list[float]:
    """A record's provided-feature vector (indicators included).

    Args:
      texts: raw text of each column feature, by name (None or a missing marker:
        missing).
      chrom, start, end: the record's interval (0-based, half-open), for bigWig
        features.
      path, locator: where the record is, for errors.
    """
    base = [self.column_value(name, texts.get(name), path, locator)
            for name in self.columns]
    base += [self.bigwig_value(name, chrom, start, end, path, locator)
             for name, _ in self.bigwigs]
    return self.with_indicators(base)

  def with_indicators(self, base: Sequence[float]) -> list[float]:
    base = list(base)
    if self.policy == "fill_mean":
      base += [1.0 if math.isnan(v) else 0.0 for v in base]
    return base

  def column_value(self, name: str, text: str | None, path: str | None,
                   locator: str | None) -> float:
    if text is None or text.strip() in MISSING_MARKERS:
      return self.missing(name, path, locator)
    return parse_finite(text.strip(), f"provided feature {name!r}", path, locator,
                        "; mark a missing value with an empty cell or NA")

  def bigwig_value(self, name: str, chrom: str | None, start: int | None,
                   end: int | None, path: str | None, locator: str | None) -> float:
    """Mean of the track over [start, end) clipped to the contig; missing when no
    base of it is covered."""
    bw_path, handle, chroms = self._handles[name]
    if chrom is None or start is None or end is None:
      raise InputError(f"bigWig feature {name!r} needs coordinates", path=path,
                       record=locator)
    if chrom not in chroms:
      raise InputError(
          f"contig {chrom!r} is not in bigWig {bw_path} (its contigs: "
          f"{', '.join(list(chroms)[:5])}...)", path=path, record=locator)
    begin, stop = max(start, 0), min(end, chroms[chrom])
    mean = None
    if stop > begin:
      mean = handle.stats(chrom, begin, stop, type="mean", exact=True)[0]
    return self.missing(name, path, locator) if mean is None else float(mean)

  def missing(self, name: str, path: str | None, locator: str | None) -> float:
    if self.policy == "error":
      raise InputError(f"provided feature {name!r} is missing ({self.missing_hint})",
                       path=path, record=locator)
    self.missing_counts[name] += 1
    return math.nan
