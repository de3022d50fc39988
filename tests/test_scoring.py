"""The variant scores as pure functions of predictions, tested by their properties."""

from __future__ import annotations

import numpy as np
import pytest

from gslm_keras.variants import scoring

RNG = np.random.default_rng(7)


def _probabilities(n=200, k=3):
  return RNG.uniform(0.001, 0.999, size=(n, k))


@pytest.mark.parametrize("classifier", [True, False])
def test_swapping_ref_and_alt_negates_every_score(classifier):
  ref, alt = _probabilities(), _probabilities()
  forward = scoring.scores(ref, alt, classifier)
  backward = scoring.scores(alt, ref, classifier)
  assert set(forward) == set(scoring.SCORES_CLASSIFIER if classifier
                             else scoring.SCORES_REGRESSION)
  for name in forward:
    np.testing.assert_allclose(forward[name], -backward[name], atol=1e-12)


@pytest.mark.parametrize("classifier", [True, False])
def test_equal_alleles_score_zero(classifier):
  ref = _probabilities()
  for values in scoring.scores(ref, ref.copy(), classifier).values():
    assert np.all(values == 0.0)


def test_scores_by_their_definitions():
  ref = np.array([[0.2], [0.9]])
  alt = np.array([[0.5], [0.6]])
  out = scoring.scores(ref, alt, True)
  np.testing.assert_allclose(out["diff"], [[0.3], [-0.3]])
  np.testing.assert_allclose(out["log_ratio"], np.log(alt / ref))
  logit = lambda p: np.log(p / (1 - p))  # noqa: E731
  np.testing.assert_allclose(out["log_odds_ratio"], logit(alt) - logit(ref))
  # A sigmoid head's log-odds ratio is the change of its logit.
  z_ref, z_alt = np.array([[-1.5]]), np.array([[2.0]])
  sigmoid = lambda z: 1 / (1 + np.exp(-z))  # noqa: E731
  np.testing.assert_allclose(
      scoring.scores(sigmoid(z_ref), sigmoid(z_alt), True)["log_odds_ratio"], [[3.5]])


def test_certain_predictions_stay_finite():
  out = scoring.scores(np.array([[0.0, 1.0]]), np.array([[1.0, 0.0]]), True)
  for values in out.values():
    assert np.isfinite(values).all()
  bound = np.log((1 - scoring.EPSILON) / scoring.EPSILON)
  assert out["log_odds_ratio"][0, 0] == pytest.approx(2 * bound)


def test_scores_of_strand_means_agree_in_sign():
  # The case a user met: a strand-oriented promoter model, 0.885 forward and about
  # 0.20 on the reverse strand. Averaging log-scale scores per strand made diff and
  # log_ratio disagree; scores of the strand means cannot.
  rng = np.random.default_rng(3)
  ref = rng.uniform(0.01, 0.99, size=(2, 500, 1))
  alt = np.clip(ref + rng.normal(0, 0.3, size=ref.shape), 0.001, 0.999)
  per_strand = [scoring.scores(r, a, True) for r, a in zip(ref, alt)]
  old = {k: (per_strand[0][k] + per_strand[1][k]) / 2 for k in per_strand[0]}
  assert (np.sign(old["diff"]) != np.sign(old["log_ratio"])).any()  # The bug existed.
  new = scoring.scores(scoring.mean_over_strands(ref), scoring.mean_over_strands(alt),
                       True)
  for name in ("log_ratio", "log_odds_ratio"):
    np.testing.assert_array_equal(np.sign(new[name]), np.sign(new["diff"]))
  # The means themselves: an independent computation.
  np.testing.assert_allclose(new["diff"], (alt[0] + alt[1]) / 2 - (ref[0] + ref[1]) / 2)
  # Still antisymmetric under the swap.
  swapped = scoring.scores(scoring.mean_over_strands(alt), scoring.mean_over_strands(ref),
                           True)
  for name in new:
    np.testing.assert_allclose(swapped[name], -new[name], atol=1e-12)