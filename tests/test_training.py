"""train and evaluate end to end: artefacts, resume after a kill, determinism,
distribution strategies, mixed precision and bad input."""

from __future__ import annotations

import csv
import json
import os
import pathlib
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from sklearn import metrics as skm

import gslm_keras
from gslm_keras.data.builder.flags import config_from_flagfile
from gslm_keras.data.builder.builder import build_dataset
from gslm_keras.data.dataset_info import DatasetInfo
from gslm_keras.errors import ConfigError
from gslm_keras.models import preset
from gslm_keras.run_dir import Resolved
from gslm_keras.training.config import TrainConfig
from gslm_keras.training.trainer import TrainingError, train

from commands import run_command
from conftest import PROM_DIR, REPO, read_column
from helpers import build, read_records, segments_backed_up, with_head_of, write_table

TINY = ["--flagfile=models/tiny.flags", "--verbose=0"]


@pytest.fixture(scope="module")
def splice_dir(tmp_path_factory):
  out = tmp_path_factory.mktemp("data") / "splice"
  build_dataset(config_from_flagfile(str(REPO / "datasets/splice_statlog/build.flags"),
                                     output_dir=str(out), num_workers=1))
  return str(out)


@pytest.fixture(scope="module")
def tiny_run(splice_dir, tmp_path_factory):
  model_dir = tmp_path_factory.mktemp("runs") / "tiny"
  config = TrainConfig.create(data_dir=splice_dir, model_dir=str(model_dir), model=preset("tiny"),
                       model_preset="tiny", epochs=2, batch_size=64, verbose=0)
  return config, train(config)


def _run(module, *args, timeout=300):
  return run_command(module, *args, env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"),
                     timeout=timeout)


def _fingerprint(stdout):
  return [line.split(": ")[1] for line in stdout.splitlines()
          if line.startswith("Weights fingerprint")][0]


def test_model_dir_artefacts(tiny_run, splice_dir):
  config, result = tiny_run
  d = config.model_dir
  assert result.steps == 2 * 29  # ceil(1801 / 64) steps per epoch
  saved = json.load(open(os.path.join(d, "config.json")))
  assert TrainConfig.from_json({k: v for k, v in saved.items() if k != "resolved"}) == config
  assert saved["resolved"]["precision"] == "float32"
  resolved = Resolved.of(saved)  # Typed: the record loads back to what it says.
  assert (resolved.objective, resolved.seed, resolved.restarts, resolved.init_from) == (
      "supervised", 0, (), None)
  assert resolved.plan["total_steps"] == result.steps
  assert Resolved.from_json(resolved.to_json()) == resolved
  loaded = gslm_keras.load(d)  # The object of its task: the supervised table's row.
  assert (type(loaded).__name__, loaded.task.name, loaded.task.objective) == (
      "LoadedModel", "multiclass", "supervised")
  # Embeddings from the classifier's backbone: one per sequence, strand-symmetric.
  sequences = ["ACGTTGCAAC" * 6, "GGGCCCATAT" * 6]
  embedder = gslm_keras.Embedder(loaded)
  vectors = embedder(sequences)
  assert vectors.shape == (2, config.model.tower_filters) and np.isfinite(vectors).all()
  reverse = [s.translate(str.maketrans("ACGT", "TGCA"))[::-1] for s in sequences]
  np.testing.assert_allclose(embedder(reverse), vectors, rtol=1e-5, atol=1e-6)
  assert json.load(open(os.path.join(d, "dataset_info.json"))) == DatasetInfo.load(
      splice_dir).data
  flagfile = open(os.path.join(d, "train.flags")).read()
  assert f"--data_dir={splice_dir}" in flagfile and "--model_preset=tiny" in flagfile
  assert "--stem_widths=5,9" in flagfile
  assert os.listdir(os.path.join(d, "logs", "train"))
  assert not os.path.exists(os.path.join(d, "checkpoints", "backup"))  # finished
  history = json.load(open(os.path.join(d, "history.json")))
  assert [h["step"] for h in history] == [29, 58]
  assert all("val_accuracy" in h for h in history)
  for name in ("training_curves.png", "test_roc_pr.png", "test_confusion.png",
               "dev_roc_pr.png"):
    with open(os.path.join(d, "plots", name), "rb") as handle:
      assert handle.read(8) == b"\x89PNG\r\n\x1a\n"


def test_rerunning_the_flagfile_reproduces_the_config(tiny_run, tmp_path):
  # The train.flags a run leaves is the run: parsed by train's own flags (generated
  # from the config) it gives the same config, without training it again.
  from absl import flags as absl_flags

  from gslm_keras import config_flags
  from gslm_keras.training.config import model_from_preset

  config, _ = tiny_run
  fv = absl_flags.FlagValues()
  options = config_flags.define_config(TrainConfig, bases=("model",), flag_values=fv)
  fv(["train", f"--flagfile={config.model_dir}/train.flags"])
  assert options.config(bases={"model": model_from_preset}) == config
  saved = json.load(open(os.path.join(config.model_dir, "config.json")))
  assert TrainConfig.from_json(saved) == config


