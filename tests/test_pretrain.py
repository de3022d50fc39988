"""Pretraining end to end as a user runs it: the corpus of the bundled genomes, the
tiny language model, its run directory and metrics (checked against a direct
computation), exact resume after a kill, bits per base on a FASTA file,
zero-shot llr scores and LLR maps (checked against the model called directly),
the export read without the package, and one-line refusals of the wrong model
or data."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from commands import run_command
from conftest import GENOMES, REPO
from helpers import segments_backed_up

from gslm_keras.errors import DatasetError
from gslm_keras.run_dir import Resolved

PLASMID = GENOMES / "NC_005816.fna"
TINY = ["--flagfile=models/pretrain_tiny.flags", "--epochs=2", "--yardstick_windows=4000"]


def _run(module, *args, timeout=600):
  return run_command(module, *args, env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"),
                     timeout=timeout)


def _error_lines(result):
  return [line for line in result.stderr.splitlines() if line.startswith("error")]


@pytest.fixture(scope="session")
def corpus_dir(tmp_path_factory):
  out = tmp_path_factory.mktemp("corpus") / "genomes"
  result = _run("gslm_keras.build_dataset", "--flagfile=datasets/genomes/lm_corpus.flags",
                f"--output_dir={out}", "--num_workers=1")
  assert result.returncode == 0, result.stderr[-2000:]
  return out


@pytest.fixture(scope="session")
def lm_run(corpus_dir, tmp_path_factory):
  model_dir = tmp_path_factory.mktemp("lm") / "tiny"
  result = _run("gslm_keras.pretrain", *TINY, f"--data_dir={corpus_dir}",
                f"--model_dir={model_dir}", "--seed=1")
  assert result.returncode == 0, result.stderr[-3000:]
  assert "Pretrained" in result.stdout
  assert "oneDNN" not in result.stderr and "E0000" not in result.stderr, result.stderr
  return model_dir


def _plasmid() -> str:
  from gslm_keras.data.readers import read_fasta

  return next(read_fasta(str(PLASMID))).sequence.upper()


def test_load_gives_the_object_of_the_models_task(lm_run):
  import gslm_keras as gk
  from gslm_keras.inference.language import LanguageModel
  from gslm_keras.inference.manifest import objective_of

  lm = gk.load(str(lm_run))
  assert isinstance(lm, LanguageModel) and lm.task.objective == "masked_nucleotide"
  assert objective_of(str(lm_run)) == "masked_nucleotide" and gk.load(lm) is lm


def test_run_directory_and_model_card(lm_run):
  config = json.load(open(lm_run / "config.json"))
  assert Resolved.of(config).objective == "masked_nucleotide"
  with pytest.raises(DatasetError, match="unknown field.*'surprise'.*newer gslm_keras"):
    Resolved.of({"resolved": {**config["resolved"], "surprise": 1}})
  assert config["lm"]["mask_rate"] == 0.15 and config["model"]["stem_pool"] == 2
  flagfile = (lm_run / "train.flags").read_text()
  assert "python -m gslm_keras.pretrain --flagfile=" in flagfile
  assert "--mask_rate=0.15" in flagfile and "--repeat_weight=0.1" in flagfile
  history = json.load(open(lm_run / "history.json"))
  assert len(history) >= 2 and all(np.isfinite(h["loss"]) for h in history)
  assert os.listdir(lm_run / "logs")
  card = (lm_run / "MODEL_CARD.md").read_text()
  assert "a_thaliana_chloroplast" in card and "| test | all |" in card
  # The flagfile re-runs the same configuration.
  again = lm_run.parent / "again"
  rerun = _run("gslm_keras.pretrain", f"--flagfile={lm_run / 'train.flags'}",
               f"--model_dir={again}")
  assert rerun.returncode == 0, rerun.stderr[-2000:]
  second = json.load(open(again / "config.json"))
  assert {k: v for k, v in second.items() if k != "model_dir"} == {
      k: v for k, v in config.items() if k != "model_dir"}


def test_metrics_equal_a_direct_computation(lm_run, corpus_dir):
  import keras

  import gslm_keras.models.language  # noqa: F401
  from gslm_keras.evaluation.language import corpus_batches

  report = json.load(open(lm_run / "metrics" / "test.json"))
  model = keras.models.load_model(lm_run / "model.keras")
  nll, hits, n, per_source = 0.0, 0, 0, {}
  for batch in corpus_batches(str(corpus_dir), "test", seed=1234):
    probabilities = model.predict(batch.one_hot, verbose=0)
    rows, cols = np.nonzero(batch.targets >= 0)
    # Evaluation masks every chosen position to N: the input there is all zeros.
    assert not batch.one_hot[rows, cols].any()
    p = probabilities[rows, cols, batch.targets[rows, cols]]
    nll -= np.log2(p).sum()
    hits += (probabilities[rows, cols].argmax(-1) == batch.targets[rows, cols]).sum()
    n += len(rows)
    for source in set(batch.sources[rows]):
      keep = batch.sources[rows] == source
      per_source[source] = per_source.get(source, 0) + int(keep.sum())
  assert report["positions"] == n
  assert report["bits_per_base"] == pytest.approx(nll / n, rel=1e-5)
  assert report["accuracy"] == pytest.approx(hits / n, rel=1e-6)
  assert {s: e["positions"] for s, e in report["by_source"].items()} == per_source
  # About 15% of the test bases are masked.
  corpus = json.load(open(corpus_dir / "dataset_info.json"))
  bases = corpus["splits"]["test"]["num_records"] * 128
  assert 0.13 < n / bases < 0.17
  # Even two epochs of the tiny model beat the base frequencies.
  assert report["bits_per_base"] < report["yardsticks"]["frequencies"]["bits_per_base"]
  assert report["kmer_k"] in (1, 2, 3, 4)


def test_evaluate_a_fasta_file(lm_run, tmp_path):
  out = tmp_path / "plasmid.json"
  result = _run("gslm_keras.evaluate", f"--model={lm_run}", f"--input={PLASMID}",
                f"--output={out}", "--source=plasmid")
  assert result.returncode == 0, result.stderr[-2000:]
  report = json.load(open(out))
  # 9,609 bases in 75 windows of 128 (the last partial window is not read).
  assert 0.13 * 75 * 128 < report["positions"] < 0.17 * 75 * 128
  assert set(report["by_source"]) == {"plasmid"}
  assert {"frequencies", "kmer"} <= set(report["yardsticks"])
  assert "bits per base" in result.stdout
  # The same seed masks the same positions: the same numbers.
  again = _run("gslm_keras.evaluate", f"--model={lm_run}", f"--input={PLASMID}",
               f"--output={tmp_path / 'again.json'}", "--source=plasmid")
  assert json.load(open(tmp_path / "again.json"))["bits_per_base"] == report[
      "bits_per_base"], again.stderr


def _direct_llr(model, window: str, position: int, ref: str, alt: str
                ) -> tuple[float, float]:
  """log P(alt) - log P(ref), position masked, on the forward and on the reverse
  strand (their mean is the llr); numpy only."""
  bases = "ACGT"

  def logp(sequence, where):
    x = np.zeros((1, len(sequence), 4), np.float32)
    for i, letter in enumerate(sequence):
      if letter in bases and i != where:
        x[0, i, bases.index(letter)] = 1.0
    return np.log(model.predict(x, verbose=0)[0, where])

  forward = logp(window, position)
  complement = {"A": "T", "C": "G", "G": "C", "T": "A", "N": "N"}
  reverse = "".join(complement[c] for c in reversed(window))
  backward = logp(reverse, len(window) - 1 - position)
  f = forward[bases.index(alt)] - forward[bases.index(ref)]
  b = backward[3 - bases.index(alt)] - backward[3 - bases.index(ref)]
  return f, b


def test_zero_shot_llr_equals_the_model_called_directly(lm_run, tmp_path):
  import keras

  import gslm_keras.models.language  # noqa: F401

  sequence = _plasmid()
  rng = np.random.default_rng(0)
  rows, expected_windows = [], []
  for i, pos in enumerate(rng.integers(300, 9000, 6)):
    ref = sequence[pos]
    alt = "ACGT"[("ACGT".index(ref) + 1 + i % 3) % 4]
    rows.append(f"v{i}\t{sequence[pos - 150:pos + 150]}\t150\t{ref}\t{alt}")
    # Windows of the corpus length (128) centred on the variant: 64 bases before it.
    expected_windows.append((sequence[pos - 64:pos + 64], 64, ref, alt))
  rows.append(f"indel\t{sequence[1000:1300]}\t150\t{sequence[1150]}\t{sequence[1150]}AA")
  table = tmp_path / "variants.tsv"
  table.write_text("id\tsequence\tposition\tref\talt\n" + "\n".join(rows) + "\n")
  out = tmp_path / "llr.tsv"
  result = _run("gslm_keras.score_variants", f"--model={lm_run}", f"--variants={table}",
                f"--output={out}", "--on_error=skip")
  assert result.returncode == 0, result.stderr[-2000:]
  import pandas as pd

  scores = pd.read_csv(out, sep="\t", comment="#")
  model = keras.models.load_model(lm_run / "model.keras")
  direct = np.array([_direct_llr(model, *w) for w in expected_windows])
  np.testing.assert_allclose(scores["llr"], direct.mean(axis=1), atol=2e-5)
  np.testing.assert_allclose(scores["llr_forward"], direct[:, 0], atol=2e-5)
  np.testing.assert_allclose(scores["llr_reverse"], direct[:, 1], atol=2e-5)
  np.testing.assert_allclose(scores["llr"], scores["log_p_alt"] - scores["log_p_ref"],
                             atol=2e-5)  # The TSV keeps 6 significant digits.
  # Embedding distances (TraitGym's): the backbone's mean embedding of the ref and
  # alt windows, each averaged with its reverse complement's, computed here.
  from gslm_keras.models.backbone import find_backbone
  from oracles import one_hot_batch, reverse_complement

  backbone = find_backbone(model)

  def embedding(window):
    return np.mean([np.asarray(backbone(one_hot_batch([w]))).mean(axis=1)[0]
                    for w in (window, reverse_complement(window))], axis=0)

  for row, (window, at, _, alt) in zip(scores.itertuples(), expected_windows):
    ref_e = embedding(window).astype(np.float64)
    alt_e = embedding(window[:at] + alt + window[at + 1:]).astype(np.float64)
    cosine = 1 - ref_e @ alt_e / (np.linalg.norm(ref_e) * np.linalg.norm(alt_e))
    assert row.embedding_l2 == pytest.approx(np.linalg.norm(alt_e - ref_e), rel=1e-4,
                                             abs=1e-6)
    assert row.embedding_cosine == pytest.approx(cosine, rel=1e-3, abs=1e-7)
  assert (scores["embedding_l2"] > 0).all()
  rejects = (tmp_path / "llr.tsv.rejects.tsv").read_text()
  assert "indel" not in rejects or "single-base substitution" in rejects
  assert "not a single-base substitution" in rejects
  # The LLR map of interpret ism holds the same numbers at those positions.
  window, position, ref, alt = expected_windows[0]
  ism = _run("gslm_keras.interpret", "ism", f"--model={lm_run}", f"--sequence={window}",
             f"--output_dir={tmp_path / 'ism'}")
  assert ism.returncode == 0, ism.stderr[-2000:]
  table = pd.read_csv(tmp_path / "ism" / "ism_sequence.tsv", sep="\t")
  row = table[(table.position == position) & (table.alt == alt)]
  assert float(row.llr.iloc[0]) == pytest.approx(direct[0].mean(), abs=2e-5)
  assert len(table) == 3 * len(window)


def test_llr_from_a_vcf(lm_run, tmp_path):
  sequence = _plasmid()
  reference = tmp_path / "plasmid.fa"
  reference.write_text(f">NC_005816.1\n{sequence}\n")
  vcf = tmp_path / "v.vcf"
  vcf.write_text("##fileformat=VCFv4.2\n##contig=<ID=NC_005816.1,length=9609>\n"
                 "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"
                 f"NC_005816.1\t501\ta\t{sequence[500]}\tA,C\t.\t.\t.\n"
                 f"NC_005816.1\t20\tb\t{sequence[19]}\tG\t.\t.\t.\n")
  out = tmp_path / "llr.vcf"
  result = _run("gslm_keras.score_variants", f"--model={lm_run}", f"--vcf={vcf}",
                f"--reference={reference}", f"--output={out},{tmp_path / 'llr.tsv'}",
                "--on_error=skip")
  assert result.returncode == 0, result.stderr[-2000:]
  text = out.read_text()
  assert "##INFO=<ID=GSLM_LLR" in text and "zero-shot" in text
  import pandas as pd

  scores = pd.read_csv(tmp_path / "llr.tsv", sep="\t", comment="#")
  same = scores[scores.alt == sequence[500]]
  assert (same.llr.abs() < 1e-9).all()  # ALT = REF scores 0.
  assert bool(scores[scores.id == "b"].padded.iloc[0])  # Position 20: window padded.


_CHILD = r"""
import json, sys
import numpy as np
import tensorflow as tf
loaded = tf.saved_model.load(sys.argv[1])
data = np.load(sys.argv[2])
out = loaded.signatures["serving_default"](sequence=tf.constant(list(data["sequences"])))
onehot = loaded.signatures["base_probabilities_onehot"](
    sequence=tf.constant(data["one_hot"]))
