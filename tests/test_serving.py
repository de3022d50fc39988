"""SavedModel export for TF Serving, checked without the package, and batch prediction."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from gslm_keras.errors import ConfigError, InputError
from gslm_keras.inference.batch import predict_file
from gslm_keras.models import preset
from gslm_keras.serving import requests as serving_requests
from gslm_keras.serving.archive import WARMUP_FILE
from gslm_keras.serving.export import export_model
from gslm_keras.serving.config import ServingOptions
from gslm_keras.training.config import TrainConfig
from gslm_keras.training.trainer import train

import oracles
from commands import run_command
from conftest import PROM_DIR, SPLICE_CSV, read_column
from helpers import build, keras_predictions, with_head_of, write_table

SEQS = read_column(PROM_DIR / "test.csv", limit=40)
LABELS = read_column(PROM_DIR / "test.csv", "label", limit=40)


@pytest.fixture(scope="module")
def binary_run(tmp_path_factory):
  """A tiny binary model with a provided feature (with missing values)."""
  tmp = tmp_path_factory.mktemp("binary")
  rows = read_column(PROM_DIR / "dev.csv", limit=300)
  labels = read_column(PROM_DIR / "dev.csv", "label", limit=300)
  table = write_table(tmp / "t.csv", "sequence,label,signal",
                      (f"{s},{y},{'' if i % 9 == 0 else i % 13}"
                       for i, (s, y) in enumerate(zip(rows, labels))))
  info = build(tmp / "data", input=[table], split_fractions=(0.8, 0.1, 0.1), seed=1,
               provided_features=("signal",), missing_values="fill_mean",
               computed_features=["gc_content", "kmer:k=2", "fickett"],
               on_longer="crop", on_shorter="pad")
  # The head design of the global preset (wide path, GELU), at the tiny width: the
  # export signatures hold for what it builds.
  config = TrainConfig.create(data_dir=info.directory, model_dir=str(tmp / "model"),
                       model=with_head_of(preset("tiny"), "global"), epochs=1,
                       steps_per_epoch=4, verbose=0)
  train(config)
  return config.model_dir


@pytest.fixture(scope="module")
def splice_run(tmp_path_factory):
  tmp = tmp_path_factory.mktemp("splice")
  info = build(tmp / "data", input=[SPLICE_CSV], split_column="statlog_split",
               dev_fraction=0.1, computed_features=["gc_content", "entropy"])
  config = TrainConfig.create(data_dir=info.directory, model_dir=str(tmp / "model"),
                       model=preset("tiny"), epochs=1, steps_per_epoch=4, verbose=0)
  train(config)
  return config.model_dir


@pytest.fixture(scope="module")
def binary_export(binary_run, tmp_path_factory):
  base = tmp_path_factory.mktemp("export")
  return export_model(binary_run, str(base), "prom", 3), str(base)


def _query_sequences():
  # Real promoters; lower case; with N; shorter and longer than the 300 bp window.
  return [SEQS[0], SEQS[1].lower(), SEQS[2][:120] + "N" * 15 + SEQS[2][135:],
          SEQS[3][:250], SEQS[4] + SEQS[5][:77], SEQS[6][40:]]


def test_export_layout_and_assets(binary_export, binary_run):
  path, base = binary_export
  assert path == os.path.join(base, "prom", "3")
  assets = sorted(os.listdir(os.path.join(path, "assets")))
  assert assets == ["config.json", "dataset_info.json", "serving.json"]
  with open(os.path.join(path, "assets", "dataset_info.json")) as handle:
    assert json.load(handle) == json.load(open(os.path.join(binary_run,
                                                            "dataset_info.json")))
  with pytest.raises(ConfigError, match="already exists; pass --overwrite"):
    export_model(binary_run, base, "prom", 3)
  assert export_model(binary_run, base, "prom", 3, overwrite=True) == path


def test_warmup_records_are_real_requests(binary_export):
  from tensorflow_serving.apis import prediction_log_pb2

  path, _ = binary_export
  loaded = tf.saved_model.load(path)
  logs = [prediction_log_pb2.PredictionLog.FromString(r.numpy())
          for r in tf.data.TFRecordDataset(os.path.join(path, WARMUP_FILE))]
  assert [len(tf.make_ndarray(log.predict_log.request.inputs["sequence"]))
          for log in logs] == [1, 8]
  first = tf.make_ndarray(logs[1].predict_log.request.inputs["sequence"])[0].decode()
  assert len(first) == 300 and set(first) <= set("ACGTN")
  for log in logs:
    response = serving_requests.serve_predict_request(loaded, log.predict_log.request)
    assert tf.make_ndarray(response.outputs["probabilities"]).shape[1] == 2


_CHILD = r"""
import json, sys
import numpy as np
import tensorflow as tf
data = np.load(sys.argv[2], allow_pickle=False)
loaded = tf.saved_model.load(sys.argv[1])
out = {}
default = loaded.signatures["serving_default"]
args = {"sequence": tf.constant(data["sequences"].tolist())}
if "provided" in data:
  args["provided_features"] = tf.constant(data["provided"])