def test_python_api_verbs(tiny_run, splice_dir, tmp_path):
  import gslm_keras as gk
  from gslm_keras import api

  config, result = tiny_run
  # The verbs stay the package's attributes when the entry points of the same
  # names are imported (the import system sets submodules on their package).
  import importlib

  importlib.import_module("gslm_keras.train")
  assert gk.train.__module__ == "gslm_keras.api" and gk.evaluate.__module__ == (
      "gslm_keras.api")
  # Keyword arguments as flags give them: model fields over the preset's.
  assert api._run_config(TrainConfig, None, dict(
      data_dir=splice_dir, model_dir=config.model_dir, model_preset="tiny", epochs=2,
      batch_size=64, verbose=0), "train") == config
  wider = api._run_config(TrainConfig, None, dict(
      data_dir=splice_dir, model_dir="m", model_preset="tiny", fusion_units=32), "train")
  assert wider.model == preset("tiny").replace(fusion_units=32)
  with pytest.raises(ConfigError, match="unknown option 'epoch'"):
    gk.train(data_dir=splice_dir, model_dir=str(tmp_path / "x"), epoch=2)
  with pytest.raises(ConfigError, match="a config or keyword arguments, not both"):
    gk.train(config, epochs=1)
  with pytest.raises(ConfigError, match="pretrain: pooling is a classifier option"):
    gk.pretrain(data_dir=splice_dir, model_dir=str(tmp_path / "lm"), pooling="flatten")
  # The verbs do what the commands do.
  metrics = gk.evaluate(config.model_dir, split="dev")
  assert metrics["accuracy"] == pytest.approx(result.metrics["dev"]["accuracy"])
  model = gk.load(config.model_dir)
  rows = read_records(DatasetInfo.load(splice_dir), "dev")[:5]
  probabilities = model.predict([r["sequence"] for r in rows])
  assert probabilities.shape == (5, 3)
  np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)
  fasta = tmp_path / "five.fa"
  fasta.write_text("".join(f">r{i}\n{r['sequence']}\n" for i, r in enumerate(rows)))
  stats = gk.predict(config.model_dir, str(fasta), str(tmp_path / "five.tsv"))
  assert stats["records"] == 5
  with pytest.raises(ConfigError, match="input is for language models"):
    gk.evaluate(config.model_dir, input=str(fasta))


def test_metrics_agree_with_predictions(tiny_run, splice_dir):
  config, result = tiny_run
  with open(os.path.join(config.model_dir, "predictions", "test.tsv")) as handle:
    rows = list(csv.DictReader(handle, delimiter="\t"))
  classes = ["EI", "IE", "N"]
  assert len(rows) == 1186
  expected_ids = [r["id"] for r in _test_rows()]
  assert [r["id"] for r in rows] == expected_ids
  truth = np.array([classes.index(r["label"]) for r in rows])
  prob = np.array([[float(r[f"prob_{c}"]) for c in classes] for r in rows])
  metrics = json.load(open(os.path.join(config.model_dir, "metrics", "test.json")))
  assert metrics == result.metrics["test"] | {}
  assert not result.stopped_early  # 2 epochs with patience 6: it ran them all.
  assert metrics["accuracy"] == pytest.approx(skm.accuracy_score(truth, prob.argmax(1)))
  assert metrics["mcc"] == pytest.approx(skm.matthews_corrcoef(truth, prob.argmax(1)))
  assert metrics["per_class"]["IE"]["auroc"] == pytest.approx(
      skm.roc_auc_score(truth == 1, prob[:, 1]), abs=1e-4)
  assert sum(map(sum, metrics["confusion_matrix"])) == 1186
  # Two epochs of the tiny model already learn something real.
  assert metrics["auroc_macro"] > 0.6


def _test_rows():
  with open(REPO / "datasets/splice_statlog/splice_statlog_dna.csv", newline="") as handle:
    return [{"id": f"splice_statlog_dna.csv:{i}"} for i, r in
            enumerate(csv.DictReader(handle), start=1) if r["statlog_split"] == "test"]


def test_one_recipe():
  # train's own defaults, OptimConfig's and models/default.flags are one recipe.
  from absl import flags as absl_flags

  import importlib

  train_main = importlib.import_module("gslm_keras.train")  # Defines its flags.
  from gslm_keras.training.config import OptimConfig
  from gslm_keras.training.defaults import RECIPE

  written = {}
  for line in open(REPO / "models/default.flags"):
    if line.startswith("--") and "=" in line:
      key, value = line[2:].strip().split("=", 1)
      written[key] = value
  del train_main
  defaults = {name: absl_flags.FLAGS[name].default for name in RECIPE}
  optim = OptimConfig()
  for name, value in RECIPE.items():
    assert defaults[name] == value == getattr(optim, name), name
    if name in written:
      assert type(value)(written[name]) == value, name
  assert set(written) >= set(RECIPE) - {"clipnorm"}


def test_finished_run_is_not_overwritten(tiny_run):
  config, _ = tiny_run
  with pytest.raises(ConfigError, match="already holds a trained model; pass --overwrite"):
    train(config)


def test_evaluate_entry_point(tiny_run, tmp_path):
  config, result = tiny_run
  out = _run("gslm_keras.evaluate", f"--model={config.model_dir}", "--split=dev")
  assert out.returncode == 0, out.stderr
  metrics = json.load(open(os.path.join(config.model_dir, "metrics", "dev.json")))
  assert metrics["accuracy"] == pytest.approx(result.metrics["dev"]["accuracy"])
  # The old spelling of --model works for a release, with a warning; two models
  # named at once are refused.
  old = _run("gslm_keras.evaluate", f"--model_dir={config.model_dir}", "--split=dev")
  assert old.returncode == 0, old.stderr
  assert "warning: --model_dir is the old spelling of --model" in old.stderr
  both = _run("gslm_keras.evaluate", f"--model={config.model_dir}",
              f"--model_dir={tmp_path}", "--split=dev")
  assert both.returncode == 1 and "name two models: give --model only" in both.stderr
  # A dataset the model does not fit: 300 bp windows, binary labels.
  prom = build(tmp_path / "prom", train=[PROM_DIR / "dev.csv"], test=[PROM_DIR / "test.csv"])
  out = _run("gslm_keras.evaluate", f"--model={config.model_dir}",
             f"--data_dir={prom.directory}")
  assert out.returncode == 1
  assert "error: the model reads 60 bp windows" in out.stderr
  assert "Traceback" not in out.stderr


