"""The dual-input model and its custom layers."""

from __future__ import annotations

import re

import keras
import numpy as np
import pytest

from gslm_keras.errors import ConfigError
from gslm_keras.models import PRESETS, ModelConfig, build_model, preset
from gslm_keras.models.layers import (AttentionPooling, DilatedResidualBlock,
                                      ModalityDropout, ReverseComplement)

from keras_helpers import (assert_saved_model_identical, run_layer_serialization_test,
                           run_layer_test)

RNG = np.random.default_rng(0)


def _one_hot(batch, length):
  return np.eye(4, dtype=np.float32)[RNG.integers(0, 4, size=(batch, length))]


def _inputs(batch=6, length=40, n_features=7):
  return {"sequence": _one_hot(batch, length),
          "features": RNG.normal(size=(batch, n_features)).astype(np.float32)}


@pytest.mark.parametrize("layer_cls,kwargs,shape", [
    (DilatedResidualBlock, {"filters": 8, "kernel_size": 3, "dilation_rate": 2,
                            "dropout": 0.1, "momentum": 0.9, "synchronized": False},
     (3, 20, 8)),
    (AttentionPooling, {}, (3, 20, 8)),
    (ReverseComplement, {}, (3, 20, 4)),
])
def test_custom_layers_serialize(tmp_path, layer_cls, kwargs, shape):
  data = RNG.normal(size=shape).astype(np.float32)
  run_layer_serialization_test(layer_cls, kwargs, data, tmp_path)


@pytest.mark.parametrize("layer_cls,kwargs,shape,out_shape,trainable,non_trainable", [
    # Two convolutions (kernel, bias) and two batch norms (gamma, beta; moving
    # mean and variance).
    (DilatedResidualBlock, {"filters": 8, "dilation_rate": 2, "dropout": 0.1},
     (3, 20, 8), (3, 20, 8), 8, 4),
    (AttentionPooling, {}, (3, 20, 8), (3, 8), 2, 0),
    (ReverseComplement, {}, (3, 20, 4), (3, 20, 4), 0, 0),
])
def test_layers_under_every_dtype_policy(tmp_path, layer_cls, kwargs, shape, out_shape,
                                         trainable, non_trainable):
  data = RNG.normal(size=shape).astype(np.float32)
  run_layer_test(layer_cls, kwargs, data, out_shape, trainable, non_trainable, tmp_path)


def test_reverse_complement_layer_matches_definition():
  x = _one_hot(2, 10)
  out = keras.ops.convert_to_numpy(ReverseComplement()(x))
  complement = {0: 3, 1: 2, 2: 1, 3: 0}
  for seq, rc in zip(x.argmax(-1), out.argmax(-1)):
    assert list(rc) == [complement[b] for b in seq[::-1]]


def test_residual_block_refuses_wrong_width():
  with pytest.raises(ValueError, match="input has 4 channels, the block expects 8"):
    DilatedResidualBlock(8)(np.zeros((1, 5, 4), np.float32))


@pytest.mark.parametrize("name", sorted(PRESETS))
@pytest.mark.parametrize("rc_average", [False, True])
def test_presets_save_and_load_identically(tmp_path, name, rc_average):
  config = preset(name).replace(rc_average=rc_average)
  model = build_model(config, length=40, n_features=7, task="multiclass", n_outputs=3,
                      feature_mean=np.arange(7.0), feature_std=np.full(7, 2.0))
  loaded = assert_saved_model_identical(model, _inputs(), tmp_path)
  norm = loaded.get_layer("task_head").get_layer("feature_normalization")
  np.testing.assert_allclose(keras.ops.convert_to_numpy(norm.mean).ravel(),
                             np.arange(7.0))


def _all_layers(model):
  """Every layer, inside nested models too."""
  layers = []
  for layer in model.layers:
    layers.append(layer)
    if isinstance(layer, keras.Model):
      layers += _all_layers(layer)
  return layers


