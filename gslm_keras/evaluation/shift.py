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


def feature_shift(names: list[str], mean: np.ndarray, std: np.ndarray,
                  features: np.ndarray) -> dict:
  """The per-feature report (see the module docstring) for `features` [n, F]."""
  features = np.asarray(features, np.float64)
  mean, std = np.asarray(mean, np.float64), np.asarray(std, np.float64)
  safe = np.where(std > 0, std, 1.0)
  z = (features - mean) / safe
  # A feature constant in training: any other value is outside what it saw.
  outside = np.where(std > 0, np.abs(z) > Z_LIMIT, features != mean)
  shift = (features.mean(axis=0) - mean) / safe
  ratio = features.std(axis=0) / safe
  report = {name: {"mean_shift_sd": float(shift[i]), "sd_ratio": float(ratio[i]),
                   "outside_fraction": float(outside[:, i].mean())}
            for i, name in enumerate(names)}
  moved = sorted((name for name, r in report.items()
                  if abs(r["mean_shift_sd"]) > SHIFT_WARN
                  or r["outside_fraction"] > OUTSIDE_WARN),
                 key=lambda n: -abs(report[n]["mean_shift_sd"]))
  return {"z_limit": Z_LIMIT, "rows": int(len(features)),
          "rows_outside": float(outside.any(axis=1).mean()) if len(features) else 0.0,
          "moved": moved, "features": report}


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
      "extrapolating there (see feature_shift in the metrics file)", len(moved),
      len(report["features"]), where, top, ", ..." if len(moved) > 5 else "",
      100 * report["rows_outside"], report["z_limit"])
