"""Auxiliary heads (`--aux_weight`): the training model shares every weight of the
model and outputs its output first; its loss is the main loss plus the weighted
heads' in training and the main loss alone in evaluation; a run with them saves a
model of one output, selected on the usual dev metric."""

from __future__ import annotations

import json

import numpy as np
import pytest

from gslm_keras.errors import ConfigError
from gslm_keras.models import build_model, preset
from gslm_keras.training import aux_heads
from gslm_keras.training.config import TrainConfig
from gslm_keras.training.trainer import train

from test_training import splice_dir  # noqa: F401  The fixture.

RNG = np.random.default_rng(0)
X = {"sequence": np.eye(4, dtype="float32")[RNG.integers(0, 4, (8, 60))],
     "features": RNG.normal(size=(8, 5)).astype("float32")}


def _model(config, task="binary", n_outputs=1):
  import keras

  keras.utils.set_random_seed(0)
  return build_model(config, length=60, n_features=5, task=task, n_outputs=n_outputs)


@pytest.mark.parametrize("config, task, n_outputs", [
    (preset("default").replace(rc_average=True), "binary", 1),
    (preset("default").replace(branch_norm=True), "multiclass", 3),  # After a restart.
    (preset("tiny").replace(pooling="flatten"), "regression", 2),
    (preset("tiny").replace(pooling="attention", feature_units=()), "multilabel", 4),
])
def test_the_training_model_shares_the_model_and_adds_a_head_per_branch(
    config, task, n_outputs):
  model = _model(config, task, n_outputs)
  trainer = aux_heads.training_model(model, task, 0.5)
  out = np.asarray(trainer(X, training=False))
  assert out.shape == (8, 3 * n_outputs)
  main, sequence, features = (np.asarray(p) for p in trainer.split(out))
  np.testing.assert_allclose(main, np.asarray(model(X, training=False)), rtol=1e-5,
                             atol=1e-6)
  # Only the two heads are new: every weight of the model is the training model's.
  model_ids = {id(w) for w in model.weights}
  assert model_ids <= {id(w) for w in trainer.weights}
  extra = sorted(w.path.split("/")[0] for w in trainer.weights if id(w) not in model_ids)
  assert extra == ["aux_features"] * 2 + ["aux_sequence"] * 2
  # Each head reads its own branch: the features move the feature head alone.
  moved = np.asarray(trainer({**X, "features": X["features"] + 1.0}, training=False))
  _, sequence2, features2 = (np.asarray(p) for p in trainer.split(moved))
  np.testing.assert_allclose(sequence2, sequence, rtol=1e-6)
  assert not np.allclose(features2, features)
  if task != "regression":  # Probabilities of the task's kind.
    assert np.all((sequence >= 0) & (sequence <= 1))
  if task == "multiclass":
    np.testing.assert_allclose(sequence.sum(axis=1), 1.0, rtol=1e-5)


def test_no_heads_without_a_weight_or_a_second_branch():
  both = _model(preset("tiny"))
  assert aux_heads.training_model(both, "binary", 0.0) is both
  for ablation in ("sequence", "features"):
    alone = _model(preset("tiny").replace(ablation=ablation))
    assert aux_heads.training_model(alone, "binary", 0.5) is alone


def _bce(labels, p):
  p = np.clip(p, 1e-7, 1 - 1e-7)
  return float(np.mean(-(labels * np.log(p) + (1 - labels) * np.log(1 - p))))


def test_the_loss_is_the_main_loss_plus_the_weighted_heads_in_training_only():
  from gslm_keras.training import recipe

  model = _model(preset("tiny"))
  trainer = aux_heads.training_model(model, "binary", 0.3)
  loss, metrics = recipe.compile_spec("binary", 1)
  trainer.compile(optimizer="adam", loss=loss, metrics=metrics)
  labels = (RNG.random((8, 1)) > 0.5).astype("float32")
  out = np.asarray(trainer(X, training=False))
  main, sequence, features = (np.asarray(p) for p in trainer.split(out))
  expected = _bce(labels, main) + 0.3 * (_bce(labels, sequence) + _bce(labels, features))
  trained = float(trainer.compute_loss(X, labels, out, training=True))
  assert trained == pytest.approx(expected, rel=1e-4)
  assert float(trainer.compute_loss(X, labels, out, training=False)) == pytest.approx(
      _bce(labels, main), rel=1e-4)
  # Per example, for the multi-worker loop: the same sum.
  per_example = trainer.per_example_loss(recipe.compile_spec("binary", 1)[0].__class__(
      reduction=None), labels, out)
  assert float(np.mean(per_example)) == pytest.approx(expected, rel=1e-4)


