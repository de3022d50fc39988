"""One of each concept: every path that computes the same thing agrees.

- output names: evaluate, predict, the serving signature and score_variants name
  a model's columns the same way, for every task type;
- a training run and its SavedModel export predict, score variants and mutate
  alike;
- the provided-feature plan: one interval gives one bigWig value at build,
  predict and variant time, also where the interval runs past the contig end;
- variant scoring holds or swaps provided features as its policy says.
"""

from __future__ import annotations

import csv
import os

import numpy as np
import pytest
import tensorflow as tf

from gslm_keras.inference.batch import predict_file
from gslm_keras.inference.model import LoadedModel
from gslm_keras.interpretation.mutagenesis import ism
from gslm_keras.models import preset
from gslm_keras.serving.export import export_model
from gslm_keras.training.config import TrainConfig
from gslm_keras.training.trainer import train
from gslm_keras.variants.scorer import ScoreConfig, score_variants

from conftest import GENOMES, PROM_DIR, read_column
from helpers import build, keras_predictions, keras_run, read_records, write_table

SEQS = read_column(PROM_DIR / "dev.csv", limit=120)
LABELS = read_column(PROM_DIR / "dev.csv", "label", limit=120)


def _train(data_dir, model_dir):
  config = TrainConfig.create(data_dir=data_dir, model_dir=str(model_dir),
                              model=preset("tiny"), epochs=1, steps_per_epoch=2,
                              batch_size=32, evaluate_splits=("test",), verbose=0)
  train(config)
  return str(model_dir)


def _header(path):
  with open(path) as handle:
    lines = [line for line in handle if not line.startswith("#")]
  return next(csv.reader(lines, delimiter="\t"))


def _rows(path):
  with open(path) as handle:
    lines = [line for line in handle if not line.startswith("#")]
  return list(csv.DictReader(lines, delimiter="\t"))


def _table(tmp, task):
  """A 300 bp table dataset of `task`, 100 train and 20 test rows."""
  if task == "binary":
    header, cells = "sequence,label", [f"{y}" for y in LABELS]
  elif task == "multiclass":
    header, cells = "sequence,label", [f"k{i % 3}" for i in range(len(SEQS))]
  elif task == "multilabel":
    header = "sequence,label"
    cells = [";".join(t for t, on in (("tata", i % 2), ("cpg", i % 3 == 0)) if on)
             for i in range(len(SEQS))]
  else:
    header = "sequence,expression,stability"
    cells = [f"{i / 7:.3f},{(i % 5) - 2.5}" for i in range(len(SEQS))]
  rows = [f"{s},{c}" for s, c in zip(SEQS, cells)]
  train_csv = write_table(tmp / f"{task}_train.csv", header, rows[:100])
  test_csv = write_table(tmp / f"{task}_test.csv", header, rows[100:])
  kwargs = {"task": task} if task != "binary" else {}
  if task == "regression":
    kwargs["label_columns"] = ("expression", "stability")
  return build(tmp / f"{task}_data", train=[train_csv], test=[test_csv],
               computed_features=["gc_content", "kmer:k=2"], **kwargs)


@pytest.fixture(scope="module", params=["binary", "multiclass", "multilabel",
                                        "regression"])
def task_run(request, tmp_path_factory):
  tmp = tmp_path_factory.mktemp(request.param)
  info = _table(tmp, request.param)
  run = _train(info.directory, tmp / "model")
  export = export_model(run, str(tmp / "export"), "m", 1)
  return request.param, run, export, tmp