def test_evaluate_averages_both_strands_as_predict_does(tiny_run, tmp_path):
  """evaluate --rc_average: each output the mean of the window's and its reverse
  complement's, features computed on each strand; equal to predict's, and recorded."""
  import shutil

  from gslm_keras.data.pipeline import split_sequences
  from gslm_keras.inference.model import LoadedModel

  config, _ = tiny_run
  run = tmp_path / "run"  # A copy: the module's run keeps its own metrics.
  shutil.copytree(config.model_dir, run)
  sequences = list(split_sequences(DatasetInfo.load(config.data.data_dir), "dev"))
  model = LoadedModel(str(run))
  names = model.columns

  def written(labels=False):
    with open(run / "predictions" / "dev.tsv", newline="") as handle:
      rows = list(csv.DictReader(handle, delimiter="\t"))
    if labels:
      return np.array([names.index(f"prob_{r['label']}") for r in rows])
    return np.array([[float(r[n]) for n in names] for r in rows])

  forward = gslm_keras.evaluate(str(run), split="dev")
  assert forward["strands"] == "forward"
  np.testing.assert_allclose(written(), model.predict(sequences), atol=1e-5)
  both = gslm_keras.evaluate(str(run), split="dev", rc_average=True)
  assert both["strands"] == "both, averaged"
  averaged = model.predict(sequences, rc_average=True)
  np.testing.assert_allclose(written(), averaged, atol=1e-5)
  # The tiny model is not strand-symmetric: the two strands differ.
  assert np.abs(averaged - model.predict(sequences)).max() > 1e-3
  assert both["accuracy"] == pytest.approx(
      float(np.mean(averaged.argmax(axis=1) == written(labels=True))))
  with pytest.raises(ConfigError, match="rc_average is for classifiers"):
    gslm_keras.evaluate("gslm-lm-multispecies", rc_average=True)


def test_evaluate_on_another_dataset_writes_beside_and_reports_overlap(tiny_run,
                                                                       tmp_path):
  config, _ = tiny_run
  run = pathlib.Path(config.model_dir)
  own = {p: p.read_bytes() for p in run.rglob("*")
         if p.is_file() and p.parts[len(run.parts)] in ("metrics", "predictions", "plots")}
  # Another dataset of the same kind whose test split holds 40 of the model's
  # training sequences (10 of them reverse-complemented) and 60 it never saw.
  with open(REPO / "datasets/splice_statlog/splice_statlog_dna.csv", newline="") as handle:
    rows = list(csv.DictReader(handle))
  trained = {r["sequence"] for r in read_records(DatasetInfo.load(config.data.data_dir),
                                                 "train")}
  seen = [r for r in rows if r["sequence"] in trained][:40]
  unseen = [r for r in rows if r["statlog_split"] == "test"][:60]
  complement = str.maketrans("ACGT", "TGCA")
  for r in seen[:10]:
    r["sequence"] = r["sequence"].translate(complement)[::-1]
  table = tmp_path / "other.csv"
  with open(table, "w", newline="") as handle:
    writer = csv.DictWriter(handle, ["sequence", "label", "statlog_split"])
    writer.writeheader()
    writer.writerows([dict(r, statlog_split="test") for r in seen + unseen])
    writer.writerows([dict(r, statlog_split="train") for r in unseen[:30]])
  other = tmp_path / "other_set"
  build_dataset(config_from_flagfile(str(REPO / "datasets/splice_statlog/build.flags"),
                                     input=str(table), output_dir=str(other),
                                     dev_fraction=0, num_workers=1))
  # The expected counts, independently: StatLog repeats some sequences across its
  # splits, so a few "unseen" test rows are in train or dev too.
  canonical = lambda s: min(s, s.translate(complement)[::-1])  # noqa: E731
  info = DatasetInfo.load(config.data.data_dir)
  known = {part: {canonical(t["sequence"]) for t in read_records(info, part)}
           for part in ("train", "dev")}
  expected = {part: sum(canonical(r["sequence"]) in known[part] for r in seen + unseen)
              for part in ("train", "dev")}
  assert expected["train"] >= 40
  out = _run("gslm_keras.evaluate", f"--model={run}", f"--data_dir={other}")
  assert out.returncode == 0, out.stderr
  assert (f"warning: {expected['train']} of 100 sequences were in the model's train "
          "split") in out.stdout
  metrics = json.load(open(run / "evaluations/other_set/metrics/test.json"))
  overlap = metrics["overlap_with_training"]
  assert overlap["records"] == 100
  assert overlap["shared_with_train"] == expected["train"]
  assert overlap["shared_with_dev"] == expected["dev"]
  assert overlap["fraction_shared_with_train"] == pytest.approx(expected["train"] / 100)
  # How far the features moved from the training statistics: GC content, directly.
  gc = np.array([sum(b in "GC" for b in r["sequence"]) / len(r["sequence"])
                 for r in seen + unseen])
  norm = info.data["normalization"]
  index = info.feature_names.index("gc_content")
  moved = metrics["feature_shift"]["features"]["gc_content"]
  assert metrics["feature_shift"]["rows"] == 100
  assert moved["mean_shift_sd"] == pytest.approx(
      (gc.mean() - norm["mean"][index]) / norm["std"][index], rel=1e-4, abs=1e-6)
  assert (run / "evaluations/other_set/plots/test_confusion.png").exists()
  assert len(open(run / "evaluations/other_set/predictions/test.tsv").readlines()) == 101
  # The run's own results are untouched, byte for byte.
  assert own and all(p.read_bytes() == data for p, data in own.items())