def test_a_run_with_heads_keeps_a_one_output_model_chosen_on_dev(splice_dir, tmp_path):  # noqa: F811
  import keras

  config = TrainConfig.create(data_dir=splice_dir, model_dir=str(tmp_path / "aux"),
                              model=preset("tiny"), model_preset="tiny", epochs=2,
                              steps_per_epoch=12, aux_weight=0.5, verbose=0,
                              evaluate_splits=("dev",))
  result = train(config)
  kept = keras.models.load_model(tmp_path / "aux" / "model.keras")
  assert kept.output.shape[-1] == 3  # splice: one output per class, no heads.
  assert not [layer for layer in kept.layers if layer.name.startswith("aux_")]
  history = json.load(open(tmp_path / "aux" / "history.json"))
  # The usual names: the dev metric that selects the epoch is the main output's.
  assert {"loss", "accuracy", "val_loss", "val_accuracy"} <= set(history[-1])
  assert result.best["best"] == max(h["val_accuracy"] for h in history)
  recorded = json.load(open(tmp_path / "aux" / "config.json"))
  assert recorded["optim"]["aux_weight"] == 0.5
  assert "--aux_weight=0.5" in (tmp_path / "aux" / "train.flags").read_text()
  assert "auxiliary heads on both branches, weight 0.5" in (
      tmp_path / "aux" / "MODEL_CARD.md").read_text()
  # The heads changed training: other weights than the same run without them.
  plain = train(config.replace(model_dir=str(tmp_path / "plain"), optim__aux_weight=0.0))
  assert plain.weights_fingerprint != result.weights_fingerprint
  assert "auxiliary" not in (tmp_path / "plain" / "MODEL_CARD.md").read_text()
  # The saved model is the one chosen: its dev accuracy, evaluated again, is the
  # best value the monitor saw (the main output's, not a head's).
  assert result.metrics["dev"]["accuracy"] == pytest.approx(result.best["best"],
                                                            abs=1e-6)
  # Isolated branches: a run of its own weights, said in the flagfile and the card,
  # its saved model of one output.
  isolated = train(config.replace(model_dir=str(tmp_path / "isolated"),
                                  optim__isolate_branches=True))
  assert isolated.weights_fingerprint not in (result.weights_fingerprint,
                                              plain.weights_fingerprint)
  assert "--isolate_branches" in (tmp_path / "isolated" / "train.flags").read_text()
  assert "each branch trained by its own head alone" in (
      tmp_path / "isolated" / "MODEL_CARD.md").read_text()
  assert keras.models.load_model(tmp_path / "isolated" / "model.keras").output.shape[-1] == 3


@pytest.mark.parametrize("isolate", [False, True])
def test_heads_compute_in_float32_under_mixed_precision(isolate):
  import keras

  keras.utils.set_random_seed(0)
  model = build_model(preset("tiny"), length=60, n_features=5, task="binary", n_outputs=1,
                      dtype="mixed_bfloat16")
  trainer = aux_heads.training_model(model, "binary", 0.5, isolate=isolate)
  out = trainer(X, training=False)
  assert out.dtype == "float32"
  assert {trainer.get_layer(f"aux_{name}").compute_dtype for name in aux_heads.HEADS} == {
      "float32"}


@pytest.mark.parametrize("config", [
    preset("default").replace(dropout=0.0, position_dropout=0.0),
    preset("tiny").replace(pooling="flatten", dropout=0.0, feature_units=()),
])
def test_isolated_branches_learn_from_their_own_heads_only(config):
  # --isolate_branches: one SGD step moves the branches' weights by the gradient of
  # the auxiliary losses alone, the fusion's by the main loss's, computed here on
  # an independent tape; the main output is the model's own.
  import keras
  import tensorflow as tf

  model = _model(config)
  plain = aux_heads.training_model(model, "binary", 1.0)
  trainer = aux_heads.training_model(model, "binary", 1.0, isolate=True)
  # The main output is the model's (the heads are new layers of each trainer).
  np.testing.assert_allclose(np.asarray(trainer(X, training=False))[:, :1],
                             np.asarray(plain(X, training=False))[:, :1], rtol=1e-5,
                             atol=1e-6)
  labels = (RNG.random((8, 1)) > 0.5).astype("float32")
  variables = trainer.trainable_variables
  before = [keras.ops.convert_to_numpy(v).copy() for v in variables]
  with tf.GradientTape(persistent=True) as tape:
    main, *heads = trainer.split(trainer(X, training=True))
    main_loss = tf.reduce_mean(keras.losses.binary_crossentropy(labels, main))
    aux_loss = sum(tf.reduce_mean(keras.losses.binary_crossentropy(labels, h))
                   for h in heads)
  from_main = tape.gradient(main_loss, variables, unconnected_gradients="zero")
  from_aux = tape.gradient(aux_loss, variables, unconnected_gradients="zero")
  trainer.compile(optimizer=keras.optimizers.SGD(1.0), loss="binary_crossentropy")
  trainer.fit(X, labels, batch_size=8, epochs=1, verbose=0, shuffle=False)
  fusion = {"fusion_dense", "fusion_norm", "deep_logits", "wide_linear", "output"}
  seen = set()
  for v, old, g_main, g_aux in zip(variables, before, from_main, from_aux):
    layer = v.path.split("/")[0]
    seen.add(layer)
    expected = old - np.asarray(g_main if layer in fusion else g_aux)
    np.testing.assert_allclose(np.asarray(v), expected, rtol=1e-4, atol=1e-5,
                               err_msg=v.path)
  assert {"aux_sequence", "aux_features"} <= seen and "fusion_dense" in seen


def test_isolation_needs_the_heads():
  with pytest.raises(ConfigError, match="isolate_branches .* --aux_weight > 0"):
    TrainConfig.create(data_dir="d", model_dir="m", isolate_branches=True)
  config = TrainConfig.create(data_dir="d", model_dir="m", aux_weight=0.5,
                              isolate_branches=True)
  assert config.optim.isolate_branches