for key, value in default(**args).items():
  out[f"default_{key}"] = value.numpy()
onehot = loaded.signatures["predict_onehot"](
    sequence=tf.constant(data["one_hot"]), features=tf.constant(data["features"]))
out["onehot_probabilities"] = onehot["probabilities"].numpy()
# Serialized examples travel in a TFRecord file: a numpy bytes array would strip a
# trailing NUL (a packed 0.0 float) and corrupt them.
records = [r.numpy() for r in tf.data.TFRecordDataset(sys.argv[4])]
examples = loaded.signatures["predict_examples"](examples=tf.constant(records))
out["examples_probabilities"] = examples["probabilities"].numpy()
np.savez(sys.argv[3], **{k: v.astype(str) if v.dtype == object else v
                         for k, v in out.items()})
print(json.dumps(sorted(m for m in sys.modules if m.startswith("gslm"))))
"""


def test_signatures_match_keras_without_the_package(binary_export, binary_run, tmp_path):
  path, _ = binary_export
  sequences = _query_sequences()
  provided = np.array([[0.5, 0.0], [np.nan, 1.0], [3.0, 0.0], [12.0, 0.0],
                       [np.nan, 1.0], [7.0, 0.0]], np.float32)
  expected, inputs = keras_predictions(binary_run, sequences, provided)
  expected = expected[:, 0]
  examples = [tf.train.Example(features=tf.train.Features(feature={
      "sequence": tf.train.Feature(bytes_list=tf.train.BytesList(value=[s.encode()])),
      "provided_features": tf.train.Feature(float_list=tf.train.FloatList(value=p)),
  })).SerializeToString() for s, p in zip(sequences, provided)]
  np.savez(tmp_path / "in.npz", sequences=np.array(sequences), provided=provided,
           one_hot=inputs["sequence"].numpy(), features=inputs["features"].numpy())
  with tf.io.TFRecordWriter(str(tmp_path / "examples.tfrecord")) as writer:
    for example in examples:
      writer.write(example)
  result = subprocess.run(
      [sys.executable, "-c", _CHILD, path, str(tmp_path / "in.npz"),
       str(tmp_path / "out.npz"), str(tmp_path / "examples.tfrecord")],
      capture_output=True, text=True, cwd=tmp_path,
      env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"), timeout=300)
  assert result.returncode == 0, result.stderr[-3000:]
  assert json.loads(result.stdout.strip().splitlines()[-1]) == []  # no gslm module
  out = np.load(tmp_path / "out.npz")
  for key in ("default_probabilities", "onehot_probabilities", "examples_probabilities"):
    np.testing.assert_allclose(out[key][:, 1], expected, atol=1e-5, err_msg=key)
    np.testing.assert_allclose(out[key].sum(axis=1), 1.0, atol=1e-6)
  assert out["default_classes"].tolist() == [["0", "1"]] * 6
  # The dataset's rule crops and pads, and every row says what was done to it.
  assert out["default_length_adjustment"].tolist() == [
      "none", "none", "none", "padded", "cropped", "padded"]
  assert out["default_predicted_class"].tolist() == [
      "1" if p >= 0.5 else "0" for p in expected]


def test_saved_model_cli_lists_the_signatures(binary_export):
  path, _ = binary_export
  cli = os.path.join(os.path.dirname(sys.executable), "saved_model_cli")
  result = subprocess.run([cli, "show", "--dir", path, "--all"], capture_output=True,
                          text=True, env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"),
                          timeout=300)
  assert result.returncode == 0, result.stderr[-2000:]
  text = result.stdout
  blocks = {}
  for block in text.split("signature_def['")[1:]:
    name, _, body = block.partition("']")
    blocks[name] = body
  assert {"serving_default", "predict_onehot", "predict_examples"} <= set(blocks)
  default = blocks["serving_default"]
  assert "inputs['sequence'] tensor_info:\n        dtype: DT_STRING\n        shape: (-1)" in default
  assert ("inputs['provided_features'] tensor_info:\n        dtype: DT_FLOAT\n"
          "        shape: (-1, 2)") in default
  for output in ("probabilities", "classes", "predicted_class"):
    assert f"outputs['{output}']" in default
  onehot = blocks["predict_onehot"]
  assert "shape: (-1, 300, 4)" in onehot and "inputs['features']" in onehot
  assert "inputs['examples'] tensor_info:\n        dtype: DT_STRING" in blocks[
      "predict_examples"]


def test_tf_serving_requests(binary_export, binary_run):
  path, _ = binary_export
  loaded = tf.saved_model.load(path)
  sequences = _query_sequences()[:4]
  provided = [[1.0, 0.0], [2.0, 0.0], [float("nan"), 1.0], [4.0, 0.0]]
  expected = keras_predictions(binary_run, sequences,
                               np.array(provided, np.float32))[0][:, 0]
  request = serving_requests.predict_request("prom", sequences, provided)
  response = serving_requests.serve_predict_request(loaded, request)
  got = tf.make_ndarray(response.outputs["probabilities"])[:, 1]
  np.testing.assert_allclose(got, expected, atol=1e-5)
  assert [c.decode() for c in tf.make_ndarray(response.outputs["predicted_class"])] == [
      "1" if p >= 0.5 else "0" for p in expected]
  # Strict JSON has no NaN, so the REST bodies carry only present values.
  rest_provided = [[1.0, 0.0], [2.0, 0.0], [4.0, 0.0], [4.0, 0.0]]
  expected_rest = keras_predictions(binary_run, sequences,
                                    np.array(rest_provided, np.float32))[0][:, 0]
  for columnar in (False, True):
    body = json.loads(json.dumps(serving_requests.rest_body(sequences, rest_provided,
                                                             columnar=columnar)))
    reply = serving_requests.serve_rest(loaded, body)
    if columnar:
      probabilities = np.array(reply["outputs"]["probabilities"])[:, 1]
    else:
      probabilities = np.array([p["probabilities"][1] for p in reply["predictions"]])
      assert reply["predictions"][0]["classes"] == ["0", "1"]
    np.testing.assert_allclose(probabilities, expected_rest, atol=1e-5)


def test_bad_requests_fail_with_a_message(binary_export, splice_run, tmp_path):
  path, _ = binary_export
  loaded = tf.saved_model.load(path)
  seqs = _query_sequences()[:2]
  with pytest.raises(serving_requests.RequestError, match="missing: \\['provided_features'"):
    serving_requests.serve_predict_request(loaded, serving_requests.predict_request(
        "prom", seqs))
  with pytest.raises(serving_requests.RequestError, match="shape \\[2, 3\\].*\\[None, 2\\]"):
    serving_requests.serve_predict_request(loaded, serving_requests.predict_request(
        "prom", seqs, np.zeros((2, 3))))
  with pytest.raises(serving_requests.RequestError, match="expects strings"):
    serving_requests.serve_rest(loaded, {"inputs": {"sequence": [1, 2],
                                                    "provided_features": [[0, 0], [0, 0]]}})
  default = loaded.signatures["serving_default"]
  with pytest.raises(tf.errors.InvalidArgumentError, match="holds an empty string"):
    default(sequence=tf.constant(["", seqs[0]]), provided_features=tf.zeros([2, 2]))
  with pytest.raises(tf.errors.InvalidArgumentError, match="outside the IUPAC.*ACGTXACGT"):
    default(sequence=tf.constant([seqs[0], "ACGTXACGT"]), provided_features=tf.zeros([2, 2]))
  with pytest.raises(tf.errors.InvalidArgumentError, match="different batch sizes"):
    default(sequence=tf.constant(seqs), provided_features=tf.zeros([3, 2]))
  # The other policy, fixed at export: unknown letters read as N.
  lenient = export_model(splice_run, str(tmp_path), "splice", 1,
                         options=ServingOptions(unknown_letters="as_n"))
  signature = tf.saved_model.load(lenient).signatures["serving_default"]
  query = read_column(SPLICE_CSV, limit=1)[0]
  damaged = query[:20] + "X?" + query[22:]
  a = signature(sequence=tf.constant([damaged]))["probabilities"].numpy()
  b = signature(sequence=tf.constant([query[:20] + "NN" + query[22:]]))["probabilities"]
  np.testing.assert_allclose(a, b.numpy(), atol=1e-6)
  assert signature(sequence=tf.constant([query]))["classes"].numpy()[0].tolist() == [
      b"EI", b"IE", b"N"]


def test_an_empty_request_gets_empty_outputs(binary_export):
  # An empty batch is answered, with zero rows of every output, by all three
  # signatures (it failed inside the layers: "Reduction axis 0 is empty").
  signatures = tf.saved_model.load(binary_export[0]).signatures
  outputs = [
      signatures["serving_default"](sequence=tf.constant([], tf.string),
                                    provided_features=tf.zeros([0, 2])),
      signatures["predict_onehot"](sequence=tf.zeros([0, 300, 4]),
                                   features=tf.zeros([0, signatures["predict_onehot"]
                                                      .structured_input_signature[1]
                                                      ["features"].shape[1]])),
      signatures["predict_examples"](examples=tf.constant([], tf.string))]
  for out in outputs:
    assert out["probabilities"].shape == (0, 2) and out["classes"].shape == (0, 2)
    assert out["predicted_class"].shape == (0,)


def test_export_entry_point(splice_run, tmp_path):
  out = run_command("gslm_keras.export", f"--model={splice_run}", f"--export_base={tmp_path}",
                    "--model_name=splice", "--version=2", timeout=300)
  assert out.returncode == 0, out.stderr[-2000:]
  assert f"Exported to {tmp_path}/splice/2" in out.stdout
  assert [p for p in os.listdir(tmp_path / "splice") if p.startswith(".")] == []
  # The export predicts what the run predicts.
  rows = read_column(SPLICE_CSV, limit=8)
  signature = tf.saved_model.load(str(tmp_path / "splice" / "2")).signatures[
      "serving_default"]
  np.testing.assert_allclose(signature(sequence=tf.constant(rows))["probabilities"],
                             keras_predictions(splice_run, rows)[0], atol=1e-5)


def _fasta(path, records):
  with open(path, "w") as handle:
    for name, seq in records:
      handle.write(f">{name} promoter test\n{seq}\n")


def test_predict_file_from_run_and_export(splice_run, tmp_path):
  rows = read_column(SPLICE_CSV, limit=150)
  _fasta(tmp_path / "in.fa", [(f"q{i}", s) for i, s in enumerate(rows)])
  expected = keras_predictions(splice_run, rows)[0]
  classes = ["EI", "IE", "N"]
  stats = predict_file(splice_run, str(tmp_path / "in.fa"), str(tmp_path / "a.tsv"),
                       batch_size=32)
  assert stats["records"] == 150
  with open(tmp_path / "a.tsv") as handle:
    table = list(csv.DictReader(handle, delimiter="\t"))
  assert [r["id"] for r in table] == [f"q{i}" for i in range(150)]
  assert list(table[0]) == ["id", "prob_EI", "prob_IE", "prob_N", "predicted_class",
                            "length_adjustment"]
  assert {r["length_adjustment"] for r in table} == {"none"}
  got = np.array([[float(r[f"prob_{c}"]) for c in classes] for r in table])
  np.testing.assert_allclose(got, expected, atol=1e-5)
  assert [r["predicted_class"] for r in table] == [
      classes[i] for i in expected.argmax(axis=1)]
  # Inputs like the training data: GC content has not moved.
  assert "gc_content" not in stats["feature_shift"]["moved"]
  export = export_model(splice_run, str(tmp_path / "export"), "splice", 1)
  predict_file(export, str(tmp_path / "in.fa"), str(tmp_path / "b.parquet"),
               batch_size=64, rc_average=True)
  # AT-rich inputs (10% GC): the feature branch is told it extrapolates.
  rng = np.random.default_rng(0)
  at_rich = ["".join(rng.choice(list("ACGT"), p=[.45, .05, .05, .45], size=60))
             for _ in range(40)]
  _fasta(tmp_path / "at.fa", [(f"a{i}", s) for i, s in enumerate(at_rich)])
  shifted = predict_file(export, str(tmp_path / "at.fa"), str(tmp_path / "at.tsv"))
  assert {"gc_content", "entropy_k1"} <= set(shifted["feature_shift"]["moved"])
  assert shifted["feature_shift"]["rows_outside"] > 0.5
  import pandas as pd

  frame = pd.read_parquet(tmp_path / "b.parquet")
  reverse = keras_predictions(splice_run, [oracles.reverse_complement(s) for s in rows])[0]
  np.testing.assert_allclose(frame[[f"prob_{c}" for c in classes]].to_numpy(),
                             (expected + reverse) / 2, atol=1e-5)
  assert frame["id"].tolist()[:3] == ["q0", "q1", "q2"]


def test_predict_file_bad_input(splice_run, tmp_path):
  rows = read_column(SPLICE_CSV, limit=5)
  _fasta(tmp_path / "bad.fa", [("a", rows[0]), ("b", rows[1][:10] + "X" + rows[1][11:])])
  with pytest.raises(InputError, match=r"bad\.fa, record 2 'b' \(line 3\): character 'X'"):
    predict_file(splice_run, str(tmp_path / "bad.fa"), str(tmp_path / "out.tsv"))
  assert sorted(os.listdir(tmp_path)) == ["bad.fa"]  # no partial output left
  stats = predict_file(splice_run, str(tmp_path / "bad.fa"), str(tmp_path / "out.tsv"),
                       unknown_letters="as_n")
  assert stats["records"] == 2
  table = write_table(tmp_path / "t.csv", "name,seq", (f"r{i},{s}" for i, s in enumerate(rows)))
  predict_file(splice_run, table, str(tmp_path / "t.tsv"), sequence_column="seq",
               id_column="name")
  with open(tmp_path / "t.tsv") as handle:
    assert [r["id"] for r in csv.DictReader(handle, delimiter="\t")] == [
        f"r{i}" for i in range(5)]


def test_predict_entry_point(splice_run, tmp_path):
  rows = read_column(SPLICE_CSV, limit=20)
  _fasta(tmp_path / "in.fa", [(f"q{i}", s) for i, s in enumerate(rows)])
  out = run_command("gslm_keras.predict", f"--model={splice_run}",
                    f"--input={tmp_path / 'in.fa'}", f"--output={tmp_path / 'p.tsv'}",
                    timeout=300)
  assert out.returncode == 0, out.stderr[-2000:]
  assert f"20 predictions written to {tmp_path / 'p.tsv'}" in out.stdout
  out = run_command("gslm_keras.predict", f"--model={tmp_path}",
                    f"--input={tmp_path / 'in.fa'}", f"--output={tmp_path / 'p.tsv'}",
                    "--overwrite", timeout=300)
  assert out.returncode == 1
  assert "neither a training run (model.keras) nor a SavedModel export" in out.stderr


def test_requests_the_signatures_refuse(splice_run, tmp_path):
  export = export_model(splice_run, str(tmp_path), "splice", 1)
  loaded = tf.saved_model.load(export)
  rows = read_column(SPLICE_CSV, limit=3)
  default = loaded.signatures["serving_default"]
  # The bad row is named, 0-based.
  with pytest.raises(tf.errors.InvalidArgumentError, match=r"IUPAC.*row \(0-based\)\]? "
                     r"\[?2"):
    default(sequence=tf.constant([rows[0], rows[1], rows[2][:5] + "*" + rows[2][6:]]))
  # The splice dataset's rule was error for other lengths: refused, the row and
  # the export flag named; exported with --length_mismatch=adjust, cropped and said.
  with pytest.raises(tf.errors.InvalidArgumentError,
                     match=r"holds a sequence longer than the model.{1,2}s 60 bp window.*"
                           r"on_longer=error.*export with --length_mismatch=adjust.*"
                           r"row \(0-based\)\]? \[?1"):
    default(sequence=tf.constant([rows[0], "AC" + rows[1] + "GT"]))
  adjusting = tf.saved_model.load(export_model(
      splice_run, str(tmp_path), "adjusting", 1,
      options=ServingOptions(length_mismatch="adjust"))).signatures["serving_default"]
  out = adjusting(sequence=tf.constant([rows[0], "AC" + rows[0] + "GT", rows[0][3:]]))
  assert out["length_adjustment"].numpy().tolist() == [b"none", b"cropped", b"padded"]
  np.testing.assert_allclose(out["probabilities"].numpy()[1],
                             out["probabilities"].numpy()[0], atol=1e-6)
  onehot = loaded.signatures["predict_onehot"]
  with pytest.raises(tf.errors.InvalidArgumentError, match="one-hot windows of 60 bases"):
    onehot(sequence=tf.zeros([2, 59, 4]), features=tf.zeros([2, 37]))
  with pytest.raises(tf.errors.InvalidArgumentError, match=r"features.{0,2} holds NaN or an infinite value"):
    onehot(sequence=tf.zeros([2, 60, 4]),
           features=tf.constant(np.full((2, 37), np.nan, np.float32)))
  with pytest.raises(serving_requests.RequestError,
                     match=r"shape \[2, 1\], the signature expects \[None\] \(a list of "
                           "DNA strings\\)"):
    serving_requests.serve_rest(loaded, {"inputs": {"sequence": [[rows[0]], [rows[1]]]}})
  # A letter that is two bytes in UTF-8 is one N, not two.
  lenient = tf.saved_model.load(export_model(
      splice_run, str(tmp_path), "lenient", 1,
      options=ServingOptions(unknown_letters="as_n"))).signatures["serving_default"]
  a = lenient(sequence=tf.constant([rows[0][:20] + "é" + rows[0][21:]]))
  b = lenient(sequence=tf.constant([rows[0][:20] + "N" + rows[0][21:]]))
  np.testing.assert_allclose(a["probabilities"].numpy(), b["probabilities"].numpy(),
                             atol=1e-6)
  # The replacements are counted per row, in characters.
  assert a["replaced_letters"].numpy().tolist() == [1]
  assert b["replaced_letters"].numpy().tolist() == [0]
