"""Metric computation per task, against hand computations."""

from __future__ import annotations

import math

import numpy as np
import pytest

from gslm_keras.evaluation.metrics import compute_metrics

RNG = np.random.default_rng(1)


def test_binary_metrics_by_hand():
  y = RNG.integers(0, 2, size=300)
  prob = np.clip(y * 0.3 + RNG.uniform(size=300) * 0.7, 0, 1)
  m = compute_metrics("binary", y, prob[:, None], ["neg", "pos"])
  predicted = prob >= 0.5
  tp = int(((y == 1) & predicted).sum())
  tn = int(((y == 0) & ~predicted).sum())
  fp = int(((y == 0) & predicted).sum())
  fn = int(((y == 1) & ~predicted).sum())
  assert m["confusion_matrix"] == [[tn, fp], [fn, tp]]
  assert m["accuracy"] == pytest.approx((tp + tn) / 300)
  mcc = (tp * tn - fp * fn) / math.sqrt((tp + fp) * (tp + fn) * (tn + fp) * (tn + fn))
  assert m["mcc"] == pytest.approx(mcc)
  assert m["f1"] == pytest.approx(2 * tp / (2 * tp + fp + fn))
  # AUROC = probability that a random positive outranks a random negative.
  pos, neg = prob[y == 1], prob[y == 0]
  auroc = ((pos[:, None] > neg[None, :]).sum() + 0.5 * (pos[:, None] == neg[None, :]).sum()
           ) / (len(pos) * len(neg))
  assert m["auroc"] == pytest.approx(auroc)


def test_multiclass_per_class_uses_argmax():
  y = np.array([0, 1, 2, 2, 1, 0])
  prob = np.array([[.5, .3, .2], [.2, .45, .35], [.1, .3, .6], [.4, .2, .4],
                   [.34, .33, .33], [.6, .2, .2]])
  m = compute_metrics("multiclass", y, prob, ["a", "b", "c"])
  assert m["accuracy"] == pytest.approx(4 / 6)
  # Class b is predicted once (row 1), correctly; its 0.45 is below 0.5 but counts.
  assert m["per_class"]["b"]["precision"] == 1.0
  assert m["per_class"]["b"]["recall"] == 0.5
  assert m["confusion_matrix"] == [[2, 0, 0], [1, 1, 0], [1, 0, 1]]


def test_multilabel_and_regression():
  y = RNG.integers(0, 2, size=(200, 3)).astype(float)
  prob = np.clip(y * 0.4 + RNG.uniform(size=(200, 3)) * 0.6, 0, 1)
  m = compute_metrics("multilabel", y, prob, ["x", "y", "z"])
  assert m["auroc_macro"] == pytest.approx(np.mean([m["per_class"][c]["auroc"]
                                                    for c in "xyz"]))
  truth = RNG.normal(size=(100, 2))
  pred = truth + RNG.normal(scale=0.5, size=(100, 2))
  m = compute_metrics("regression", truth, pred, ["t1", "t2"])
  assert m["per_target"]["t1"]["pearson"] == pytest.approx(
      np.corrcoef(truth[:, 0], pred[:, 0])[0, 1])
  ranks = lambda v: np.argsort(np.argsort(v))  # noqa: E731
  assert m["per_target"]["t2"]["spearman"] == pytest.approx(
      np.corrcoef(ranks(truth[:, 1]), ranks(pred[:, 1]))[0, 1])
  assert m["mse"] == pytest.approx(((truth - pred) ** 2).mean())