_AUTO_NAME = re.compile(r"^(conv1d|dense|dropout|batch_normalization|concatenate|"
                        r"max_pooling1d|flatten|activation|normalization|average|"
                        r"multiply|add|subtract|reshape|functional|input_layer)(_\d+)?$")


@pytest.mark.parametrize("changes", [{}, {"film": True, "modality_dropout": 0.2},
                                     {"fusion": "dense", "pooling": "maxavg_positions"},
                                     {"pooling": "maxavg_bins"}])
@pytest.mark.parametrize("name", ["default", "global"])
def test_every_layer_is_named(name, changes):
  config = preset(name).replace(rc_average=True, **changes)
  model = build_model(config, length=40, n_features=7, task="binary", n_outputs=1)
  names = [layer.name for layer in _all_layers(model)]
  assert not [n for n in names if _AUTO_NAME.match(n)], names
  assert set(model.input) == {"sequence", "features"}
  assert model.output.shape[-1] == 1


@pytest.mark.parametrize("task,n_outputs", [("binary", 1), ("multiclass", 4),
                                            ("multilabel", 3), ("regression", 2)])
def test_heads(task, n_outputs):
  model = build_model(preset("tiny"), length=40, n_features=7, task=task,
                      n_outputs=n_outputs)
  out = keras.ops.convert_to_numpy(model(_inputs(), training=False))
  assert out.shape == (6, n_outputs)
  if task == "multiclass":
    np.testing.assert_allclose(out.sum(axis=1), 1.0, rtol=1e-5)
  if task in ("binary", "multilabel"):
    assert ((out > 0) & (out < 1)).all()


def test_rc_average_is_strand_invariant():
  model = build_model(preset("tiny").replace(rc_average=True), length=40, n_features=7,
                      task="binary", n_outputs=1)
  inputs = _inputs()
  reverse = dict(inputs, sequence=inputs["sequence"][:, ::-1, ::-1].copy())
  np.testing.assert_allclose(keras.ops.convert_to_numpy(model(inputs)),
                             keras.ops.convert_to_numpy(model(reverse)), rtol=1e-5)
  plain = build_model(preset("tiny"), length=40, n_features=7, task="binary",
                      n_outputs=1)
  assert not np.allclose(keras.ops.convert_to_numpy(plain(inputs)),
                         keras.ops.convert_to_numpy(plain(reverse)))


def test_ablations_ignore_the_other_branch():
  inputs = _inputs()
  other_features = dict(inputs, features=inputs["features"] + 5.0)
  other_sequence = dict(inputs, sequence=_one_hot(6, 40))
  sequence_only = build_model(preset("tiny").replace(ablation="sequence"), length=40,
                              n_features=7, task="binary", n_outputs=1)
  features_only = build_model(preset("tiny").replace(ablation="features"), length=40,
                              n_features=7, task="binary", n_outputs=1)
  run = lambda m, x: keras.ops.convert_to_numpy(m(x, training=False))  # noqa: E731
  np.testing.assert_array_equal(run(sequence_only, inputs),
                                run(sequence_only, other_features))
  np.testing.assert_array_equal(run(features_only, inputs),
                                run(features_only, other_sequence))
  assert not np.allclose(run(sequence_only, inputs), run(sequence_only, other_sequence))
  assert "feature_normalization" not in [l.name for l in _all_layers(sequence_only)]
  assert "stem_norm" not in [l.name for l in _all_layers(features_only)]


def test_mixed_bfloat16_outputs_float32():
  model = build_model(preset("tiny"), length=40, n_features=7, task="multiclass",
                      n_outputs=3, dtype="mixed_bfloat16")
  assert model.get_layer("sequence_backbone").get_layer(
      "stem_conv_w5").compute_dtype == "bfloat16"
  out = model(_inputs(), training=False)
  assert keras.backend.standardize_dtype(out.dtype) == "float32"


def test_features_ablation_needs_features():
  with pytest.raises(ConfigError, match="needs features, but the dataset has none"):
    build_model(preset("tiny"), length=40, n_features=0, task="binary", n_outputs=1)
  model = build_model(preset("tiny").replace(ablation="sequence"), length=40,
                      n_features=0, task="binary", n_outputs=1)
  assert model.input["features"].shape == (None, 0)