def _kill_after(args, model_dir, backups):
  """Starts train, kills it with SIGKILL once `backups` segments are backed up;
  returns how many were backed up at the kill."""
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
  process = subprocess.Popen([sys.executable, "-m", "gslm_keras.train", *args,
                              f"--model_dir={model_dir}"], cwd=REPO, env=env,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
  deadline = time.time() + 240
  while time.time() < deadline and segments_backed_up(model_dir) < backups:
    time.sleep(0.02)
  process.send_signal(signal.SIGKILL)
  process.wait()
  assert not (model_dir / "model.keras").exists(), "the run finished before the kill"
  return segments_backed_up(model_dir)


@pytest.mark.slow
def test_killed_training_resumes_to_the_same_weights(splice_dir, tiny_run, tmp_path):
  # A fine-tuning run (trunk, feature branch and head from a trained model; trunk
  # frozen for 12 steps, then at half the rate; auxiliary heads) killed with SIGKILL before the
  # boundary, resumed, killed again after it and resumed once more, ends with the
  # same steps, history and weights (bit for bit) as a run never interrupted.
  args = TINY + [f"--data_dir={splice_dir}", "--epochs=4", "--checkpoint_every=5",
                 "--seed=3", "--deterministic", "--evaluate_splits=test",
                 f"--init_from={tiny_run[0].model_dir}", "--freeze_trunk_steps=12",
                 "--trunk_learning_rate_multiplier=0.5", "--aux_weight=0.5"]
  whole = _run("gslm_keras.train", *args, f"--model_dir={tmp_path / 'whole'}")
  assert whole.returncode == 0, whole.stderr
  killed_dir = tmp_path / "killed"
  assert _kill_after(args, killed_dir, 1) * 5 < 12  # Before the boundary.
  assert _kill_after(args, killed_dir, 4) * 5 > 12  # After it.
  resumed = _run("gslm_keras.train", *args, f"--model_dir={killed_dir}")
  assert resumed.returncode == 0, resumed.stderr
  assert "Trained 120 steps (resumed)" in resumed.stdout
  assert "Trained 120 steps." in whole.stdout
  assert _fingerprint(resumed.stdout) == _fingerprint(whole.stdout)
  history = json.load(open(killed_dir / "history.json"))
  assert [h["step"] for h in history] == list(range(5, 121, 5))
  whole_history = json.load(open(tmp_path / "whole" / "history.json"))
  assert [h["loss"] for h in history] == [h["loss"] for h in whole_history]
  a = json.load(open(tmp_path / "whole" / "metrics" / "test.json"))
  b = json.load(open(killed_dir / "metrics" / "test.json"))
  assert a == b
  assert not (killed_dir / "checkpoints" / "backup").exists()
  # Same features and classes as the source: everything was copied, and said so.
  source = json.load(open(killed_dir / "config.json"))["resolved"]["init_from"]
  assert source["copied"] == ["backbone", "feature branch", "head"]
  card = (killed_dir / "MODEL_CARD.md").read_text()
  assert source["sha256"] in card and "frozen for the first 12 steps" in card


def test_deterministic_runs_are_identical(splice_dir, tmp_path):
  args = TINY + [f"--data_dir={splice_dir}", "--epochs=1", "--seed=7", "--deterministic",
                 "--reverse_complement", "--max_shift=2", "--evaluate_splits=test"]
  first = _run("gslm_keras.train", *args, f"--model_dir={tmp_path / 'a'}")
  second = _run("gslm_keras.train", *args, f"--model_dir={tmp_path / 'b'}")
  assert first.returncode == 0 and second.returncode == 0, first.stderr + second.stderr
  assert _fingerprint(first.stdout) == _fingerprint(second.stdout)
  a = json.load(open(tmp_path / "a" / "metrics" / "test.json"))
  b = json.load(open(tmp_path / "b" / "metrics" / "test.json"))
  assert {k: v for k, v in a.items() if k != "data_dir"} == {
      k: v for k, v in b.items() if k != "data_dir"}


def test_mirrored_over_two_logical_cpus(splice_dir, tmp_path):
  out = _run("gslm_keras.train", *TINY, f"--data_dir={splice_dir}",
             f"--model_dir={tmp_path / 'm'}", "--distribution_strategy=mirrored",
             "--logical_cpus=2", "--epochs=1", "--evaluate_splits=test",
             "--recalibrate_norms")
  assert out.returncode == 0, out.stderr[-3000:]
  assert "2 replica(s)" in out.stderr
  metrics = json.load(open(tmp_path / "m" / "metrics" / "test.json"))
  assert metrics["n"] == 1186 and np.isfinite(metrics["accuracy"])
  # (Synchronised batch norms: E[x^2] - E[x]^2 outside the strategy, a few 1e-4 off.)
  _assert_recalibrated(tmp_path / "m", splice_dir, rtol=5e-3)


def _start_workers(splice_dir, model_dir, init_from):
  import socket

  ports = []
  for _ in range(2):
    with socket.socket() as s:
      s.bind(("localhost", 0))
      ports.append(s.getsockname()[1])
  cluster = {"worker": [f"localhost:{p}" for p in ports]}
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
  processes = []
  for index in range(2):
    tf_config = json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}})
    processes.append(subprocess.Popen(
        [sys.executable, "-m", "gslm_keras.train", *TINY, f"--data_dir={splice_dir}",
         f"--model_dir={model_dir}", "--distribution_strategy=multi_worker",
         "--epochs=4", "--steps_per_epoch=10", "--checkpoint_every=5",
         "--early_stopping_patience=2", "--evaluate_splits=test",
         f"--init_from={init_from}", "--freeze_trunk_steps=5", "--aux_weight=0.5",
         "--recalibrate_norms"],
        cwd=REPO,
        env=dict(env, TF_CONFIG=tf_config), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True))
  return processes


