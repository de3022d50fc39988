"""The auxiliary-head benchmark's training model: the same layers as the model, two
more outputs, and the main output equal to the model's own."""

import numpy as np

from benchmarks.aux_heads import training_model


def test_the_training_model_shares_the_layers_and_adds_a_head_per_branch():
  import keras

  from gslm_keras.models import build_model, preset

  keras.utils.set_random_seed(0)
  model = build_model(preset("default").replace(rc_average=True), length=60,
                      n_features=5, task="binary", n_outputs=1)
  trainer = training_model(model, aux=True)
  assert training_model(model, aux=False) is model
  rng = np.random.default_rng(0)
  x = {"sequence": np.eye(4, dtype="float32")[rng.integers(0, 4, (8, 60))],
       "features": rng.normal(size=(8, 5)).astype("float32")}
  out = trainer(x, training=False)
  assert set(out) == {"main", "aux_sequence", "aux_features"}
  np.testing.assert_allclose(np.asarray(out["main"]), np.asarray(model(x, training=False)),
                             rtol=1e-5, atol=1e-6)
  # Only the two heads are new; every weight of the model is the training model's.
  model_ids = {id(w) for w in model.weights}
  extra = [w for w in trainer.weights if id(w) not in model_ids]
  assert model_ids <= {id(w) for w in trainer.weights}
  assert sorted(w.path.split("/")[0] for w in extra) == [
      "aux_features", "aux_features", "aux_sequence", "aux_sequence"]
  # The sequence head reads the pooled positions, strand-averaged: a change of the
  # features does not move it, and it moves the features head.
  moved = {**x, "features": x["features"] + 1.0}
  out2 = trainer(moved, training=False)
  np.testing.assert_allclose(np.asarray(out2["aux_sequence"]),
                             np.asarray(out["aux_sequence"]), rtol=1e-6)
  assert not np.allclose(np.asarray(out2["aux_features"]), np.asarray(out["aux_features"]))
