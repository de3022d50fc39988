"""benchmarks.fusion_units: the fusion layer's units read on dev."""

import numpy as np

from benchmarks.fusion_units import read_units

from gslm_keras.models import build_model, preset


def _model(**changes):
  config = preset("tiny").replace(pooling="maxavg_positions", flatten_channels=2,
                                  fusion_activation="gelu", wide=True, **changes)
  return build_model(config, length=40, n_features=3, task="binary", n_outputs=1,
                     feature_mean=np.zeros(3), feature_std=np.ones(3))


def _batches(seed=0):
  rng = np.random.default_rng(seed)
  sequence = np.eye(4, dtype="float32")[rng.integers(0, 4, (2, 64, 40))]
  features = rng.normal(size=(2, 64, 3)).astype("float32")
  return [({"sequence": s, "features": f}, np.zeros(64)) for s, f in zip(sequence, features)]


def _fusion_input(model, batches):
  import keras

  head = model.get_layer("task_head")
  inner = keras.Model(head.input, head.get_layer("fusion_concat").output)
  backbone = model.get_layer("sequence_backbone")
  return np.concatenate([np.asarray(inner({
      "features": keras.ops.convert_to_tensor(i["features"]),
      "positions": backbone(i["sequence"])})) for i, _ in batches])


def test_units_counted_three_ways_and_the_inputs_add_up():
  model, batches = _model(), _batches()
  x = _fusion_input(model, batches)
  dense = model.get_layer("task_head").get_layer("fusion_dense")
  kernel, _ = dense.get_weights()
  kernel, bias = kernel.copy(), np.zeros(kernel.shape[1], dtype="float32")
  reach = np.abs(x @ kernel).max(axis=0)
  # Units 0-2: constant below zero (dead by every rule); 3-5: varying within
  # [-4.5, -3.5] (never above -3); 6-7: varying within [-0.7, -0.3] (never positive,
  # alive by the old rule); the rest positive on every example.
  kernel[:, :3], bias[:3] = 0.0, -5.0
  bias[8:] = reach[8:] + 0.1
  kernel[:, 3:6] *= 0.5 / reach[3:6]
  bias[3:6] = -4.0
  kernel[:, 6:8] *= 0.2 / reach[6:8]
  bias[6:8] = -0.5
  dense.set_weights([kernel, bias])
  found = read_units(model, batches)
  assert found["units"] == 16 and found["examples"] == 128
  assert found["dead_never_changes"] == 3
  assert found["dead_never_above_minus_3"] == 6
  assert found["dead_never_positive"] == 8
  assert found["parts_error"] == 0.0
  assert list(found["contributions"]) == ["global_max_pool", "global_avg_pool",
                                          "flatten_positions", "feature_dropout_0"]
  # The max pool's inputs are post-ReLU: never negative.
  assert found["contributions"]["global_max_pool"]["input_min"] >= 0.0
  # The shares of the never-positive units plus their bias: their mean
  # pre-activation, computed here from the fusion layer's own input.
  pre = x @ kernel + bias
  silent = pre.max(axis=0) <= 0
  assert silent.sum() == 8
  shares = sum(c["never_positive"] for c in found["contributions"].values())
  assert np.isclose(shares + bias[silent].mean(), pre[:, silent].mean(), atol=1e-4)


def test_batch_norm_before_the_gelu_is_read_after_the_norm():
  found = read_units(_model(fusion_norm=True), _batches())
  assert found["units"] == 16 and found["batch_norm"] and found["parts_error"] == 0.0
  # Inference-mode batch norm of a new layer is the identity: the pre-activation is
  # the Dense output, centred by nothing, and some unit is positive somewhere.
  assert found["dead_never_positive"] < 16
