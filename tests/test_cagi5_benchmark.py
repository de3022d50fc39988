"""The CAGI5 benchmark's pure parts: folds, windows and scoring."""

from __future__ import annotations

import sys

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from conftest import REPO

sys.path.insert(0, str(REPO))
from benchmarks import cagi5  # noqa: E402


def test_folds_keep_blocks_together():
  folds = [cagi5.fold_of("E", offset, 5, seed=0) for offset in range(200)]
  for block in range(20):
    assert len(set(folds[block * 10:(block + 1) * 10])) == 1
  assert len(set(folds)) == 5


def test_score_per_element_and_class3():
  rng = np.random.default_rng(0)
  frame = pd.DataFrame({"element": ["A"] * 50 + ["B"] * 50,
                        "value": rng.normal(size=100),
                        "class3": rng.choice([-1, 0, 1], size=100)})
  prediction = frame["value"].to_numpy() + rng.normal(scale=0.5, size=100)
  result = cagi5.score(frame, prediction)
  for element in "AB":
    part = frame["element"] == element
    assert result["per_element"][element]["pearson"] == pytest.approx(
        stats.pearsonr(prediction[part], frame["value"][part])[0])
  assert result["mean_pearson"] == pytest.approx(np.mean(
      [result["per_element"][e]["pearson"] for e in "AB"]))
  assert 0 <= result["auroc_class3"]["positive"] <= 1


def test_alt_windows(tmp_path):
  elements = {"E": "ACGT" * 50}
  frame = pd.DataFrame({"element": ["E", "E"], "offset0": [0, 100], "ref": ["A", "A"],
                        "alt": ["G", "T"], "value": [0.1, -0.2], "id": ["a", "b"],
                        "CHIP": [1.0, float("nan")]})
  cagi5._write_table(tmp_path / "t.tsv", frame, elements, ["CHIP"])
  rows = (tmp_path / "t.tsv").read_text().splitlines()
  first, second = rows[1].split("\t"), rows[2].split("\t")
  assert len(first[1]) == cagi5.LENGTH == len(second[1])
  assert first[1][:50] == "N" * 50 and first[1][50] == "G"  # padded at the element edge
  assert second[1][50] == "T" and second[1][:50] == elements["E"][50:100]
  assert first[3] == "1" and second[3] == ""  # NaN annotation -> missing


def test_neighbourhood_uses_training_variants_outside_the_own_block():
  train = pd.DataFrame({"element": ["E"] * 4, "offset0": [3, 8, 14, 30],
                        "alt": ["A", "C", "A", "A"], "value": [1.0, 2.0, 4.0, 8.0]})
  query = pd.DataFrame({"element": ["E", "F"], "offset0": [5, 5], "alt": ["A", "A"]})
  own = cagi5.neighbourhood(train, train, exclude="block")
  # Offset 3 sits in block 0 with offset 8: within 15 bp only offset 14 is left.
  assert own["near15_mean"][0] == 4.0
  held = cagi5.neighbourhood(train, query, exclude=None)
  assert held["near5_mean"][0] == 1.5 and held["near5_same_alt_mean"][0] == 1.0
  assert np.isnan(held["near40_mean"][1])  # No training variant in element F.
  itself = cagi5.neighbourhood(train, train, exclude="self")
  assert itself["near5_mean"][0] == 2.0  # Offset 3 sees offset 8, not itself.


def test_the_ridge_standardises_its_columns():
  """One penalty for all columns: the ridge's predictions do not change when a column
  is given in other units, and equal a fit by hand on standardised columns."""
  from sklearn.linear_model import RidgeCV

  rng = np.random.default_rng(0)
  x = rng.normal(size=(120, 3))
  x[rng.random(120) < 0.2, 1] = np.nan
  value = x[:, 0] + np.nan_to_num(x[:, 1]) + rng.normal(scale=2.0, size=120)
  frame = pd.DataFrame({"a": x[:, 0], "b": x[:, 1], "c": x[:, 2], "value": value})
  train, held = frame.iloc[:90], frame.iloc[90:]
  prediction = cagi5.ridge_predict(train, held, ["a", "b", "c"])
  rescaled = lambda f: f.assign(a=f["a"] * 1000.0, c=f["c"] / 1000.0)  # noqa: E731
  np.testing.assert_allclose(
      cagi5.ridge_predict(rescaled(train), rescaled(held), ["a", "b", "c"]), prediction,
      rtol=1e-6, atol=1e-9)
  columns = train[["a", "b", "c"]].to_numpy()
  means = np.nanmean(columns, axis=0)
  filled = lambda v: np.where(np.isnan(v), means, v)  # noqa: E731
  std = filled(columns).std(axis=0)
  by_hand = lambda v: np.hstack([(filled(v) - means) / std,  # noqa: E731
                                 np.isnan(v).astype(float)])
  model = RidgeCV(alphas=np.logspace(-3, 3, 13)).fit(by_hand(columns), train["value"])
  np.testing.assert_allclose(prediction, model.predict(by_hand(held[["a", "b", "c"]]
                                                                .to_numpy())), rtol=1e-9)