empty = loaded.signatures["serving_default"](sequence=tf.constant([], tf.string))
try:
  loaded.signatures["serving_default"](sequence=tf.constant(["ACGT", ""]))
  refused = ""
except tf.errors.InvalidArgumentError as error:
  refused = str(error)
np.savez(sys.argv[3], default=out["probabilities"].numpy(), length=out["length"].numpy(),
         onehot=onehot["probabilities"].numpy(),
         empty=np.array(empty["probabilities"].shape),
         refused=np.array("holds an empty string" in refused and "row (0-based)] [1]"
                          in refused))
print(json.dumps(sorted(m for m in sys.modules if m.startswith("gslm"))))
"""


def test_export_serves_base_probabilities_without_the_package(lm_run, tmp_path):
  import keras

  import gslm_keras.models.language  # noqa: F401
  from oracles import one_hot_batch

  result = _run("gslm_keras.export", f"--model={lm_run}",
                f"--export_base={tmp_path}", "--model_name=lm")
  assert result.returncode == 0, result.stderr[-2000:]
  sequence = _plasmid()
  queries = [sequence[100:228], sequence[3000:3050].lower(), sequence[5000:5128]]
  padded = [q.upper() + "N" * (128 - len(q)) for q in queries]
  one_hot = one_hot_batch(padded)
  np.savez(tmp_path / "in.npz", sequences=np.array(queries), one_hot=one_hot)
  child = subprocess.run([sys.executable, "-c", _CHILD, str(tmp_path / "lm" / "1"),
                          str(tmp_path / "in.npz"), str(tmp_path / "out.npz")],
                         capture_output=True, text=True, cwd=tmp_path, timeout=300,
                         env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"))
  assert child.returncode == 0, child.stderr[-3000:]
  assert json.loads(child.stdout.strip().splitlines()[-1]) == []
  out = np.load(tmp_path / "out.npz")
  expected = keras.models.load_model(lm_run / "model.keras").predict(one_hot, verbose=0)
  assert out["length"].tolist() == [128, 50, 128]
  np.testing.assert_allclose(out["default"], expected, atol=1e-5)
  np.testing.assert_allclose(out["onehot"], expected, atol=1e-5)
  np.testing.assert_allclose(out["default"].sum(-1), 1.0, atol=1e-5)
  # An empty batch gets empty outputs; an empty string is refused naming its row.
  assert out["empty"].tolist() == [0, 0, 4] and bool(out["refused"])


def test_wrong_kind_of_model_or_data_is_one_line(lm_run, corpus_dir, tmp_path):
  cases = [
      ("gslm_keras.predict", [f"--model={lm_run}", f"--input={PLASMID}",
                              f"--output={tmp_path / 'p.tsv'}"], "not a classifier"),
      ("gslm_keras.train", ["--flagfile=models/tiny.flags", f"--data_dir={corpus_dir}",
                            f"--model_dir={tmp_path / 'c'}"], "language-model corpus"),
      ("gslm_keras.pretrain", ["--flagfile=models/pretrain_tiny.flags",
                               "--data_dir=" + str(REPO / "tests" / "data" /
                                                   "dataset_v0_1_0"),
                               f"--model_dir={tmp_path / 'd'}"], "not a language-model corpus"),
  ]
  for module, args, expected in cases:
    result = _run(module, *args)
    lines = _error_lines(result)
    assert result.returncode == 1 and len(lines) == 1, (module, result.stderr[-2000:])
    assert expected in lines[0] and "Traceback" not in result.stderr
  assert not (tmp_path / "p.tsv").exists() and not (tmp_path / "c" / "model.keras").exists()


@pytest.mark.slow
def test_killed_pretraining_resumes_to_the_same_weights(corpus_dir, tmp_path):
  args = TINY + [f"--data_dir={corpus_dir}", "--checkpoint_every=8", "--seed=2",
                 "--deterministic", "--evaluate_splits=test", "--epochs=1"]
  whole = _run("gslm_keras.pretrain", *args, f"--model_dir={tmp_path / 'whole'}")
  assert whole.returncode == 0, whole.stderr[-2000:]
  killed = tmp_path / "killed"
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
  process = subprocess.Popen([sys.executable, "-m", "gslm_keras.pretrain", *args,
                              f"--model_dir={killed}"], cwd=REPO, env=env,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
  deadline = time.time() + 300
  while time.time() < deadline and segments_backed_up(killed) < 4:
    time.sleep(0.02)
  process.send_signal(signal.SIGKILL)
  process.wait()
  assert not (killed / "model.keras").exists(), "the run finished before the kill"
  resumed = _run("gslm_keras.pretrain", *args, f"--model_dir={killed}")
  assert resumed.returncode == 0, resumed.stderr[-2000:]
  assert "(resumed)" in resumed.stdout
  fingerprint = [line for line in whole.stdout.splitlines() if "fingerprint" in line]
  assert fingerprint and fingerprint[0] in resumed.stdout
  assert json.load(open(killed / "metrics" / "test.json")) == json.load(
      open(tmp_path / "whole" / "metrics" / "test.json"))


def test_init_from_copies_the_backbone_by_name(lm_run, tmp_path):
  import keras

  import gslm_keras.models.language  # noqa: F401
  from gslm_keras.models import build_model, find_backbone, preset
  from gslm_keras.training.init_from import load_backbone

  model = build_model(preset("tiny"), length=60, n_features=2, task="multiclass",
                      n_outputs=3)
  assert load_backbone(model, str(lm_run)) == ["backbone"]
  # The features-only ablation has no backbone: it starts as from scratch, said in
  # the log, instead of ending the run (a benchmark's ablation arm did).
  import dataclasses

  features_only = build_model(dataclasses.replace(preset("tiny"), ablation="features"),
                              length=60, n_features=2, task="multiclass", n_outputs=3)
  before = [w.copy() for w in features_only.get_weights()]
  assert load_backbone(features_only, str(lm_run)) == []
  assert all(np.array_equal(a, b) for a, b in zip(before, features_only.get_weights()))
  source = find_backbone(keras.models.load_model(lm_run / "model.keras"))
  for layer in find_backbone(model).layers:
    for mine, theirs in zip(layer.get_weights(), source.get_layer(layer.name).get_weights()):
      np.testing.assert_array_equal(mine, theirs)
  # Another architecture: one line naming the layer.
  result = _run("gslm_keras.train", "--flagfile=models/tiny.flags", "--stem_filters=12",
                "--data_dir=" + str(REPO / "tests" / "data" / "dataset_v0_1_0"),
                f"--model_dir={tmp_path / 'm'}", f"--init_from={lm_run}")
  lines = _error_lines(result)
  assert result.returncode == 1 and len(lines) == 1, result.stderr[-2000:]
  assert "stem_conv_w5" in lines[0] and "(5, 4, 12)" in lines[0] and "(5, 4, 8)" in lines[0]


def test_a_run_recorded_before_a_new_field_still_resumes(tmp_path):
  from gslm_keras.errors import ConfigError
  from gslm_keras.run_dir import RunDir
  from gslm_keras.training import session
  from gslm_keras.training.config import TrainConfig

  config = TrainConfig.create(data_dir="data", model_dir=str(tmp_path))
  recorded = config.to_json()
  del recorded["optim"]["init_from"]  # Written by a version without --init_from.
  (tmp_path / "config.json").write_text(json.dumps(recorded))
  session._check_resumable(config, RunDir(str(tmp_path)))
  with pytest.raises(ConfigError, match=r"differs in optim.init_from\)"):
    session._check_resumable(config.replace(optim__init_from="other"),
                             RunDir(str(tmp_path)))


def test_the_shipped_preset_is_listed_and_accepted_by_name(tmp_path):
  result = _run("gslm_keras.pretrain", "--list_presets")
  assert result.returncode == 0, result.stderr[-2000:]
  lines = result.stdout.strip().splitlines()
  name, path, description = lines[0].split("\t")
  assert name == "gslm-lm-multispecies" and os.path.isdir(path) and description
  card = open(os.path.join(path, "MODEL_CARD.md")).read()
  assert "Sources and their terms" in card and "benchmarks.lm_preset" in card
  # Its test metrics, shipped with it, beat the k-mer yardstick on every source.
  report = json.load(open(os.path.join(path, "metrics", "test.json")))
  assert report["margin_over_kmer_bits"] > 0.03
  assert all(e["margin_over_kmer_bits"] > 0 for e in report["by_source"].values())
  # A preset name goes where a model directory does.
  out = tmp_path / "plasmid.json"
  evaluated = _run("gslm_keras.evaluate", f"--model={name}", f"--input={PLASMID}",
                   f"--output={out}")
  assert evaluated.returncode == 0, evaluated.stderr[-2000:]
  plasmid = json.load(open(out))
  assert plasmid["bits_per_base"] < plasmid["yardsticks"]["frequencies"]["bits_per_base"]
  refused = _run("gslm_keras.evaluate", f"--model={name}", "--split=test")
  assert refused.returncode == 1 and "shipped preset" in _error_lines(refused)[0]
  unknown = _run("gslm_keras.evaluate", "--model=no-such-preset", f"--input={PLASMID}",
                 f"--output={tmp_path / 'x.json'}")
  assert unknown.returncode == 1 and "neither a model directory nor a preset" in (
      _error_lines(unknown)[0])


def test_log_probabilities_have_no_floor(lm_run, tmp_path):
  # log P comes from the head's logits: a base made 60 nats less likely reads so,
  # where log(clip(p, 1e-12)) stopped at -27.6.
  import shutil

  import keras

  from gslm_keras.inference.language import LanguageModel
  from gslm_keras.models.language import LM_HEAD

  copy = tmp_path / "shifted"
  shutil.copytree(lm_run, copy)
  window = _plasmid()[:200]
  positions = [10, 77, 150]
  before = LanguageModel(str(copy)).masked_log_probabilities([window] * 3, positions)
  model = keras.models.load_model(copy / "model.keras")
  head = model.get_layer(LM_HEAD)
  shift = np.array([0.0, -60.0, 0.0, 0.0], np.float32)  # Base C.
  head.bias.assign(np.asarray(head.bias) + shift)
  model.save(copy / "model.keras")
  after = LanguageModel(str(copy)).masked_log_probabilities([window] * 3, positions)
  shifted = before + shift
  expected = shifted - np.logaddexp.reduce(shifted, axis=1, keepdims=True)
  np.testing.assert_allclose(after, expected, atol=1e-3)
  assert np.all(after[:, 1] < -50)


def test_embed_pools_the_backbone_on_both_strands(lm_run, tmp_path):
  # One embedding per sequence: the backbone's output averaged over positions, for
  # the window and its reverse complement, computed here independently with the
  # Keras model's own backbone on numpy one-hot.
  import keras
  import pandas as pd

  import gslm_keras as gk
  from gslm_keras.models.backbone import find_backbone
  from oracles import one_hot_batch, reverse_complement

  embedder = gk.Embedder(str(lm_run))
  rng = np.random.default_rng(3)
  length = embedder.length
  sequences = ["".join(rng.choice(list("ACGT"), length)) for _ in range(5)]
  got = embedder(sequences)
  backbone = find_backbone(keras.models.load_model(lm_run / "model.keras"))
  reverse = [reverse_complement(s) for s in sequences]
  expected = (np.asarray(backbone(one_hot_batch(sequences))).mean(axis=1)
              + np.asarray(backbone(one_hot_batch(reverse))).mean(axis=1)) / 2
  np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)
  np.testing.assert_allclose(embedder(reverse), got, rtol=1e-5, atol=1e-6)
  forward = embedder(sequences, both_strands=False)
  assert not np.allclose(forward, got, atol=1e-4)
  # The command: NPZ and Parquet hold the same numbers, ids in input order.
  fasta = tmp_path / "in.fa"
  fasta.write_text("".join(f">s{i}\n{s}\n" for i, s in enumerate(sequences)))
  for name in ("e.npz", "e.parquet"):
    out = _run("gslm_keras.embed", f"--model={lm_run}", f"--input={fasta}",
               f"--output={tmp_path / name}")
    assert out.returncode == 0, out.stderr[-2000:]
    assert f"5 embeddings of {embedder.width} numbers" in out.stdout
  saved = np.load(tmp_path / "e.npz")
  assert list(saved["ids"]) == [f"s{i}" for i in range(5)]
  np.testing.assert_allclose(saved["embeddings"], got, rtol=1e-5, atol=1e-6)
  table = pd.read_parquet(tmp_path / "e.parquet")
  np.testing.assert_allclose(table[[f"emb_{i}" for i in range(embedder.width)]], got,
                             rtol=1e-5, atol=1e-6)
  assert set(table["length_adjustment"]) == {"none"}
  # Bad inputs (an output it cannot write, an export): tests/test_faults.py.


def test_all_snvs_of_regions_to_a_tabix_indexed_file(lm_run, tmp_path):
  # Every substitution of the BED regions (two overlapping ones, merged), sorted,
  # bgzip-compressed and tabix-indexed; each llr the same as for that variant
  # scored from a table whose context is the whole contig.
  import pandas as pd
  import pysam

  genome = GENOMES / "NC_005816.fna"
  contig = open(genome).readline()[1:].split()[0]
  sequence = _plasmid()
  bed = tmp_path / "regions.bed"
  bed.write_text(f"{contig}\t520\t540\n{contig}\t500\t530\n")
  out = tmp_path / "scores.bgz"
  result = _run("gslm_keras.score_variants", f"--model={lm_run}", "--all_snvs",
                f"--regions={bed}", f"--reference={genome}", f"--output={out}")
  assert result.returncode == 0, result.stderr[-2000:]
  tabix = pysam.TabixFile(str(out))
  rows = [line.split("\t") for line in tabix.fetch(contig, 499, 540)]
  header = tabix.header[-1].lstrip("#").split("\t")
  assert header[:4] == ["chrom", "pos", "ref", "alt"] and "llr" in header
  table = pd.DataFrame(rows, columns=header)
  bases = sequence[500:540]
  assert len(table) == 3 * sum(b in "ACGT" for b in bases)
  assert list(table["pos"].astype(int)) == sorted(table["pos"].astype(int))
  assert all(table["ref"] == [bases[int(p) - 501] for p in table["pos"]])
  assert [r.split("\t")[1] for r in tabix.fetch(contig, 509, 510)] == ["510"] * 3
  some = table.iloc[[0, 17, 50]]
  variants = tmp_path / "v.tsv"
  variants.write_text("id\tsequence\tposition\tref\talt\n" + "".join(
      f"{r.chrom}:{r.pos}\t{sequence}\t{int(r.pos) - 1}\t{r.ref}\t{r.alt}\n"
      for r in some.itertuples()))
  again = _run("gslm_keras.score_variants", f"--model={lm_run}", f"--variants={variants}",
               f"--output={tmp_path / 'v_scores.tsv'}")
  assert again.returncode == 0, again.stderr[-2000:]
  direct = pd.read_csv(tmp_path / "v_scores.tsv", sep="\t", comment="#")
  np.testing.assert_allclose(some["llr"].astype(float), direct["llr"], atol=2e-5)
  # A region on a contig the reference does not have: one line, nothing written.
  bed.write_text("chrZ\t0\t10\n")
  bad = _run("gslm_keras.score_variants", f"--model={lm_run}", "--all_snvs",
             f"--regions={bed}", f"--reference={genome}",
             f"--output={tmp_path / 'bad.bgz'}")
  assert bad.returncode == 1 and "Traceback" not in bad.stderr
  line = bad.stderr.strip().splitlines()[-1]
  assert line.startswith(f"error: {bed}, line 1: contig 'chrZ' is not in the reference")
  assert not (tmp_path / "bad.bgz").exists() and not (tmp_path / "bad.bgz.tbi").exists()