def test_every_consumer_names_the_outputs_alike(task_run):
  task, run, export, tmp = task_run
  model = LoadedModel(run)
  columns = model.columns
  expected = {"binary": ["prob_0", "prob_1"], "multiclass": ["prob_k0", "prob_k1", "prob_k2"],
              "multilabel": ["prob_cpg", "prob_tata"],
              "regression": ["value_expression", "value_stability"]}[task]
  assert columns == expected
  # evaluate
  evaluated = _header(os.path.join(run, "predictions", "test.tsv"))
  assert [c for c in evaluated if c in columns] == columns
  # predict, from the run and from the export
  fasta = tmp / "q.fa"
  fasta.write_text("".join(f">q{i}\n{s}\n" for i, s in enumerate(SEQS[100:110])))
  for source, name in ((run, "run"), (export, "export")):
    out = tmp / f"predict_{name}.tsv"
    predict_file(source, str(fasta), str(out))
    header = _header(out)
    assert header[1:1 + len(columns)] == columns
  a, b = _rows(tmp / "predict_run.tsv"), _rows(tmp / "predict_export.tsv")
  np.testing.assert_allclose([[float(r[c]) for c in columns] for r in a],
                             [[float(r[c]) for c in columns] for r in b], atol=1e-5)
  # the serving signature
  signature = tf.saved_model.load(export).signatures["serving_default"]
  out = signature(sequence=tf.constant(SEQS[100:103]))
  if task == "regression":
    assert out["values"].shape == (3, len(columns))
  else:
    assert [f"prob_{c.decode()}" for c in out["classes"].numpy()[0]] == columns
    assert out["probabilities"].shape == (3, len(columns))
  # score_variants, from the run and from the export
  sequence = SEQS[110]
  variants = write_table(tmp / "v.tsv", "id\tsequence\tposition\tref\talt",
                         [f"v{p}\t{sequence}\t{p}\t{sequence[p]}\t"
                          f"{'A' if sequence[p] != 'A' else 'C'}" for p in (20, 150, 280)])
  for source, name in ((run, "run"), (export, "export")):
    score_variants(ScoreConfig(model=source, variants=variants,
                               output=str(tmp / f"scores_{name}.tsv")))
    header = _header(tmp / f"scores_{name}.tsv")
    for column in columns:
      for score in ("ref", "alt", "diff", "seq_path_diff", "feature_path_diff"):
        assert f"{score}_{column}" in header, (score, column)
  a, b = _rows(tmp / "scores_run.tsv"), _rows(tmp / "scores_export.tsv")
  for key in (k for k in a[0] if k.split("_")[0] in ("ref", "alt", "diff", "seq")):
    if key in ("ref", "alt", "ref_mismatch"):
      continue
    np.testing.assert_allclose([float(r[key]) for r in a], [float(r[key]) for r in b],
                               atol=1e-5, err_msg=key)


def test_export_and_run_mutate_alike(task_run):
  task, run, export, _ = task_run
  if task not in ("binary", "regression"):
    pytest.skip("one classifier and one regression model are enough")
  a = ism(LoadedModel(run), SEQS[111])
  b = ism(LoadedModel(export), SEQS[111])
  assert a["window"] == b["window"]
  np.testing.assert_allclose(a["effects"], b["effects"], atol=1e-5)
  direct = keras_predictions(run, [SEQS[111]])[0]
  reference = direct if task == "regression" else np.concatenate([1 - direct, direct], 1)
  np.testing.assert_allclose(a["reference"], reference[0], atol=1e-6)


@pytest.fixture(scope="module")
def bigwig_run(tmp_path_factory):
  """A model with one bigWig feature, trained on windows of a genome."""
  import pyBigWig
  from Bio import SeqIO

  tmp = tmp_path_factory.mktemp("bigwig")
  contig = str(SeqIO.read(str(GENOMES / "NC_005816.fna"), "fasta").seq)[:6000]
  (tmp / "genome.fa").write_text(f">c1\n{contig}\n")
  track = np.random.default_rng(0).normal(size=len(contig)).astype(np.float32)
  bw = pyBigWig.open(str(tmp / "cons.bw"), "w")
  bw.addHeader([("c1", len(contig))])
  bw.addEntries(["c1"] * len(contig), list(range(len(contig))),
                ends=list(range(1, len(contig) + 1)), values=track.tolist())
  bw.close()
  length = 100
  starts = range(0, len(contig) - length, 50)
  table = write_table(tmp / "w.csv", "sequence,label,chrom,start,end",
                      (f"{contig[s:s + length]},{i % 2},c1,{s},{s + length}"
                       for i, s in enumerate(starts)))
  info = build(tmp / "data", input=[table], split_fractions=(0.8, 0.1, 0.1),
               coordinate_columns=("chrom", "start", "end"),
               bigwig_features=(("cons", str(tmp / "cons.bw")),),
               computed_features=["gc_content"])
  run = _train(info.directory, tmp / "model")
  return {"run": run, "contig": contig, "track": track, "length": length, "tmp": tmp,
          "info": info}