def test_config_validation_and_json():
  config = preset("large")
  assert ModelConfig.from_json(config.to_json()) == config
  with pytest.raises(ConfigError, match="pooling='mean'"):
    ModelConfig(pooling="mean")
  with pytest.raises(ConfigError, match="dropout=1.5"):
    ModelConfig(dropout=1.5)
  with pytest.raises(ConfigError, match="preset 'huge'"):
    preset("huge")


def test_fusion_norm_option(tmp_path):
  # The default batch-normalises its fusion layer (since 2026-12-07).
  config = preset("default")
  assert config.fusion_norm
  model = build_model(config, length=40, n_features=7, task="multiclass", n_outputs=3)
  names = [layer.name for layer in _all_layers(model)]
  assert names[names.index("fusion_dense") + 1:][:2] == ["fusion_norm", "fusion_gelu"]
  assert model.get_layer("task_head").get_layer("fusion_dense").use_bias is False
  assert not [n for n in names if _AUTO_NAME.match(n)], names
  assert_saved_model_identical(model, _inputs(), tmp_path)
  assert ModelConfig.from_json(config.to_json()) == config
  without = build_model(preset("default").replace(fusion_norm=False), length=40,
                        n_features=7, task="binary", n_outputs=1)
  assert "fusion_norm" not in [layer.name for layer in _all_layers(without)]
  assert without.get_layer("task_head").get_layer("fusion_dense").use_bias is True