def test_multi_worker_on_loopback_killed_and_resumed(splice_dir, tiny_run, tmp_path):
  # Two workers; worker 1 is killed with SIGKILL after the step-10 checkpoint (its
  # partner fails or is stopped), both are started again and resume. The run is
  # selected on dev like a single-machine run: the chief's decision, shared, so
  # both workers stop at the same step and end with the same (best) weights. The
  # workers start from a trained model (--init_from, trunk frozen for 5 steps) and
  # train with auxiliary heads; the model kept has one output.
  model_dir = tmp_path / "mw"
  source = tiny_run[0].model_dir
  processes = _start_workers(splice_dir, model_dir, source)
  deadline = time.time() + 240
  while time.time() < deadline and not (model_dir / "checkpoints" / "steps" /
                                        "ckpt-10.index").exists():
    time.sleep(0.05)
  processes[1].send_signal(signal.SIGKILL)
  try:
    processes[0].wait(timeout=60)
  except subprocess.TimeoutExpired:
    processes[0].kill()
  processes[1].wait()
  assert not (model_dir / "model.keras").exists(), "the run finished before the kill"
  outputs = []
  for process in _start_workers(splice_dir, model_dir, source):
    try:
      stdout, stderr = process.communicate(timeout=300)
    except subprocess.TimeoutExpired:
      process.kill()
      raise
    assert process.returncode == 0, stderr[-3000:]
    outputs.append(stdout)
  trained = [[line for line in out.splitlines()
              if line.startswith(("Trained", "Best dev"))] for out in outputs]
  assert "(resumed)" in trained[0][0]
  assert trained[0] == trained[1] and len(trained[0]) == 2, outputs
  assert _fingerprint(outputs[0]) == _fingerprint(outputs[1])
  history = json.load(open(model_dir / "history.json"))
  steps = int(trained[0][0].split()[1])
  assert [h["step"] for h in history] == list(range(5, steps + 1, 5))  # Nothing lost.
  devs = {h["step"]: h["dev"] for h in history if "dev" in h}
  assert set(devs) == set(range(10, steps + 1, 10))
  # TensorBoard logs where fit writes them: the loss per entry, dev per epoch.
  assert os.listdir(model_dir / "logs" / "train")
  assert os.listdir(model_dir / "logs" / "validation")
  best_step = int(trained[0][1].rsplit(" ", 1)[1])
  assert devs[best_step] == max(devs.values())  # val_accuracy: the highest is kept.
  assert ("stopped early" in trained[0][0]) == (steps < 40)
  import keras

  from gslm_keras.training.session import weights_fingerprint

  kept = keras.models.load_model(model_dir / "model.keras")
  assert weights_fingerprint(kept) == _fingerprint(outputs[0])
  assert kept.output.shape[-1] == 3 and "aux_sequence" not in [l.name for l in kept.layers]
  assert json.load(open(model_dir / "metrics" / "test.json"))["n"] == 1186
  assert not (model_dir / "workers" / "worker_1").exists()
  copied = json.load(open(model_dir / "config.json"))["resolved"]["init_from"]["copied"]
  assert copied == ["backbone", "feature branch", "head"]
  assert "frozen for the first 5 steps" in (model_dir / "MODEL_CARD.md").read_text()
  # The chief recalibrated the batch norms before each dev evaluation (and every
  # worker ended with the kept model's weights, the fingerprints above).
  _assert_recalibrated(model_dir, splice_dir)


def _assert_recalibrated(model_dir, data_dir, rtol=1e-4):
  """The kept model's batch-norm statistics are those of the training sample
  (--recalibrate_norms): measuring them again changes nothing."""
  import keras

  import gslm_keras.models.layers  # noqa: F401  Registers the layers to load.
  from gslm_keras.training import batch_norm

  kept = keras.models.load_model(pathlib.Path(model_dir) / "model.keras", compile=False)
  norms = batch_norm.batch_norms(kept)
  stored = [np.asarray(n.moving_variance).copy() for n in norms]
  batch_norm.recalibrate(kept, batch_norm.training_sample(
      str(data_dir), DatasetInfo.load(str(data_dir)), 0))
  for old, norm in zip(stored, norms):
    np.testing.assert_allclose(norm.moving_variance, old, rtol=rtol, atol=1e-5)


def test_mixed_bfloat16_trains_with_float32_outputs(splice_dir, tmp_path):
  config = TrainConfig.create(data_dir=splice_dir, model_dir=str(tmp_path / "bf16"),
                       model=with_head_of(preset("tiny"), "global").replace(
                           fusion_norm=True, recalibrate_norms=True), epochs=1,
                       steps_per_epoch=15,
                       mixed_precision="mixed_bfloat16", evaluate_splits=("dev",),
                       verbose=0)
  result = train(config)
  history = json.load(open(tmp_path / "bf16" / "history.json"))
  assert np.isfinite(history[-1]["loss"])
  import keras

  model = keras.models.load_model(tmp_path / "bf16" / "model.keras")
  assert model.get_layer("sequence_backbone").get_layer(
      "stem_conv_w5").compute_dtype == "bfloat16"
  assert model.output.dtype == "float32"
  assert np.isfinite(result.metrics["dev"]["accuracy"])
  _assert_recalibrated(tmp_path / "bf16", splice_dir, rtol=1e-2)


def test_tpu_path_on_cpu(splice_dir):
  from gslm_keras.training.session import build_for_dataset, train_datasets
  from gslm_keras.training.strategy import make_strategy

  with pytest.raises(ConfigError, match="no TPU reachable"):
    make_strategy("tpu", "")
  # What runs on a TPU is tested here as far as a CPU allows: static shapes
  # everywhere, the same model, bfloat16 compute.
  config = TrainConfig.create(data_dir=splice_dir, model_dir="unused", model=preset("tiny"),
                       distribution_strategy="tpu", batch_size=32)
  info = DatasetInfo.load(splice_dir)
  train_ds, dev_ds = train_datasets(config, info, 32, drop_remainder=True)
  for dataset in (train_ds, dev_ds):
    spec = dataset.element_spec
    assert spec[0]["sequence"].shape == (32, 60, 4)
    assert spec[0]["features"].shape == (32, info.n_features)
    assert spec[1].shape == (32,)
  model = build_for_dataset(config, info, "mixed_bfloat16")
  inputs, _ = next(iter(train_ds))
  assert model(inputs).shape == (32, 3)


def test_nan_loss_stops_training(tmp_path):
  seqs = read_column(PROM_DIR / "dev.csv", limit=200)
  table = write_table(tmp_path / "huge.csv", "sequence,value",
                      (f"{s},{(i % 7) * 1e30}" for i, s in enumerate(seqs)))
  info = build(tmp_path / "data", train=[table], task="regression",
               label_columns=("value",), computed_features=["gc_content"])
  config = TrainConfig.create(data_dir=info.directory, model_dir=str(tmp_path / "run"),
                       model=preset("tiny"), epochs=1, verbose=0)
  with pytest.raises(TrainingError, match=r"the loss became (nan|inf) at step 1 "):
    train(config)