@pytest.mark.parametrize("begin", [1000, 6000 - 60])
def test_one_bigwig_value_at_build_predict_and_variant_time(bigwig_run, begin):
  # The interval [begin, begin + 100), clipped to the contig (6000 bp) at the end.
  contig, track, length = bigwig_run["contig"], bigwig_run["track"], bigwig_run["length"]
  tmp = bigwig_run["tmp"] / f"at{begin}"
  tmp.mkdir()
  end = begin + length
  window = contig[begin:end] + "N" * max(0, end - len(contig))
  value = float(track[begin:min(end, len(contig))].mean())
  # build
  info = build(tmp / "data", train=[write_table(
      tmp / "one.csv", "sequence,label,chrom,start,end", [f"{window},1,c1,{begin},{end}"])],
      coordinate_columns=("chrom", "start", "end"), classes=("0", "1"),
      bigwig_features=(("cons", str(bigwig_run["tmp"] / "cons.bw")),),
      computed_features=["gc_content"])
  assert read_records(info, "train")[0]["provided"][0] == pytest.approx(value, abs=1e-6)
  expected = keras_predictions(bigwig_run["run"], [window],
                               np.array([[value]], np.float32))[0][0, 0]
  moved = keras_predictions(bigwig_run["run"], [window],
                            np.array([[value + 1.0]], np.float32))[0][0, 0]
  assert abs(moved - expected) > 1e-6  # The model reads the value.
  # predict
  query = write_table(tmp / "q.csv", "sequence,chrom,start,end",
                      [f"{window},c1,{begin},{end}"])
  predict_file(bigwig_run["run"], query, str(tmp / "p.tsv"),
               coordinate_columns=("chrom", "start", "end"))
  assert float(_rows(tmp / "p.tsv")[0]["prob_1"]) == pytest.approx(expected, abs=1e-6)
  # variants: the reference window of a variant at begin + length // 2 is the interval
  position = begin + length // 2
  vcf = tmp / "v.vcf"
  vcf.write_text(f"##fileformat=VCFv4.2\n##contig=<ID=c1,length={len(contig)}>\n"
                 "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"
                 f"c1\t{position + 1}\tv\t{contig[position]}\t"
                 f"{'A' if contig[position] != 'A' else 'C'}\t.\t.\t.\n")
  score_variants(ScoreConfig(model=bigwig_run["run"], vcf=str(vcf),
                             reference=str(bigwig_run["tmp"] / "genome.fa"),
                             output=str(tmp / "s.tsv"), strand_average=False))
  assert float(_rows(tmp / "s.tsv")[0]["ref_prob_1"]) == pytest.approx(expected, abs=1e-6)


@pytest.fixture(scope="module")
def provided_run(tmp_path_factory):
  tmp = tmp_path_factory.mktemp("provided")
  table = write_table(tmp / "t.csv", "sequence,label,signal",
                      (f"{s},{y},{i % 11}" for i, (s, y) in enumerate(zip(SEQS, LABELS))))
  info = build(tmp / "data", input=[table], split_fractions=(0.8, 0.1, 0.1),
               provided_features=("signal",), computed_features=["gc_content"])
  return _train(info.directory, tmp / "model"), tmp


@pytest.mark.parametrize("policy", ["hold", "per_allele"])
def test_variant_provided_features_held_or_per_allele(provided_run, policy):
  run, tmp = provided_run
  sequence = SEQS[115]
  alt = sequence[:150] + ("A" if sequence[150] != "A" else "C") + sequence[151:]
  variants = write_table(tmp / f"v_{policy}.tsv",
                         "id\tsequence\tposition\tref\talt\tsignal\tsignal_alt",
                         [f"v\t{sequence}\t150\t{sequence[150]}\t{alt[150]}\t2\t9"])
  out = tmp / f"s_{policy}.tsv"
  score_variants(ScoreConfig(model=run, variants=variants, output=str(out),
                             provided_policy=policy, strand_average=False))
  row = _rows(out)[0]
  alt_value = 9.0 if policy == "per_allele" else 2.0
  ref = keras_predictions(run, [sequence], np.array([[2.0]], np.float32))[0][0, 0]
  expected = keras_predictions(run, [alt], np.array([[alt_value]], np.float32))[0][0, 0]
  assert float(row["ref_prob_1"]) == pytest.approx(ref, abs=1e-6)
  assert float(row["alt_prob_1"]) == pytest.approx(expected, abs=1e-6)
  # The feature path: the reference sequence with the alternate allele's features
  # (computed ones recomputed on the alt window, the provided one by the policy).
  model, encoder = keras_run(run)
  alt_inputs = encoder(tf.constant([alt]), np.array([[alt_value]], np.float32))
  ref_inputs = encoder(tf.constant([sequence]), np.array([[2.0]], np.float32))
  mixed = {"sequence": ref_inputs["sequence"], "features": alt_inputs["features"]}
  feature_path = float(np.asarray(model(mixed, training=False))[0, 0]) - ref
  assert float(row["feature_path_diff_prob_1"]) == pytest.approx(feature_path, abs=1e-6)


def test_a_model_trained_without_missing_values_refuses_nan(provided_run, tmp_path):
  run, _ = provided_run
  signature = tf.saved_model.load(export_model(run, str(tmp_path), "p", 1)).signatures[
      "serving_default"]
  ok = signature(sequence=tf.constant(SEQS[:2]), provided_features=tf.constant([[1.0], [2.0]]))
  assert np.isfinite(ok["probabilities"].numpy()).all()
  with pytest.raises(tf.errors.InvalidArgumentError, match="holds NaN \\(missing\\), but "
                     "the model was trained without missing values"):
    signature(sequence=tf.constant(SEQS[:2]),
              provided_features=tf.constant([[1.0], [np.nan]]))
  with pytest.raises(tf.errors.InvalidArgumentError, match="holds an infinite value"):
    signature(sequence=tf.constant(SEQS[:2]),
              provided_features=tf.constant([[np.inf], [1.0]]))
