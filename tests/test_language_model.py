"""The language model's architecture: the supervised backbone under a
base-resolution head, any length, weights that move by name, and a short real
training that must beat both yardsticks (base frequencies and the best
bidirectional k-mer model) on the same masked positions of held-out promoters."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from gslm_keras.encoding.masking import IGNORE, NucleotideMasker
from gslm_keras.models import build_model, find_backbone, preset
from gslm_keras.models.language import build_language_model, masked_loss

import oracles
from conftest import PROM_DIR, read_column


def test_any_length_and_the_same_trunk():
  config = preset("tiny")
  lm = build_language_model(config)
  for length in (300, 101, 7):
    out = lm(np.zeros((2, length, 4), np.float32))
    assert out.shape == (2, length, 4)
    np.testing.assert_allclose(np.asarray(out).sum(-1), 1.0, atol=1e-5)
  # The trunk is the supervised model's sequence branch: same layer names and
  # weight shapes, so a classifier takes its weights by name.
  trunk = find_backbone(lm)
  supervised = find_backbone(build_model(config, length=300, n_features=3, task="binary",
                                         n_outputs=1))
  shapes = lambda model: {(l.name, tuple(w.shape)) for l in model.layers  # noqa: E731
                          for w in l.weights}
  assert shapes(trunk) == shapes(supervised)
  for layer in supervised.layers:
    layer.set_weights(trunk.get_layer(layer.name).get_weights())
  x = oracles.one_hot_batch(read_column(PROM_DIR / "dev.csv", limit=4))
  np.testing.assert_allclose(trunk(x, training=False), supervised(x, training=False),
                             atol=1e-6)


def test_masked_loss_is_the_weighted_cross_entropy():
  probabilities = tf.constant([[[0.7, 0.1, 0.1, 0.1], [0.25, 0.25, 0.25, 0.25],
                                [0.1, 0.2, 0.3, 0.4]]])
  targets = tf.constant([[0, IGNORE, 3]])
  weights = tf.constant([[1.0, 1.0, 0.5]])
  expected = (-np.log(0.7) * 1.0 - np.log(0.4) * 0.5) / 1.5
  assert float(masked_loss(targets, probabilities, weights)) == np.float32(expected)


def _masked_codes(masker, one_hot, seed):
  from gslm_keras.evaluation import lm_baselines

  out = masker(one_hot, seed=seed)
  return (lm_baselines.codes(out["sequence"].numpy()), out["targets"].numpy(), out)


def test_yardsticks_and_a_short_training():
  # 1,200 promoters of the train split, 3 epochs of the tiny trunk; k of the k-mer
  # model chosen on the dev split; measured on the test split, all on the same
  # masked positions. Yardsticks first: the k-mer model must beat the frequencies.
  from gslm_keras.evaluation import lm_baselines

  train = oracles.one_hot_batch(read_column(PROM_DIR / "train.csv", limit=1200))
  dev = oracles.one_hot_batch(read_column(PROM_DIR / "dev.csv", limit=300))
  held_out = oracles.one_hot_batch(read_column(PROM_DIR / "test.csv", limit=300))
  masker = NucleotideMasker(rate=0.15)
  fit = [_masked_codes(masker, train, [100 + r, 0])[:2] for r in range(4)]
  dev_inputs, dev_targets, _ = _masked_codes(masker, dev, [98, 0])
  dev_bits = {}
  for k in (1, 2, 3):
    model = lm_baselines.KmerModel(k)
    for inputs, targets in fit:
      model.fit(inputs, targets)
    dev_bits[k] = lm_baselines.bits(model.probabilities(dev_inputs, dev_targets))
  best_k = min(dev_bits, key=dev_bits.get)
  kmer = lm_baselines.KmerModel(best_k)
  for inputs, targets in fit:
    kmer.fit(inputs, targets)
  inputs, targets, masked = _masked_codes(masker, held_out, [99, 0])
  train_codes = lm_baselines.codes(train)
  frequency_bits = lm_baselines.bits(
      lm_baselines.frequency_probabilities(train_codes, targets))
  kmer_bits = lm_baselines.bits(kmer.probabilities(inputs, targets))
  assert 1.8 < frequency_bits < 2.0
  assert kmer_bits < frequency_bits - 0.02, (kmer_bits, frequency_bits)

  keras.utils.set_random_seed(0)
  lm = build_language_model(preset("tiny"))
  optimizer = keras.optimizers.Adam(3e-3)

  @tf.function
  def step(batch, seed):
    corrupted = masker(batch, seed=seed)
    with tf.GradientTape() as tape:
      loss = masked_loss(corrupted["targets"], lm(corrupted["sequence"], training=True),
                         corrupted["weights"])
    optimizer.apply_gradients(zip(tape.gradient(loss, lm.trainable_variables),
                                  lm.trainable_variables))
    return loss

  for epoch in range(3):
    for i in range(0, len(train), 64):
      step(train[i:i + 64], tf.constant([epoch, i]))
  lm_bits = float(masked_loss(masked["targets"], lm(masked["sequence"], training=False),
                              masked["weights"])) / np.log(2)
  # The same positions for all three: the LM's positions are the k-mer model's.
  assert (masked["targets"].numpy() == targets).all()
  # Measured: frequencies 1.99, k-mer (k=2) 1.91, the LM 1.81 bits.
  assert lm_bits < kmer_bits - 0.03, (lm_bits, kmer_bits, frequency_bits)


@pytest.mark.parametrize("policy", ["mixed_float16", "mixed_bfloat16"])
def test_mixed_precision_trains_with_float32_probabilities(policy):
  # The GPU and TPU recipes: layers compute in half precision, the softmax head and
  # the loss in float32.
  import keras

  from gslm_keras.models.language import MaskedAccuracy, lm_loss

  model = build_language_model(preset("tiny"), dtype=policy)
  optimizer = keras.optimizers.Adam(1e-3)
  if policy == "mixed_float16":
    optimizer = keras.optimizers.LossScaleOptimizer(optimizer)
  model.compile(optimizer=optimizer, loss=lm_loss, metrics=[MaskedAccuracy()])
  x = oracles.one_hot_batch(read_column(PROM_DIR / "dev.csv", limit=32))
  out = NucleotideMasker()(x, seed=[1, 0])
  y = tf.stack([tf.cast(out["targets"], tf.float32), out["weights"]], axis=-1)
  history = model.fit(out["sequence"], y, epochs=2, batch_size=16, verbose=0)
  assert model.output.dtype == "float32"
  assert all(np.isfinite(history.history["loss"]))