def test_train_entry_point_bad_input(tmp_path, splice_dir):
  flagfile = tmp_path / "bad.flags"
  flagfile.write_text("--flagfile=models/tiny.flags\n--no_such_flag=1\n")
  out = _run("gslm_keras.train", f"--flagfile={flagfile}")
  assert out.returncode != 0 and "no_such_flag" in out.stderr
  assert "Traceback" not in out.stderr
  out = _run("gslm_keras.train", *TINY, f"--data_dir={splice_dir}")
  assert out.returncode == 1 and "error: --model_dir is required" in out.stderr
  out = _run("gslm_keras.train", *TINY, f"--data_dir={tmp_path}",
             f"--model_dir={tmp_path / 'm'}")
  assert out.returncode == 1
  assert f"error: {tmp_path} has no dataset_info.json" in out.stderr
  assert "Traceback" not in out.stderr
  empty = build(tmp_path / "nofeatures", train=[PROM_DIR / "dev.csv"])
  out = _run("gslm_keras.train", *TINY, f"--data_dir={empty.directory}",
             f"--model_dir={tmp_path / 'm2'}")
  assert out.returncode == 1
  assert "error: ablation='both' needs features, but the dataset has none" in out.stderr
  out = _run("gslm_keras.train", "--helpfull")
  for flag in ("--distribution_strategy", "--mixed_precision", "--[no]rc_average",
               "--checkpoint_every", "--class_weights", "--early_stopping_patience"):
    assert flag in out.stdout


def test_resume_refuses_another_configuration(splice_dir, tmp_path):
  config = TrainConfig.create(data_dir=splice_dir, model_dir=str(tmp_path / "r"),
                       model=preset("tiny"), epochs=1, verbose=0)
  os.makedirs(tmp_path / "r" / "checkpoints" / "backup")
  (tmp_path / "r" / "checkpoints" / "backup" / "training_metadata.json").write_text(
      '{"epoch": 0, "batch": 0}')
  (tmp_path / "r" / "config.json").write_text(json.dumps(
      config.replace(optim__learning_rate=0.5).to_json()))
  with pytest.raises(ConfigError, match="unfinished run with another configuration "
                                        r"\(differs in optim.learning_rate\)"):
    train(config)


def test_class_weights(splice_dir):
  from gslm_keras.training.recipe import class_weight_map

  info = DatasetInfo.load(splice_dir)
  counts = info.data["splits"]["train"]["class_counts"]
  weights = class_weight_map("balanced", info.task, info.classes, counts)
  total = sum(counts.values())
  assert weights == {i: pytest.approx(total / (3 * counts[c]))
                     for i, c in enumerate(info.classes)}
  assert class_weight_map("1,2,3", info.task, info.classes, counts) == {
      0: 1.0, 1: 2.0, 2: 3.0}
  with pytest.raises(ConfigError, match="has 2 values, the dataset has 3 classes"):
    class_weight_map("1,2", info.task, info.classes, counts)


def test_quickstart_flagfile(tmp_path):
  # The README's main job, shortened: builds the bundled dataset itself, trains,
  # evaluates on the StatLog test split.
  out = _run("gslm_keras.train", "--flagfile=models/quickstart.flags",
             f"--data_dir={tmp_path / 'data'}", f"--model_dir={tmp_path / 'model'}",
             "--epochs=4", "--verbose=0", timeout=600)
  assert out.returncode == 0, out.stderr[-3000:]
  metrics = json.load(open(tmp_path / "model" / "metrics" / "test.json"))
  assert metrics["n"] == 1186
  assert metrics["accuracy"] >= 0.90
  assert f"Model:        {tmp_path / 'model'}/model.keras" in out.stdout
  assert (tmp_path / "data" / "dataset_info.json").exists()


