"""Fine-tuning: the trunk's own rate (frozen, then scaled), checked against plain
arithmetic on the weights; the recipe's refusals."""

from __future__ import annotations

import numpy as np
import pytest

from gslm_keras.errors import ConfigError
from gslm_keras.training.config import OptimConfig
from gslm_keras.training.plan import make_plan

STEPS, BATCH, LENGTH = 4, 16, 40


def _fit(multiplier: float, freeze: int, steps: int, optimizer: str = "adamw"):
  """(trunk weights before, trunk after, rest before, rest after, model)."""
  import keras

  from gslm_keras.models import build_model, find_backbone, preset
  from gslm_keras.training import recipe

  keras.utils.set_random_seed(0)
  model = build_model(preset("tiny"), length=LENGTH, n_features=3, task="binary",
                      n_outputs=1)
  optim = OptimConfig(init_from="a-source", optimizer=optimizer, weight_decay=0.1,
                      freeze_trunk_steps=freeze, trunk_learning_rate_multiplier=multiplier,
                      lr_schedule="constant", learning_rate=1e-2)
  plan = make_plan(BATCH * steps, BATCH, 1, 1, None, None)
  model.compile(optimizer=recipe.make_optimizer(optim, plan, "float32", model),
                loss="binary_crossentropy")
  rng = np.random.default_rng(0)
  x = {"sequence": np.eye(4, dtype="float32")[rng.integers(0, 4, (BATCH * steps, LENGTH))],
       "features": rng.normal(size=(BATCH * steps, 3)).astype("float32")}
  y = rng.integers(0, 2, (BATCH * steps, 1)).astype("float32")
  trunk = find_backbone(model).trainable_weights
  paths = {w.path for w in trunk}
  rest = [w for w in model.trainable_weights if w.path not in paths]
  before = ([w.numpy() for w in trunk], [w.numpy() for w in rest])
  model.fit(x, y, batch_size=BATCH, epochs=1, verbose=0, shuffle=False)
  return (*before, [w.numpy() for w in trunk], [w.numpy() for w in rest], model)


def _flat(arrays):
  return np.concatenate([a.ravel() for a in arrays])


@pytest.mark.parametrize("optimizer", ["adamw"])
def test_frozen_trunk_stays_put_and_the_multiplier_scales_its_step(optimizer, tmp_path):
  # Frozen for every step: not one trunk weight moves (AdamW's decay included),
  # while the new parts learn.
  trunk0, rest0, trunk1, rest1, model = _fit(1.0, STEPS, STEPS, optimizer)
  assert all(np.array_equal(a, b) for a, b in zip(trunk0, trunk1))
  assert not np.allclose(_flat(rest0), _flat(rest1))
  # One step past the freeze: the trunk's first update at multiplier 0.3 is 0.3
  # times the update at 1.0 (the runs are identical up to the boundary; the step,
  # decay included, is linear in the rate), for Adam's scale-free step as for SGD.
  t0, _, full, _, _ = _fit(1.0, STEPS - 1, STEPS, optimizer)
  _, _, scaled, _, _ = _fit(0.3, STEPS - 1, STEPS, optimizer)
  step_full, step_scaled = _flat(full) - _flat(t0), _flat(scaled) - _flat(t0)
  assert np.abs(step_full).max() > 1e-4
  np.testing.assert_allclose(step_scaled, 0.3 * step_full, atol=1e-6)
  # The optimizer is saved with the model and loads back with its schedule.
  import keras

  model.save(tmp_path / "m.keras")
  loaded = keras.models.load_model(tmp_path / "m.keras")
  assert loaded.optimizer.get_config()["freeze_steps"] == STEPS
  assert loaded.optimizer.get_config()["trunk_paths"] == \
      model.optimizer.get_config()["trunk_paths"]


def test_fine_tuning_options_need_a_source():
  with pytest.raises(ConfigError, match="need init_from"):
    OptimConfig(freeze_trunk_steps=10)
  with pytest.raises(ConfigError, match="need init_from"):
    OptimConfig(trunk_learning_rate_multiplier=0.1)
  with pytest.raises(ConfigError, match=">= 0"):
    OptimConfig(init_from="x", freeze_trunk_steps=-1)


