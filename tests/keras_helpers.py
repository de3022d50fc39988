"""One shared proof that a layer or model serialises: config and .keras round trips."""

from __future__ import annotations

import os

import keras
import numpy as np


def _to_numpy(value):
  if isinstance(value, dict):
    return {k: _to_numpy(v) for k, v in value.items()}
  return keras.ops.convert_to_numpy(value)


def assert_config_round_trip(layer: keras.layers.Layer) -> None:
  """from_config(get_config()) rebuilds a layer with the same config."""
  config = layer.get_config()
  rebuilt = layer.__class__.from_config(config)
  assert rebuilt.get_config() == config
  # Every __init__ argument is kept as an attribute and in the config.
  for key, value in config.items():
    if key in ("name", "trainable", "dtype"):
      continue
    assert getattr(layer, key) == value, key


def assert_saved_model_identical(model: keras.Model, inputs, tmp_dir) -> keras.Model:
  """Saves `model` as .keras, loads it back, and checks identical outputs."""
  path = os.path.join(str(tmp_dir), f"{model.name}.keras")
  expected = _to_numpy(model(inputs, training=False))
  model.save(path)
  loaded = keras.models.load_model(path)
  got = _to_numpy(loaded(inputs, training=False))
  np.testing.assert_array_equal(got, expected)
  assert [w.path for w in loaded.weights] == [w.path for w in model.weights]
  return loaded


def run_layer_serialization_test(layer_cls, init_kwargs: dict, input_data, tmp_dir):
  """The keras-hub habit: config round trip and .keras round trip of a layer."""
  layer = layer_cls(**init_kwargs)
  layer(input_data)  # Builds the weights.
  assert_config_round_trip(layer)
  inputs = keras.Input(shape=input_data.shape[1:])
  model = keras.Model(inputs, layer_cls(**init_kwargs)(inputs),
                      name=f"wrap_{layer_cls.__name__.lower()}")
  assert_saved_model_identical(model, input_data, tmp_dir)


POLICIES = ("float32", "mixed_float16", "mixed_bfloat16")


def run_layer_test(layer_cls, init_kwargs: dict, input_data, expected_output_shape,
                   expected_trainable: int, expected_non_trainable: int, tmp_dir):
  """The keras-hub habit (`run_layer_test`): build the layer under each dtype policy
  and check its weights, output shape and dtype, then its config and .keras round
  trips.

  Under a mixed policy the variables stay float32 and the output is in the compute
  dtype (float16 or bfloat16).
  """
  for policy in POLICIES:
    layer = layer_cls(**init_kwargs, dtype=policy)
    output = layer(input_data)
    assert tuple(output.shape) == tuple(expected_output_shape), policy
    compute = keras.DTypePolicy(policy).compute_dtype
    assert keras.backend.standardize_dtype(output.dtype) == compute, policy
    assert len(layer.trainable_weights) == expected_trainable, policy
    assert len(layer.non_trainable_weights) == expected_non_trainable, policy
    assert all(keras.backend.standardize_dtype(w.dtype) == "float32"
               for w in layer.weights), policy
    rebuilt = layer_cls.from_config(layer.get_config())
    assert rebuilt.get_config() == layer.get_config(), policy
  run_layer_serialization_test(layer_cls, init_kwargs, input_data, tmp_dir)
