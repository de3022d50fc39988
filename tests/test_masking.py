"""The nucleotide masker: rates, the 80/10/10 split, spans, what is never masked,
determinism and serialisation (after keras-hub's MaskedLMMaskGenerator tests)."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from gslm_keras.encoding.masking import IGNORE, NucleotideMasker

import oracles
from conftest import PROM_DIR, read_column


@pytest.fixture(scope="module")
def promoters():
  # Real sequences: 200 bundled promoters of 300 bp, N planted in a block of each.
  rows = [s[:150] + "N" * 20 + s[170:] for s in read_column(PROM_DIR / "dev.csv",
                                                             limit=200)]
  return rows, oracles.one_hot_batch(rows)


def test_rate_split_and_targets(promoters):
  rows, one_hot = promoters
  out = NucleotideMasker(rate=0.15)(one_hot, seed=[1, 2])
  targets, weights = out["targets"].numpy(), out["weights"].numpy()
  corrupted = out["sequence"].numpy()
  chosen = targets != IGNORE
  has_base = one_hot.sum(-1) == 1
  assert not (chosen & ~has_base).any()  # N is never chosen.
  assert chosen[:, 150:170].sum() == 0
  assert abs(chosen.sum() / has_base.sum() - 0.15) < 0.005  # 51,600 bases.
  np.testing.assert_array_equal(targets[chosen], one_hot[chosen].argmax(-1))
  np.testing.assert_array_equal(weights, chosen.astype(np.float32))
  # Positions not chosen are untouched.
  np.testing.assert_array_equal(corrupted[~chosen], one_hot[~chosen])
  zero = corrupted[chosen].sum(-1) == 0
  same = (corrupted[chosen] == one_hot[chosen]).all(-1)
  other = ~zero & ~same
  n = chosen.sum()
  assert abs(zero.sum() / n - 0.8) < 0.02
  # A random base equals the original a quarter of the time: 10% + 2.5% unchanged.
  assert abs(same.sum() / n - 0.125) < 0.015
  assert abs(other.sum() / n - 0.075) < 0.012
  assert (corrupted[chosen][other].sum(-1) == 1).all()


def test_spans(promoters):
  _, one_hot = promoters
  chosen = NucleotideMasker(rate=0.15, span=5)(one_hot, seed=[3, 4])["targets"].numpy()
  chosen = chosen != IGNORE
  assert abs(chosen.sum() / (one_hot.sum(-1) == 1).sum() - 0.15) < 0.02
  runs = []
  for row in chosen:
    edges = np.flatnonzero(np.diff(np.concatenate([[0], row.astype(int), [0]])))
    runs += list(edges[1::2] - edges[0::2])
  runs = np.array(runs)
  # Runs are spans of 5 or merged spans; shorter only where N or an end cuts them.
  assert np.mean(runs >= 5) > 0.95


def test_seeds_and_base_weights(promoters):
  _, one_hot = promoters
  masker = NucleotideMasker()
  a = masker(one_hot, seed=[7, 0])
  b = masker(one_hot, seed=[7, 0])
  c = masker(one_hot, seed=[7, 1])
  np.testing.assert_array_equal(a["sequence"], b["sequence"])
  np.testing.assert_array_equal(a["targets"], b["targets"])
  assert (a["targets"].numpy() != c["targets"].numpy()).mean() > 0.1
  weights = np.where(np.arange(300) < 100, 0.1, 1.0)[None].repeat(len(one_hot), 0)
  out = masker(one_hot, seed=[7, 0], base_weights=weights)
  chosen = out["targets"].numpy() != IGNORE
  np.testing.assert_allclose(out["weights"].numpy(), np.where(chosen, weights, 0.0))


def test_in_tf_data_and_serialised(promoters):
  _, one_hot = promoters
  masker = NucleotideMasker(rate=0.2, span=3, name="masker")
  dataset = tf.data.Dataset.from_tensor_slices(one_hot).batch(50).enumerate().map(
      lambda i, x: masker(x, seed=tf.stack([tf.constant(5, tf.int64), i])))
  first = [batch["targets"].numpy() for batch in dataset]
  second = [batch["targets"].numpy() for batch in dataset]
  for a, b in zip(first, second):
    np.testing.assert_array_equal(a, b)
  restored = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(
      masker))
  assert isinstance(restored, NucleotideMasker)
  assert restored.get_config() == masker.get_config()
  np.testing.assert_array_equal(restored(one_hot[:50], seed=[5, 0])["targets"],
                                first[0])


def test_bad_settings():
  for kwargs in ({"rate": 0}, {"rate": 1.0}, {"span": 0},
                 {"mask_share": 0.9, "random_share": 0.2}):
    with pytest.raises(ValueError):
      NucleotideMasker(**kwargs)
