"""Batch-norm statistics measured again (gslm_keras/training/batch_norm.py): the
values against an independent computation, nothing else changed, nothing lost on a
failure, and a training run that keeps the statistics of the model it kept."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from gslm_keras.data.dataset_info import DatasetInfo
from gslm_keras.models import preset
from gslm_keras.training import batch_norm
from gslm_keras.training.config import TrainConfig
from gslm_keras.training.trainer import train

from helpers import build


def _model():
  """Dropout before a batch norm, inside a nested model, then a second batch norm."""
  inner_in = keras.Input((5,))
  h = keras.layers.Dropout(0.5, name="drop")(inner_in)
  h = keras.layers.BatchNormalization(name="bn1")(h)
  inner = keras.Model(inner_in, h, name="inner")
  x = keras.Input((5,))
  h = keras.layers.Dense(3, name="dense")(inner(x))
  h = keras.layers.BatchNormalization(name="bn2")(h)
  return keras.Model(x, keras.layers.Dense(1, name="out")(h))


def _data(n=600, seed=0):
  rng = np.random.default_rng(seed)
  return (rng.normal(2.0, 3.0, (n, 5)) * np.arange(1, 6)).astype("float32")


def _train_a_little(model, x):
  for i in range(10):  # Moving averages of dropout-inflated batches.
    model(x[i * 32:(i + 1) * 32], training=True)


def test_statistics_are_the_population_statistics_with_dropout_off():
  model, x = _model(), _data()
  _train_a_little(model, x)
  weights = [w.copy() for w in model.get_weights()]
  bn1 = model.get_layer("inner").get_layer("bn1")
  bn2 = model.get_layer("bn2")
  assert not np.allclose(np.asarray(bn1.moving_variance), x.var(0), rtol=0.1)
  # Batches of unequal size: the population, not the mean of the batches' statistics.
  batches = [x[:100], x[100:350], (x[350:], np.zeros(250))]
  assert batch_norm.recalibrate(model, batches) == 600
  np.testing.assert_allclose(bn1.moving_mean, x.mean(0), rtol=1e-5)
  np.testing.assert_allclose(bn1.moving_variance, x.var(0), rtol=1e-4)
  # bn2's input, computed independently: bn1 with the population statistics (the
  # same as the batches' up to their spread, so checked on one batch of all).
  batch_norm.recalibrate(model, [x])
  gamma, beta = (np.asarray(v) for v in (bn1.gamma, bn1.beta))
  normed = (x - x.mean(0)) / np.sqrt(x.var(0) + bn1.epsilon) * gamma + beta
  kernel, bias = (np.asarray(v) for v in model.get_layer("dense").weights)
  dense = normed @ kernel + bias
  np.testing.assert_allclose(bn2.moving_mean, dense.mean(0), rtol=1e-4, atol=1e-5)
  np.testing.assert_allclose(bn2.moving_variance, dense.var(0), rtol=1e-3, atol=1e-5)
  # Inference now matches: the model's prediction equals the one from the numbers.
  gamma2, beta2 = np.asarray(bn2.gamma), np.asarray(bn2.beta)
  out_k, out_b = (np.asarray(v) for v in model.get_layer("out").weights)
  expected = ((dense - dense.mean(0)) / np.sqrt(dense.var(0) + bn2.epsilon) * gamma2
              + beta2) @ out_k + out_b
  np.testing.assert_allclose(model(x, training=False), expected, rtol=1e-3, atol=1e-4)
  # Trainable weights unchanged; the layers' settings restored.
  trainable = {id(w) for w in model.trainable_weights}
  for before, after in zip(weights, model.weights):
    if id(after) in trainable:
      np.testing.assert_array_equal(before, np.asarray(after))
  assert model.get_layer("inner").get_layer("drop").rate == 0.5
  assert bn1.momentum == bn2.momentum == 0.99 and bn1.trainable


def test_a_failure_midway_leaves_the_statistics_as_they_were():
  model, x = _model(), _data()
  _train_a_little(model, x)
  before = [np.asarray(w).copy() for w in model.weights]

  def batches():
    yield x[:100]
    raise OSError("disk gone")

  with pytest.raises(OSError, match="disk gone"):
    batch_norm.recalibrate(model, batches())
  for old, new in zip(before, model.weights):
    np.testing.assert_array_equal(old, np.asarray(new))
  assert batch_norm.recalibrate(model, []) == 0  # Nothing read: nothing changed.
  for old, new in zip(before, model.weights):
    np.testing.assert_array_equal(old, np.asarray(new))


def test_frozen_batch_norms_are_measured_and_stay_frozen():
  model, x = _model(), _data()
  model.get_layer("inner").trainable = False
  batch_norm.recalibrate(model, [x])
  bn1 = model.get_layer("inner").get_layer("bn1")
  np.testing.assert_allclose(bn1.moving_mean, x.mean(0), rtol=1e-5)
  assert not bn1.trainable


@pytest.fixture(scope="module")
def sorted_table(tmp_path_factory):
  """240 random 60 bp windows, the positives with TATAAT planted, sorted by label (a
  sample of the first records would see one class only)."""
  out = tmp_path_factory.mktemp("data") / "train.csv"
  rng = np.random.default_rng(0)
  rows = {}
  for i in range(240):
    seq = "".join(rng.choice(list("ACGT"), 60))
    label = "p" if i >= 120 else "n"
    if label == "p":
      at = int(rng.integers(0, 54))
      seq = seq[:at] + "TATAAT" + seq[at + 6:]
    rows[seq] = label
  with open(out, "w") as handle:
    handle.write("id,sequence,label\n")
    for i, (seq, label) in enumerate(rows.items()):
      handle.write(f"s{i},{seq},{label}\n")
  return out, rows


def _decoded(sample) -> list[str]:
  return ["".join("ACGT"[i] for i in window.argmax(-1))
          for batch in sample for window in np.asarray(batch["sequence"])]


def test_the_sample_is_drawn_from_the_whole_split(sorted_table, tmp_path, monkeypatch):
  table, rows = sorted_table
  build(tmp_path / "data", train=[str(table)], id_column="id", classes=("n", "p"))
  monkeypatch.setattr(batch_norm, "EXAMPLES", 40)
  monkeypatch.setattr(batch_norm, "BATCH_SIZE", 8)
  info = DatasetInfo.load(str(tmp_path / "data"))
  assert info.num_records("train") == len(rows)
  sample = batch_norm.training_sample(str(tmp_path / "data"), info, 0)
  labels = [rows[seq] for seq in _decoded(sample)]
  assert len(labels) == 40 and 10 <= labels.count("p") <= 30
  again = batch_norm.training_sample(str(tmp_path / "data"), info, 0)
  assert _decoded(again) == _decoded(sample)  # Fixed by its seed.
  # Long windows: smaller batches, and no more one-hot values than MAX_VALUES allows
  # (here 2 windows of 60 bp a batch, 8 windows, 1,920 values, in all).
  monkeypatch.setattr(batch_norm, "MAX_VALUES", 16 * 60 * 2)
  small = batch_norm.training_sample(str(tmp_path / "data"), info, 0)
  assert [len(b["sequence"]) for b in small] == [2, 2, 2, 2]


@pytest.mark.parametrize("with_dev", [True, False])
def test_training_keeps_the_statistics_of_the_model_it_kept(sorted_table, tmp_path,
                                                             with_dev):
  table, rows = sorted_table
  data_dir = str(tmp_path / "data")
  build(data_dir, train=[str(table)], id_column="id", classes=("n", "p"),
        computed_features=["gc_content", "kmer:k=2"],
        dev_fraction=0.2 if with_dev else 0.0)
  info = DatasetInfo.load(data_dir)
  config = TrainConfig.create(
      data_dir=data_dir, model_dir=str(tmp_path / "run"),
      model=preset("tiny").replace(fusion_norm=True, recalibrate_norms=True),
      model_preset="tiny", epochs=3, batch_size=16, seed=3, verbose=0)
  train(config)
  kept = keras.models.load_model(tmp_path / "run" / "model.keras", compile=False)
  norms = batch_norm.batch_norms(kept)
  assert len(norms) >= 2 and "fusion_norm" in [n.name for n in norms]
  stored = [(np.asarray(n.moving_mean).copy(), np.asarray(n.moving_variance).copy())
            for n in norms]
  sample = batch_norm.training_sample(data_dir, info, 3)
  seen = _decoded(sample)  # All of a small split, each window once.
  assert len(set(seen)) == len(seen) == info.num_records("train") and set(seen) <= set(rows)
  batch_norm.recalibrate(kept, sample)  # Done by training already: the same numbers.
  for (mean, variance), norm in zip(stored, norms):
    np.testing.assert_allclose(norm.moving_mean, mean, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(norm.moving_variance, variance, rtol=1e-4, atol=1e-5)
  # Without it the moving averages are not these statistics: the check can fail.
  plain = TrainConfig.create(
      data_dir=data_dir, model_dir=str(tmp_path / "plain"),
      model=preset("tiny").replace(fusion_norm=True), model_preset="tiny", epochs=3,
      batch_size=16, seed=3, verbose=0)
  train(plain)
  plain_kept = keras.models.load_model(tmp_path / "plain" / "model.keras", compile=False)
  fusion = plain_kept.get_layer("task_head").get_layer("fusion_norm")
  moving = np.asarray(fusion.moving_variance).copy()
  if not with_dev:
    # Measuring the statistics changes nothing training learns: with no dev to choose
    # another epoch, the same seed gives the same weights.
    for a, b in zip(kept.trainable_weights, plain_kept.trainable_weights):
      np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
  batch_norm.recalibrate(plain_kept, sample)
  assert not np.allclose(fusion.moving_variance, moving, rtol=0.1)


@pytest.mark.slow  # A benchmark's run (CI runs the slow tests).
def test_norm_statistics_benchmark_reproduces_the_suite_and_measures_again(
    sorted_table, tmp_path, monkeypatch):
  import json

  from benchmarks import norm_statistics
  from benchmarks.task_runs import Settings

  table, _ = sorted_table
  task = tmp_path / "gue" / "t"
  task.mkdir(parents=True)
  lines = table.read_text().splitlines()
  header, body = lines[0], lines[1:]
  order = np.random.default_rng(1).permutation(len(body))
  for split, part in (("train", order[:160]), ("dev", order[160:200]),
                      ("test", order[200:])):
    (task / f"{split}.csv").write_text("\n".join([header] + [body[i] for i in part]) + "\n")
  monkeypatch.setattr(norm_statistics, "_settings", lambda: Settings(
      preset="tiny", epochs=2, patience=0, batch_size=16, learning_rate=2e-3, seeds=1,
      ablation_seeds=1, rc_tasks=(), ablations=("both",), workers=0, fusion_norm=True))
  output = tmp_path / "out.json"
  monkeypatch.setattr("sys.argv", ["norm_statistics", f"--data_root={tmp_path / 'gue'}",
                                   "--task=t", "--seeds=1", f"--output={output}"])
  norm_statistics.main()
  results = json.loads(output.read_text())
  run, = results["runs"]
  # The moving statistics' scores are the suite's (computed from its predictions).
  assert run["moving"]["mcc"] == pytest.approx(run["suite_mcc"], abs=1e-6)
  assert 0 <= run["recalibrated"]["errors"] <= 40
  # Every batch norm, the residual block's two (named alike in every block) apart.
  assert {"fusion_norm", "stem_norm", "tower_block_0/norm_1",
          "tower_block_0/norm_2"} <= set(run["layers"])
  assert all(v["variance_ratio"] > 0 for v in run["layers"].values())
  assert results["model"]["fusion_norm"] and not results["model"]["recalibrate_norms"]
  assert "| fusion_norm |" in (tmp_path / "out.md").read_text()


@pytest.mark.slow  # A benchmark's run (CI runs the slow tests).
def test_epoch_time_reports_the_recalibrations_cost(sorted_table, tmp_path):
  from benchmarks import epoch_time

  table, _ = sorted_table
  data_dir = str(tmp_path / "data")
  build(data_dir, train=[str(table)], id_column="id", classes=("n", "p"),
        computed_features=["gc_content"])
  info = DatasetInfo.load(data_dir)
  config = TrainConfig.create(data_dir=data_dir, model_dir=str(tmp_path / "m"),
                              model=preset("tiny").replace(fusion_norm=True), epochs=1,
                              batch_size=16, verbose=0)
  epoch, recalibration = epoch_time.epoch_seconds(config, info)
  assert epoch > 0 and recalibration > 0
  from benchmarks import common

  results = {**common.header("test"), "data": "x", "train_records": 240,
             "seconds": {"relu": [2.0, 4.0, 3.0], "default": [3.0, 3.0, 3.0]},
             "recalibration_seconds": {"default": [0.3, 0.6, 0.6]}}
  lines = epoch_time.markdown(results).splitlines()
  assert "| relu | 2.0, 4.0, 3.0 | 3.0 | 1.00 | - | - |" in lines
  assert "| default | 3.0, 3.0, 3.0 | 3.0 | 1.00 | 0.6 | 0.20 |" in lines


def test_norm_statistics_measures_the_default_without_its_recalibration():
  # It reads the moving statistics that the default's recalibration replaces.
  from benchmarks import norm_statistics
  from benchmarks.task_runs import model_of
  from gslm_keras.models import preset

  assert preset("default").recalibrate_norms
  assert model_of(norm_statistics._settings()) == preset("default").replace(
      recalibrate_norms=False)


def test_a_language_model_from_the_default_preset_does_not_recalibrate(sorted_table,
                                                                       tmp_path):
  # The preset `default` recalibrates; pretraining reads only its backbone's fields
  # (recalibrate_norms is a classifier option), so a language model keeps its
  # moving averages.
  from gslm_keras.training.config import PretrainConfig

  table, rows = sorted_table
  data_dir = str(tmp_path / "data")
  build(data_dir, train=[str(table)], id_column="id", classes=("n", "p"))
  info = DatasetInfo.load(data_dir)
  fields = dict(data_dir=data_dir, model_dir=str(tmp_path / "run"),
                model=preset("default"), model_preset="default", seed=0)
  assert len(_decoded(batch_norm.run_sample(TrainConfig.create(**fields), info))) == len(rows)
  assert batch_norm.run_sample(PretrainConfig.create(**fields), info) is None


def test_a_language_model_config_holds_no_head_setting():
  # The fields a language model does not use are reset when its config is built, so
  # no reader can act on the preset's head (recalibrate_norms, the wide path, the
  # fusion's batch norm); the backbone's fields are kept.
  from gslm_keras.models.config import BACKBONE_FIELDS, HEAD_FIELDS, ModelConfig
  from gslm_keras.training.config import PretrainConfig

  model = preset("default").replace(tower_filters=48, dropout=0.2)
  config = PretrainConfig.create(data_dir="d", model_dir="m", model=model,
                                 aux_weight=0.5, max_shift=3, seed=1)
  assert not config.model.recalibrate_norms and model.recalibrate_norms
  for name in HEAD_FIELDS:
    assert getattr(config.model, name) == getattr(ModelConfig(), name), name
  for name in BACKBONE_FIELDS:
    assert getattr(config.model, name) == getattr(model, name), name
  assert config.optim.aux_weight == 0.0 and config.data.max_shift == 0
  assert config.runtime.seed == 1  # A used field is kept.
  # A classifier keeps them all.
  classifier = TrainConfig.create(data_dir="d", model_dir="m", model=model,
                                  aux_weight=0.5, max_shift=3)
  assert classifier.model == model and classifier.optim.aux_weight == 0.5
  assert classifier.data.max_shift == 3