def test_transfer_table_pairs_seeds():
  from benchmarks import transfer

  def run(ablation, seed, mcc, dead=0):
    return {"ablation": ablation, "seed": seed, "mcc": mcc, "steps": 10,
            "train_seconds": 1.0, "dead_fusion_units": dead, "fusion_units": 96}

  runs = [run("both", 0, 0.60, 1), run("scratch", 0, 0.50, 4), run("both", 1, 0.70),
          run("scratch", 1, 0.72), run("both", 2, 0.9)]  # Seed 2 has no pair yet.
  p = transfer.paired(runs)
  assert p["seeds"] == [0, 1] and p["wins"] == 1
  assert p["mcc"] == pytest.approx(0.65) and p["mcc_scratch"] == pytest.approx(0.61)
  assert p["gain"] == pytest.approx(0.04)
  assert p["gain_sd"] == pytest.approx(np.std([0.10, -0.02], ddof=1))
  assert p["dead"] == "1, 0, 0 of 96" and p["dead_scratch"] == "4, 0 of 96"
  results = {"init_from": {"source": "s", "sha256": "ab" * 32},
             "tasks": {"tf/9": {"runs": runs, "published": {"dnabert2": 64.0,
                                                            "best": 70.0}}}}
  table = "\n".join(transfer.lines(results))
  assert "| tf/9 | 65.0 ± 7.1 | 61.0 ± 15.6 | +4.0 ± 8.5 | 1 of 2 |" in table
  assert "DNABERT-2 met; best not met" in table


def test_feature_shift_against_known_distributions():
  from gslm_keras.features.shift import feature_shift

  rng = np.random.default_rng(0)
  new = np.stack([rng.normal(2.0, 1.0, 200_000),     # moved by 2 sd
                  rng.normal(0.0, 3.0, 200_000),     # same mean, 3x wider
                  rng.normal(0.0, 1.0, 200_000),     # as in training
                  np.r_[np.zeros(199_000), np.ones(1_000)]], axis=1)  # constant in training
  report = feature_shift(["a", "b", "c", "d"], np.zeros(4), np.array([1.0, 1.0, 1.0, 0.0]),
                         new)
  f = report["features"]
  assert f["a"]["mean_shift_sd"] == pytest.approx(2.0, abs=0.01)
  assert f["a"]["outside_fraction"] == pytest.approx(0.02275, abs=0.002)  # P(N(2,1) > 4)
  assert f["b"]["sd_ratio"] == pytest.approx(3.0, abs=0.02)
  assert f["b"]["outside_fraction"] == pytest.approx(0.1824, abs=0.004)  # P(|N(0,3)| > 4)
  assert f["c"]["outside_fraction"] < 0.001 and abs(f["c"]["mean_shift_sd"]) < 0.01
  assert f["d"]["outside_fraction"] == pytest.approx(0.005)
  assert report["moved"] == ["a", "b"]


def test_a_fine_tuned_models_card_names_its_source_not_a_local_path():
  from gslm_keras.training.card import _initialisation

  config = {"optim": {"freeze_trunk_steps": 40, "trunk_learning_rate_multiplier": 0.1},
            "runtime": {"seed": 0},
            "resolved": {"precision": "float32", "plan": {}, "init_from": {
                "source": "gslm-lm-multispecies", "sha256": "ab" * 32,
                "model_file": "/home/someone/venv/lib/gslm_keras/presets/"
                              "gslm-lm-multispecies/model.keras",
                "copied": ["backbone"]}}}
  text = "\n".join(_initialisation(config, steps=100))
  assert "`gslm-lm-multispecies`" in text and "/home/someone" not in text
  assert "frozen for the first 40 steps, then released (trained) for the remaining 60" \
      in text and "0.1 times the learning rate" in text


def test_a_source_is_recorded_by_a_path_that_holds_on_every_machine(tmp_path):
  # A preset's model file is named inside the package (results files committed from
  # one checkout named another's folders); any other source by its absolute path;
  # both with the file's own sha256.
  import hashlib
  import os

  from gslm_keras import presets
  from gslm_keras.training.init_from import describe

  name = "gslm-lm-multispecies"
  recorded = describe(name)
  assert recorded["model_file"] == f"gslm_keras/presets/{name}/model.keras"
  model_file = os.path.join(presets.path(name), "model.keras")
  with open(model_file, "rb") as handle:
    assert recorded["sha256"] == hashlib.sha256(handle.read()).hexdigest()
  run = tmp_path / "run"
  run.mkdir()
  (run / "model.keras").write_bytes(b"not a model, but a file")
  assert describe(str(run))["model_file"] == str(run / "model.keras")
  assert describe(str(run))["sha256"] == hashlib.sha256(b"not a model, but a file").hexdigest()
