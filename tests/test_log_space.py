"""A classifier's log-probabilities from its logits (gslm_keras.inference.log_space),
checked against float64 arithmetic on the probabilities of the same model before
its logits were shifted into float32 saturation."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from gslm_keras.inference import log_space
from gslm_keras.models import preset
from gslm_keras.models.builder import build_model

SHIFT = 30.0  # Past a logit of about 16.6 a float32 sigmoid is exactly 1.0.


def shift_logits(model: keras.Model, shift, unit=None) -> None:
  """Adds `shift` to the output logits (of one `unit`, or all) of a built model."""
  head = model.get_layer("task_head")
  out = head.get_layer("output")
  dense = out if isinstance(out, keras.layers.Dense) else head.get_layer("deep_logits")
  bias = np.asarray(dense.bias).copy()
  if unit is None:
    bias += shift
  else:
    bias[unit] += shift
  dense.bias.assign(bias)


def _inputs(n=16, length=40, features=7, seed=0):
  rng = np.random.default_rng(seed)
  one_hot = np.eye(4, dtype=np.float32)[rng.integers(0, 4, (n, length))]
  return one_hot, rng.normal(size=(n, features)).astype(np.float32)


def _model(task, units, **changes):
  keras.utils.set_random_seed(1)
  return build_model(preset("tiny").replace(**changes), length=40, n_features=7,
                     task=task, n_outputs=units)


def _probabilities(model, one_hot, features):
  return np.asarray(model({"sequence": one_hot, "features": features}, training=False),
                    np.float64)


def _logit(p):
  return np.log(p) - np.log1p(-p)


@pytest.mark.parametrize("changes", [{}, {"wide": True, "pooling": "maxavg"}])
def test_sigmoid_log_odds_past_saturation(changes):
  model = _model("binary", 1, **changes)
  one_hot, features = _inputs()
  expected = _logit(_probabilities(model, one_hot, features)) + SHIFT
  shift_logits(model, SHIFT)
  assert np.all(_probabilities(model, one_hot, features) == 1.0)  # Saturated.
  log_p, log_q = (np.asarray(t, np.float64) for t in
                  log_space.LogModel.build(model, "binary")(one_hot, features))
  np.testing.assert_allclose(log_p - log_q, expected, atol=2e-3)
  np.testing.assert_allclose(log_q, -expected, rtol=1e-4)  # log(1 - p) ~ -logit.


def test_strand_average_is_averaged_as_probabilities():
  # An rc-average model outputs (sigmoid(a) + sigmoid(c)) / 2 of its two reads;
  # a and c come from the same weights without the average (forward and reversed).
  model = _model("binary", 1, rc_average=True)
  single = _model("binary", 1)
  single.set_weights(model.get_weights())
  one_hot, features = _inputs()
  reverse = one_hot[:, ::-1, ::-1]
  a = _logit(_probabilities(single, one_hot, features))
  c = _logit(_probabilities(single, reverse, features))
  np.testing.assert_allclose(  # The two models agree before the shift.
      _probabilities(model, one_hot, features),
      (_probabilities(single, one_hot, features) + _probabilities(single, reverse,
                                                                  features)) / 2,
      atol=1e-6)
  shift_logits(model, SHIFT)
  log_p, log_q = (np.asarray(t, np.float64) for t in
                  log_space.LogModel.build(model, "binary")(one_hot, features))
  sigmoid_log = lambda z: -np.logaddexp(0.0, -z)  # noqa: E731
  expected_p = np.logaddexp(sigmoid_log(a + SHIFT), sigmoid_log(c + SHIFT)) - np.log(2)
  expected_q = np.logaddexp(sigmoid_log(-a - SHIFT), sigmoid_log(-c - SHIFT)) - np.log(2)
  np.testing.assert_allclose(log_p, expected_p, atol=1e-5)
  np.testing.assert_allclose(log_q, expected_q, rtol=1e-3)


def test_softmax_log_complement_past_saturation():
  model = _model("multiclass", 3)
  one_hot, features = _inputs()
  log_before = np.log(_probabilities(model, one_hot, features))  # logits + const
  shift_logits(model, 40.0, unit=0)
  # Saturated: 1.0, or the float32 just below it where the platform's softmax kernel
  # rounds so (0.99999994 on some CPUs); 1 - p is then 0 or 6e-8 against ~4e-18.
  top = np.float32(1.0) - np.finfo(np.float32).epsneg
  assert np.all(_probabilities(model, one_hot, features)[:, 0] >= top)
  log_p, log_q = (np.asarray(t, np.float64) for t in
                  log_space.LogModel.build(model, "multiclass")(one_hot, features))
  shifted = log_before + np.array([40.0, 0.0, 0.0])
  total = np.logaddexp.reduce(shifted, axis=1, keepdims=True)
  np.testing.assert_allclose(log_p, shifted - total, atol=1e-4)
  expected_q0 = np.logaddexp(shifted[:, 1], shifted[:, 2]) - total[:, 0]
  np.testing.assert_allclose(log_q[:, 0], expected_q0, rtol=1e-4)
  assert np.all(log_q[:, 0] < -30)


def test_binary_columns_and_regression():
  log_p, log_q = np.array([[-0.1]]), np.array([[-2.3]])
  p_columns, q_columns = log_space.to_columns("binary", log_p, log_q)
  np.testing.assert_array_equal(p_columns, [[-2.3, -0.1]])
  np.testing.assert_array_equal(q_columns, [[-0.1, -2.3]])
  assert log_space.LogModel.build(_model("regression", 1), "regression") is None