def test_a_collapse_is_seen_said_and_restarted(splice_dir, tmp_path, monkeypatch):
  import keras

  from gslm_keras.training import collapse

  # The diagnosis on real models: a trained one is alive; one whose fusion units
  # were all pushed below zero predicts a constant.
  config = TrainConfig.create(data_dir=splice_dir, model_dir=str(tmp_path / "a"),
                              model=preset("tiny"), epochs=1, steps_per_epoch=10,
                              evaluate_splits=(), verbose=0)
  train(config)
  model = keras.models.load_model(tmp_path / "a" / "model.keras")
  from gslm_keras import make_dataset

  batches = list(make_dataset(splice_dir, "dev", batch_size=128, limit=256))
  alive = collapse.diagnose(model, batches, "multiclass")
  assert not alive["collapsed"] and alive["dead_fusion_units"] < alive["fusion_units"]
  fusion = model.get_layer("task_head").get_layer("fusion_dense")
  kernel, bias = fusion.get_weights()
  fusion.set_weights([np.zeros_like(kernel), np.full_like(bias, -1.0)])
  dead = collapse.diagnose(model, batches, "multiclass")
  assert dead["collapsed"] and dead["dead_fusion_units"] == dead["fusion_units"] == 16
  assert dead["output_spread"] == 0.0 and dead["dev_at_chance"]
  # A gated fusion (tanh: no zero to stick at) trains under the guard; a unit of it
  # is dead when it never changes.
  train(config.replace(model_dir=str(tmp_path / "gated"),
                       model=preset("tiny").replace(fusion="gated")))
  gated = keras.models.load_model(tmp_path / "gated" / "model.keras")
  alive = collapse.diagnose(gated, batches, "multiclass")
  assert not alive["collapsed"] and alive["dead_fusion_units"] == 0
  head = gated.get_layer("task_head")
  for name in ("fusion_sequence", "fusion_features", "fusion_gate"):
    kernel, bias = head.get_layer(name).get_weights()
    head.get_layer(name).set_weights([np.zeros_like(kernel), bias])
  dead = collapse.diagnose(gated, batches, "multiclass")
  assert dead["collapsed"] and dead["dead_fusion_units"] == dead["fusion_units"] == 16
  # GELU: a unit positive on some examples is alive; one never positive is dead
  # (it stays in GELU's negative dip, 0.17 wide), even while its output still varies.
  train(config.replace(model_dir=str(tmp_path / "gelu"),
                       model=preset("tiny").replace(fusion_activation="gelu")))
  gelu = keras.models.load_model(tmp_path / "gelu" / "model.keras")
  fusion = gelu.get_layer("task_head").get_layer("fusion_dense")
  kernel, bias = fusion.get_weights()
  fusion.set_weights([kernel, np.full_like(bias, 0.0)])
  x = np.concatenate([np.asarray(collapse.fusion_probe(gelu)(inputs)[0])
                      for inputs, _ in batches])
  assert collapse.diagnose(gelu, batches, "multiclass")["dead_fusion_units"] == int(
      (x.max(axis=0) <= 0).sum()) < 16
  fusion.set_weights([kernel * 0.01, np.full_like(bias, -2.0)])  # Never positive.
  varying = np.concatenate([np.asarray(collapse.fusion_probe(gelu)(inputs)[0])
                            for inputs, _ in batches])
  assert (varying.max(axis=0) - varying.min(axis=0)).min() > 1e-6  # It still varies.
  assert collapse.diagnose(gelu, batches, "multiclass")["dead_fusion_units"] == 16
  # A collapse found after epoch 1 restarts the run from a new seed, recorded.
  real = collapse.diagnose
  calls = []

  def first_collapses(model, batches, task):
    calls.append(1)
    found = real(model, batches, task)
    return {**found, "collapsed": True, "dead_fusion_units": found["fusion_units"]} \
        if len(calls) == 1 else found

  monkeypatch.setattr(collapse, "diagnose", first_collapses)
  result = train(config.replace(model_dir=str(tmp_path / "b")))
  assert len(calls) == 2 and len(result.restarts) == 1
  assert result.restarts[0]["seed"] == 0 and "16 of 16 fusion units dead" in \
      result.restarts[0]["reason"]
  saved = Resolved.of(json.load(open(tmp_path / "b" / "config.json")))
  assert saved.seed == collapse.RESTART_SEED_STEP and len(saved.restarts) == 1
  assert saved.model["branch_norm"] is True  # The restart removes the cause.
  restarted = keras.models.load_model(tmp_path / "b" / "model.keras")
  assert "sequence_branch_norm" in [
      layer.name for layer in restarted.get_layer("task_head").layers]
  assert json.load(open(tmp_path / "b" / "restarts.json")) == result.restarts
  assert result.steps == 10


def test_chance_by_task():
  from gslm_keras.training.collapse import at_chance

  rng = np.random.default_rng(0)
  labels = rng.integers(0, 2, 400)
  assert at_chance("binary", labels, rng.uniform(size=(400, 1)))
  assert not at_chance("binary", labels, (labels + rng.normal(0, 0.5, 400))[:, None])
  classes = rng.integers(0, 3, 300)
  majority = np.eye(3)[np.zeros(300, int)]
  assert at_chance("multiclass", classes, majority)
  assert not at_chance("multiclass", classes, np.eye(3)[classes])
  values = rng.normal(size=(5000, 2))
  assert at_chance("regression", values, rng.normal(size=(5000, 2)))
  assert not at_chance("regression", values, values + rng.normal(0, 0.3, (5000, 2)))


def test_tune_searches_on_dev_and_resumes(splice_dir, tmp_path):
  import csv as csv_lib

  from gslm_keras.training.tune import tune

  config = TrainConfig.create(data_dir=splice_dir, model_dir=str(tmp_path / "tune"),
                              model=preset("tiny"), model_preset="tiny", epochs=1,
                              batch_size=64, verbose=0)
  first = tune(config, budget_minutes=10, max_trials=2, tuner="random")
  assert first["trials"] == 2 and first["monitor"] == "val_accuracy"
  # The same folder again: the two trials are kept, one more is run.
  again = tune(config, budget_minutes=10, max_trials=3, tuner="random")
  assert again["trials"] == 3
  with open(tmp_path / "tune" / "trials.tsv", newline="") as handle:
    rows = list(csv_lib.DictReader(handle, delimiter="\t"))
  scores = [float(r["dev_val_accuracy"]) for r in rows]
  assert len(rows) == 3 and scores == sorted(scores, reverse=True)
  assert again["best_score"] == pytest.approx(scores[0], abs=1e-5) and 0.3 < scores[0] <= 1
  flags_text = (tmp_path / "tune" / "best.flags").read_text()
  best = rows[0]
  assert f"--pooling={best['pooling']}" in flags_text
  assert f"--fusion_units={best['fusion_units']}" in flags_text
  # The inputs are searched too (the splice data has features), and kept.
  assert {r["ablation"] for r in rows} <= {"both", "sequence", "features"}
  assert f"--ablation={best['ablation']}" in flags_text
  assert f"--model_dir={tmp_path / 'tune' / 'best_run'}" in flags_text
  # A budget already spent starts no trial: nothing to choose from, one line.
  with pytest.raises(ConfigError, match="budget_minutes must be > 0"):
    tune(config, budget_minutes=0)


def test_tune_scores_each_trial_with_recalibrated_statistics(splice_dir, tmp_path,
                                                            monkeypatch):
  # With --recalibrate_norms a trial is scored on dev as `train` keeps a model:
  # with its batch norms' statistics measured again before each dev evaluation.
  from gslm_keras.training import batch_norm
  from gslm_keras.training.tune import tune

  calls = []
  real = batch_norm.recalibrate

  def counted(model, batches):
    calls.append(model.name)
    return real(model, batches)

  monkeypatch.setattr(batch_norm, "recalibrate", counted)
  config = TrainConfig.create(data_dir=splice_dir, model_dir=str(tmp_path / "tune"),
                              model=preset("tiny").replace(recalibrate_norms=True),
                              model_preset="tiny", epochs=2, steps_per_epoch=5,
                              batch_size=32, verbose=0)
  found = tune(config, budget_minutes=10, max_trials=1, tuner="random")
  assert found["trials"] == 1 and len(calls) == 2  # One per epoch's dev evaluation.
  assert "--recalibrate_norms" in (tmp_path / "tune" / "best.flags").read_text()


