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


def test_strand_average():
  forward = scoring.scores(_probabilities(), _probabilities(), True)
  reverse = scoring.scores(_probabilities(), _probabilities(), True)
  assert scoring.strand_average(forward, None) is forward
  both = scoring.strand_average(forward, reverse)
  for name in forward:
    np.testing.assert_allclose(both[name], (forward[name] + reverse[name]) / 2)
  # Averaging commutes with the swap: still antisymmetric.
  swapped = scoring.strand_average(*(
      {k: -v for k, v in s.items()} for s in (forward, reverse)))
  for name in forward:
    np.testing.assert_allclose(swapped[name], -both[name])
