"""How far a dataset's per-sequence features moved from what the model trained on.

A model trained on one species meets another species' sequences with other GC
content, k-mer spectra and coding statistics; its feature branch then sees values
it never saw. For each feature: the shift of the mean in training standard
deviations, the ratio of standard deviations, and the fraction of rows more than
`Z_LIMIT` training standard deviations from the training mean (for a feature
that was about normal in training, 6 in 100,000 rows). The training statistics are
those the model normalises with (the train split of its dataset).
"""

from __future__ import annotations

import numpy as np
from absl import logging

Z_LIMIT = 4.0
# A feature "moved" when its mean moved by more than one training sd, or more
# than 1% of the rows lie beyond Z_LIMIT.
SHIFT_WARN = 1.0
OUTSIDE_WARN = 0.01


class ShiftMeter:
  """Accumulates the report over batches of features (streaming prediction)."""

  def __init__(self, names: list[str], mean, std):
    self.names = list(names)
    self.mean = np.asarray(mean, np.float64)
    self.std = np.asarray(std, np.float64)
    self.scale = np.where(self.std > 0, self.std, 1.0)
    width = len(self.names)
    self.n, self.rows_outside = 0, 0
    self.total, self.squares = np.zeros(width), np.zeros(width)
    self.outside = np.zeros(width, np.int64)

  def update(self, features) -> "ShiftMeter":
    x = (np.asarray(features, np.float64) - self.mean) / self.scale  # z per feature
    # A feature constant in training: any other value is outside what it saw.
    beyond = np.where(self.std > 0, np.abs(x) > Z_LIMIT, x != 0)
    self.n += len(x)
    self.total += x.sum(axis=0)
    self.squares += (x * x).sum(axis=0)
    self.outside += beyond.sum(axis=0)
    self.rows_outside += int(beyond.any(axis=1).sum())
    return self

  def report(self) -> dict:
    n = max(self.n, 1)
    shift = self.total / n
    ratio = np.sqrt(np.maximum(self.squares / n - shift * shift, 0.0))
    report = {name: {"mean_shift_sd": float(shift[i]), "sd_ratio": float(ratio[i]),
                     "outside_fraction": float(self.outside[i] / n)}
              for i, name in enumerate(self.names)}
    moved = sorted((name for name, r in report.items()
                    if abs(r["mean_shift_sd"]) > SHIFT_WARN
                    or r["outside_fraction"] > OUTSIDE_WARN),
                   key=lambda name: -abs(report[name]["mean_shift_sd"]))
    return {"z_limit": Z_LIMIT, "rows": int(self.n), "rows_outside": self.rows_outside / n,
            "moved": moved, "features": report}


def feature_shift(names: list[str], mean: np.ndarray, std: np.ndarray,
                  features: np.ndarray) -> dict:
  """The per-feature report (see the module docstring) for `features` [n, F]."""
  return ShiftMeter(names, mean, std).update(features).report()


def log_shift(report: dict, where: str) -> None:
  """One warning naming the features that moved most, or one info line."""
  moved = report["moved"]
  if not moved:
    logging.info("The features of %s lie within what the model saw in training", where)
    return
  top = ", ".join(f"{name} ({report['features'][name]['mean_shift_sd']:+.1f} sd, "
                  f"{report['features'][name]['outside_fraction']:.0%} outside)"
                  for name in moved[:5])
  logging.warning(
      "%d of %d features of %s moved from the model's training data (%s%s); %.0f%% of "
      "the rows have a feature more than %g training sd away: the feature branch is "
      "extrapolating there (feature_shift in the metrics or .summary.json file)", len(moved),
      len(report["features"]), where, top, ", ..." if len(moved) > 5 else "",
      100 * report["rows_outside"], report["z_limit"])