def test_backbone_runs_on_any_length_with_the_same_weights():
  from gslm_keras.models import build_backbone, find_backbone

  model = build_model(preset("tiny"), length=40, n_features=7, task="binary",
                      n_outputs=1)
  inside = find_backbone(model)
  free = build_backbone(preset("tiny"))
  assert [w.path for w in free.weights] == [w.path for w in inside.weights]
  free.set_weights(inside.get_weights())
  x = _one_hot(3, 40)
  np.testing.assert_allclose(keras.ops.convert_to_numpy(free(x, training=False)),
                             keras.ops.convert_to_numpy(inside(x, training=False)),
                             rtol=1e-6)
  for length in (13, 101, 1000):
    out = free(_one_hot(2, length), training=False)
    assert tuple(out.shape) == (2, -(-length // 2), preset("tiny").tower_filters)


@pytest.mark.parametrize("changes,layers", [
    ({"branch_norm": True}, ["sequence_branch_norm", "features_branch_norm"]),
    ({"branch_norm": True, "ablation": "sequence"}, ["sequence_branch_norm"]),
    ({"fusion_activation": "gelu", "fusion_norm": True}, ["fusion_norm", "fusion_gelu"]),
])
def test_fusion_options(tmp_path, changes, layers):
  config = preset("tiny").replace(**changes)
  model = build_model(config, length=40, n_features=7, task="binary", n_outputs=1)
  names = [layer.name for layer in _all_layers(model)]
  assert all(name in names for name in layers), names
  assert not [n for n in names if _AUTO_NAME.match(n)], names
  assert_saved_model_identical(model, _inputs(), tmp_path)
  if config.branch_norm:
    # Each branch enters the fusion centred and on unit scale, per example.
    head = model.get_layer("task_head")
    norm = head.get_layer("sequence_branch_norm")
    probe = keras.Model(head.input, [norm.input, norm.output])
    backbone = model.get_layer("sequence_backbone")
    inputs = _inputs()
    pooled, out = (keras.ops.convert_to_numpy(t) for t in probe({
        "positions": backbone(inputs["sequence"]),
        "features": keras.ops.convert_to_tensor(inputs["features"])}))
    np.testing.assert_allclose(out.mean(axis=1), 0.0, atol=1e-4)
    # Unit scale up to the epsilon, which weighs on a branch of small variance:
    # checked against the formula on the layer's own input.
    expected = (pooled - pooled.mean(axis=1, keepdims=True)) / np.sqrt(
        pooled.var(axis=1, keepdims=True) + norm.epsilon)
    np.testing.assert_allclose(out, expected, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("task,n_outputs,activation", [
    ("binary", 1, lambda z: 1 / (1 + np.exp(-z))),
    ("multiclass", 3, lambda z: np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)),
    ("regression", 2, lambda z: z)])
def test_the_wide_path_is_the_feature_regression(tmp_path, task, n_outputs, activation):
  # With the deep part's logits silenced, the model is exactly a linear model (with
  # its link) over the normalised features: it holds the regression it must beat.
  mean, std = RNG.normal(size=7).astype(np.float32), RNG.uniform(0.5, 2, 7).astype(
      np.float32)
  model = build_model(preset("tiny").replace(wide=True), length=40, n_features=7,
                      task=task, n_outputs=n_outputs, feature_mean=mean, feature_std=std)
  head = model.get_layer("task_head")
  deep = head.get_layer("deep_logits")
  deep.set_weights([np.zeros_like(w) for w in deep.get_weights()])
  w, b = (RNG.normal(size=(7, n_outputs)).astype(np.float32),
          RNG.normal(size=n_outputs).astype(np.float32))
  head.get_layer("wide_linear").set_weights([w, b])
  inputs = _inputs()
  expected = activation((inputs["features"] - mean) / std @ w + b)
  np.testing.assert_allclose(keras.ops.convert_to_numpy(model(inputs, training=False)),
                             expected, rtol=1e-4, atol=1e-5)
  assert_saved_model_identical(model, inputs, tmp_path)
  # No feature branch, no wide path: the sequence-only ablation is unchanged.
  sequence_only = build_model(preset("tiny").replace(wide=True, ablation="sequence"),
                              length=40, n_features=7, task=task, n_outputs=n_outputs)
  names = [layer.name for layer in _all_layers(sequence_only)]
  assert "wide_linear" not in names and "output" in names


def test_modality_dropout_drops_one_whole_branch_per_example(tmp_path):
  sequence = RNG.uniform(1, 2, size=(4000, 5)).astype(np.float32)
  features = RNG.uniform(1, 2, size=(4000, 3)).astype(np.float32)
  layer = ModalityDropout(0.4, seed=3)
  kept_sequence, kept_features = (keras.ops.convert_to_numpy(t) for t in
                                  layer([sequence, features], training=True))
  no_sequence = (kept_sequence == 0).all(axis=1)
  no_features = (kept_features == 0).all(axis=1)
  # A branch is dropped whole or kept unchanged; never both in one example.
  assert ((kept_sequence == 0) == no_sequence[:, None]).all()
  np.testing.assert_array_equal(kept_sequence[~no_sequence], sequence[~no_sequence])
  np.testing.assert_array_equal(kept_features[~no_features], features[~no_features])
  assert not (no_sequence & no_features).any()
  # Each branch with probability rate / 2 (binomial sd over 4,000: 0.005).
  assert abs(no_sequence.mean() - 0.2) < 0.03 and abs(no_features.mean() - 0.2) < 0.03
  # Inference: both pass.
  same = layer([sequence, features], training=False)
  np.testing.assert_array_equal(keras.ops.convert_to_numpy(same[0]), sequence)
  # In the model: between the branches and the fusion layer, saved and loaded.
  model = build_model(preset("tiny").replace(modality_dropout=0.3), length=40,
                      n_features=7, task="binary", n_outputs=1)
  assert "modality_dropout" in [layer.name for layer in _all_layers(model)]
  assert_saved_model_identical(model, _inputs(), tmp_path)
  with pytest.raises(ConfigError, match="modality_dropout"):
    preset("tiny").replace(modality_dropout=1.0)


def test_film_scales_and_shifts_the_positions_by_the_features(tmp_path):
  model = build_model(preset("tiny").replace(film=True), length=40, n_features=7,
                      task="binary", n_outputs=1)
  head = model.get_layer("task_head")
  backbone = model.get_layer("sequence_backbone")
  inputs = _inputs()
  positions = keras.ops.convert_to_numpy(backbone(inputs["sequence"], training=False))
  head_inputs = {"positions": positions, "features": inputs["features"]}
  inner = keras.Model(head.input, [head.get_layer("film").output,
                                   head.get_layer("feature_dropout_0").output])
  # Untrained (zero projections): the positions pass unchanged.
  film, _ = (keras.ops.convert_to_numpy(t) for t in inner(head_inputs, training=False))
  np.testing.assert_allclose(film, positions, rtol=1e-6)
  channels = positions.shape[-1]
  for name in ("scale", "shift"):
    layer = head.get_layer(f"film_{name}")
    layer.set_weights([RNG.normal(size=w.shape).astype(np.float32) * 0.1
                       for w in layer.get_weights()])
  film, branch = (keras.ops.convert_to_numpy(t) for t in inner(head_inputs,
                                                                 training=False))
  (ws, bs), (wh, bh) = (head.get_layer(f"film_{n}").get_weights()
                        for n in ("scale", "shift"))
  scale, shift = branch @ ws + bs, branch @ wh + bh
  assert scale.shape == (6, channels)
  np.testing.assert_allclose(film, positions * (1 + scale[:, None]) + shift[:, None],
                             rtol=1e-4, atol=1e-5)
  assert_saved_model_identical(model, inputs, tmp_path)
  # One branch: nothing to condition.
  sequence_only = build_model(preset("tiny").replace(film=True, ablation="sequence"),
                              length=40, n_features=7, task="binary", n_outputs=1)
  assert "film" not in [layer.name for layer in _all_layers(sequence_only)]


def test_gated_fusion_mixes_the_branches_unit_by_unit(tmp_path):
  model = build_model(preset("tiny").replace(fusion="gated"), length=40, n_features=7,
                      task="multiclass", n_outputs=3)
  head = model.get_layer("task_head")
  backbone = model.get_layer("sequence_backbone")
  inputs = _inputs()
  head_inputs = {"positions": keras.ops.convert_to_numpy(
      backbone(inputs["sequence"], training=False)), "features": inputs["features"]}
  names = ("fusion_sequence", "fusion_features", "fusion_gate", "fusion_gated")
  inner = keras.Model(head.input, [head.get_layer(n).output for n in names])
  s, f, z, gated = (keras.ops.convert_to_numpy(t) for t in inner(head_inputs,
                                                                  training=False))
  assert gated.shape == (6, 16) and (0 < z).all() and (z < 1).all()
  np.testing.assert_allclose(gated, z * s + (1 - z) * f, rtol=1e-5, atol=1e-6)
  assert "fusion_dense" not in [layer.name for layer in head.layers]
  assert_saved_model_identical(model, inputs, tmp_path)
  # One branch: that branch's tanh projection (what the unit is without the other).
  sequence_only = build_model(preset("tiny").replace(fusion="gated", ablation="sequence"),
                              length=40, n_features=7, task="binary", n_outputs=1)
  fusion = sequence_only.get_layer("task_head").get_layer("fusion_dense")
  assert fusion.activation is keras.activations.tanh
  with pytest.raises(ConfigError, match="gated"):
    preset("tiny").replace(fusion="gated", fusion_norm=True)
  with pytest.raises(ConfigError, match="fusion="):
    preset("tiny").replace(fusion="sum")


def test_train_offers_every_preset():
  from absl import flags

  import gslm_keras.train  # noqa: F401  (defines the flags)

  assert flags.FLAGS["model_preset"].parser.enum_values == list(PRESETS)


def test_maxavg_positions_keeps_what_and_where(tmp_path):
  model = build_model(preset("tiny").replace(pooling="maxavg_positions"), length=40,
                      n_features=7, task="binary", n_outputs=1)
  head = model.get_layer("task_head")
  backbone = model.get_layer("sequence_backbone")
  inputs = _inputs()
  positions = keras.ops.convert_to_numpy(backbone(inputs["sequence"], training=False))
  inner = keras.Model(head.input, head.get_layer("pool_concat").output)
  pooled = keras.ops.convert_to_numpy(inner({"positions": positions,
                                             "features": inputs["features"]}))
  kernel, bias = head.get_layer("position_project").get_weights()
  projected = positions @ kernel[0] + bias  # The 1x1 convolution, by hand.
  expected = np.concatenate([positions.max(axis=1), positions.mean(axis=1),
                             projected.reshape(len(projected), -1)], axis=1)
  assert pooled.shape == (6, 2 * 16 + positions.shape[1] * 8)
  np.testing.assert_allclose(pooled, expected, rtol=1e-5, atol=1e-5)
  assert_saved_model_identical(model, inputs, tmp_path)


@pytest.mark.parametrize("bins", [8, 3])
def test_maxavg_bins_keeps_what_and_roughly_where(bins, tmp_path):
  model = build_model(preset("tiny").replace(pooling="maxavg_bins", pool_bins=bins),
                      length=40, n_features=7, task="binary", n_outputs=1)
  head = model.get_layer("task_head")
  inputs = _inputs()
  positions = keras.ops.convert_to_numpy(
      model.get_layer("sequence_backbone")(inputs["sequence"], training=False))
  inner = keras.Model(head.input, head.get_layer("pool_concat").output)
  pooled = keras.ops.convert_to_numpy(inner({"positions": positions,
                                             "features": inputs["features"]}))
  length = positions.shape[1]  # 20 positions: stretches of 3 (8 bins), 7 (3 bins).
  size = -(-length // bins)
  stretches = [positions[:, i:i + size].max(axis=1) for i in range(0, length, size)]
  assert len(stretches) <= bins
  expected = np.concatenate([positions.max(axis=1), positions.mean(axis=1),
                             np.stack(stretches, axis=1).reshape(len(positions), -1)],
                            axis=1)
  np.testing.assert_allclose(pooled, expected, rtol=1e-5, atol=1e-5)
  assert_saved_model_identical(model, inputs, tmp_path)


def test_position_dropout_acts_in_training_only():
  config = preset("tiny").replace(pooling="maxavg_positions")
  plain = build_model(config, length=40, n_features=7, task="binary", n_outputs=1)
  dropped = build_model(config.replace(position_dropout=0.5), length=40, n_features=7,
                        task="binary", n_outputs=1)
  dropped.set_weights(plain.get_weights())  # No weights of its own.
  inputs = _inputs()
  head = dropped.get_layer("task_head")
  assert head.get_layer("position_dropout").rate == 0.5
  np.testing.assert_allclose(keras.ops.convert_to_numpy(dropped(inputs, training=False)),
                             keras.ops.convert_to_numpy(plain(inputs, training=False)),
                             rtol=1e-6)
  inner = keras.Model(head.input, head.get_layer("position_dropout").output)
  positions = dropped.get_layer("sequence_backbone")(inputs["sequence"], training=False)
  flat = keras.ops.convert_to_numpy(inner(
      {"positions": positions, "features": keras.ops.convert_to_tensor(inputs["features"])},
      training=True))
  assert 0.3 < (flat == 0).mean() < 0.7  # About half of the positions dropped.
  with pytest.raises(ConfigError, match="position_dropout"):
    config.replace(position_dropout=1.0)


@pytest.mark.parametrize("synchronized", [False, True])
def test_every_batch_norm_follows_the_replicas(synchronized):
  # Multi-replica training (session: synchronized_batch_norm=replicas > 1) must
  # reach every batch norm, the default's fusion_norm and the residual blocks' too.
  model = build_model(preset("default"), length=40, n_features=7, task="binary",
                      n_outputs=1, synchronized_batch_norm=synchronized)
  norms = [layer for layer in model._flatten_layers(include_self=False, recursive=True)
           if isinstance(layer, keras.layers.BatchNormalization)]
  names = {layer.name for layer in norms}
  assert {"fusion_norm", "norm_1"} <= names, names
  assert len(norms) >= 8
  assert {layer.synchronized for layer in norms} == {synchronized}
