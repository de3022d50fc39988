"""Variant effect scores as pure functions of predictions.

For every output column (a class probability, or a regression value):
- `diff`: alt minus ref;
- classifiers also `log_ratio`: log p_alt - log p_ref (the change of the class's
  log-probability: for softmax heads, the change of its logit relative to the
  others), and `log_odds_ratio`: logit(p_alt) - logit(p_ref) with logit(p) =
  log(p / (1 - p)) (for a sigmoid head exactly the change of its logit).
When both strands are read, ref and alt predictions are first averaged over the
forward and the reverse-complement windows (`mean_over_strands`), and every
score is computed from those means: all scores of one column agree in sign.
Swapping ref and alt negates every score; equal inputs score zero.
"""

from __future__ import annotations

import numpy as np

EPSILON = 1e-7
SCORES_CLASSIFIER = ("diff", "log_ratio", "log_odds_ratio")
SCORES_REGRESSION = ("diff",)


def _clip(p):
  return np.clip(p, EPSILON, 1.0 - EPSILON)


def scores(ref: np.ndarray, alt: np.ndarray, classifier: bool,
           logs: tuple | None = None) -> dict[str, np.ndarray]:
  """{score name: [N, columns]} from predictions [N, columns] of ref and alt.

  `logs`: ((log p_ref, log(1 - p_ref)), (log p_alt, log(1 - p_alt))), each
  [N, columns], computed from the model's logits (`gslm_keras.inference.log_space`);
  without them the logarithms are taken of the probabilities clipped to
  [1e-7, 1 - 1e-7], which float32 rounding saturates past a logit of about 16.6.
  """
  ref = np.asarray(ref, np.float64)
  alt = np.asarray(alt, np.float64)
  out = {"diff": alt - ref}
  if classifier:
    if logs is None:
      logs = tuple((np.log(_clip(p)), np.log1p(-_clip(p))) for p in (ref, alt))
    (lp_ref, lq_ref), (lp_alt, lq_alt) = logs
    out["log_ratio"] = lp_alt - lp_ref
    # Grouped so that equal inputs give exactly zero.
    out["log_odds_ratio"] = (lp_alt - lp_ref) - (lq_alt - lq_ref)
  return out


def mean_over_strands(predictions: np.ndarray) -> np.ndarray:
  """Predictions [strands, ...] averaged over strands, on the probability (value)
  scale. Every score is then derived from one ref and one alt number per
  column, so that `diff`, `log_ratio` and `log_odds_ratio` of a variant agree in
  sign (averaging each score over strands separately does not: log is concave).
  """
  return np.asarray(predictions, np.float64).mean(axis=0)


def log_mean_over_strands(log_values: np.ndarray) -> np.ndarray:
  """log of the mean over strands of exp(log_values [strands, ...]): the
  logarithm of `mean_over_strands` of the probabilities, without their rounding."""
  log_values = np.asarray(log_values, np.float64)
  top = log_values.max(axis=0)
  return top + np.log(np.exp(log_values - top).mean(axis=0))