def test_tune_searches_the_inputs_only_where_both_branches_can_be_built():
  from gslm_keras.training.tune import INPUTS, SPACE, space

  both = TrainConfig.create(data_dir="d", model_dir="m", model=preset("tiny"))
  assert space(both, n_features=71) == (INPUTS, *SPACE)
  assert space(both, n_features=0) == SPACE  # No features: the sequence alone.
  chosen = both.replace(model=both.model.replace(ablation="sequence"))
  assert space(chosen, n_features=71) == SPACE  # The user's choice is kept.


@pytest.mark.parametrize("task, labels", [
    ("binary", np.array([0, 1, 0, 0, 1, 0, 0, 0] * 4, np.float32)[:, None]),
    ("multiclass", np.array([0, 1, 2, 0, 0, 2, 0, 1] * 4, np.int64)),
])
def test_multi_worker_step_weights_classes_as_fit_does(task, labels):
  # The multi-worker loop's step and Keras fit, from the same weights on the same
  # batch with the same class weights, end with the same weights.
  import keras
  import tensorflow as tf

  from gslm_keras.tasks.supervised import task_type
  from gslm_keras.training import multi_worker

  kind = task_type(task)
  width = kind.output_width(3)
  x = np.random.default_rng(0).normal(size=(len(labels), 5)).astype(np.float32)
  weights = {0: 0.5, 1: 2.5, 2: 1.5} if task == "multiclass" else {0: 0.5, 1: 2.5}

  def fresh():
    keras.utils.set_random_seed(1)
    model = keras.Sequential([keras.Input((5,)),
                              keras.layers.Dense(width, activation=kind.activation)])
    return model, keras.optimizers.SGD(0.5)

  fitted, optimizer = fresh()
  fitted.compile(optimizer, kind.loss())
  fitted.fit(x, labels, batch_size=len(x), epochs=1, class_weight=weights,
             shuffle=False, verbose=0)
  outcome = {}
  for name, class_weight in (("weighted", weights), ("unweighted", None)):
    stepped, optimizer = fresh()
    optimizer.build(stepped.trainable_variables)
    step = multi_worker._step_function(tf.distribute.get_strategy(), stepped, optimizer,
                                       kind.loss(reduction=None), len(x), class_weight)
    step(iter(tf.data.Dataset.from_tensors((x, labels))))
    outcome[name] = stepped.get_weights()
  for ours, keras_fit in zip(outcome["weighted"], fitted.get_weights()):
    np.testing.assert_allclose(ours, keras_fit, rtol=1e-5, atol=1e-6)
  assert not np.allclose(outcome["unweighted"][0], fitted.get_weights()[0], atol=1e-4)


def test_multi_worker_loop_restarts_a_collapse_as_fit_does(splice_dir, tmp_path,
                                                           monkeypatch):
  # The multi-worker loop's attempts, run here on the default strategy (its
  # collectives work with one replica): a collapse after epoch 1 restarts the run
  # from the next seed with branch_norm, recorded as fit records it.
  import keras
  import tensorflow as tf

  from gslm_keras.training import collapse, multi_worker, session

  config = TrainConfig.create(data_dir=splice_dir, model_dir=str(tmp_path / "mw"),
                              model=preset("tiny"), epochs=1, steps_per_epoch=6,
                              evaluate_splits=(), verbose=0)
  info = DatasetInfo.load(splice_dir)
  real, calls = collapse.diagnose, []

  def first_collapses(model, batches, task):
    calls.append(len(batches))
    found = real(model, batches, task)
    return {**found, "collapsed": True, "dead_fusion_units": found["fusion_units"]} \
        if len(calls) == 1 else found

  monkeypatch.setattr(collapse, "diagnose", first_collapses)
  with session.prepared(config, lambda r: r.step_checkpoints) as (run, resumed):
    result = multi_worker.attempts(config, info, tf.distribute.get_strategy(),
                                   "float32", run, resumed, None)
  assert len(calls) == 2  # Diagnosed after the first epoch of each attempt.
  assert [r["seed"] for r in result.restarts] == [0]
  assert "16 of 16 fusion units dead" in result.restarts[0]["reason"]
  assert json.load(open(tmp_path / "mw" / "restarts.json")) == result.restarts
  saved = Resolved.of(json.load(open(tmp_path / "mw" / "config.json")))
  assert saved.seed == collapse.RESTART_SEED_STEP and saved.model["branch_norm"] is True
  assert result.steps == 6  # The restarted attempt ran its whole epoch.
  kept = keras.models.load_model(tmp_path / "mw" / "model.keras")
  assert "sequence_branch_norm" in [l.name for l in kept.get_layer("task_head").layers]
  history = json.load(open(tmp_path / "mw" / "history.json"))
  assert [h["step"] for h in history] == [6]  # Nothing of the collapsed attempt.


def test_a_worker_that_is_not_the_chief_records_the_verdict_not_made_up_numbers():
  from gslm_keras.training import collapse
  from gslm_keras.training.multi_worker import non_chief_diagnosis

  restarts = []
  collapse.record_restart(restarts, 0, non_chief_diagnosis(12))
  assert restarts[0]["collapsed"] and restarts[0]["step"] == 12
  assert restarts[0]["dead_fusion_units"] is None and restarts[0]["fusion_units"] is None
  assert "chief" in restarts[0]["reason"] and "-1" not in restarts[0]["reason"]
  told = collapse.restart_reason({"dead_fusion_units": 3, "fusion_units": 16,
                                  "output_spread": 1.0, "dev_at_chance": True})
  assert told == "3 of 16 fusion units dead, dev metric at chance"
