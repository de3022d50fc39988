"""Variant scoring and interpretation on a model that learnt a planted JASPAR motif."""

from __future__ import annotations

import csv
import gzip
import json
import os

import numpy as np
import pytest

from gslm_keras.errors import ConfigError, InputError
from gslm_keras.models import ModelConfig
from gslm_keras.training.config import TrainConfig
from gslm_keras.training.trainer import train
from gslm_keras.variants import scoring
from gslm_keras.variants.scorer import ScoreConfig, score_variants
from gslm_keras.variants.windows import windows_in_sequence

import planted
from commands import run_command
from helpers import build, keras_predictions, with_head_of, write_table

COMPLEMENT = str.maketrans("ACGT", "TGCA")


@pytest.fixture(scope="module")
def motif_run(tmp_path_factory):
  tmp = tmp_path_factory.mktemp("planted")
  motif_id, pwm = planted.motif_pwm()
  starts = planted.write_splits(tmp / "csv", pwm)
  info = build(tmp / "data", train=[tmp / "csv/train.csv"], dev=[tmp / "csv/dev.csv"],
               test=[tmp / "csv/test.csv"], id_column="id",
               computed_features=["gc_content", "kmer:k=2"])
  # The head design of the global preset (the planted motif sits anywhere):
  # variant scoring's decomposition, ISM and attributions hold for what it builds.
  model = with_head_of(ModelConfig(
      stem_widths=(15,), stem_filters=16, stem_pool=1, tower_blocks=1, tower_filters=32,
      feature_units=(8,), fusion_units=32, dropout=0.1), "global")
  config = TrainConfig.create(data_dir=info.directory, model_dir=str(tmp / "model"), model=model,
                       epochs=4, batch_size=64, learning_rate=3e-3, verbose=0)
  result = train(config)
  test_rows = list(csv.DictReader(open(tmp / "csv/test.csv")))
  return {"dir": config.model_dir, "result": result, "pwm": pwm, "motif_id": motif_id,
          "starts": starts["test"], "test": test_rows, "tmp": tmp}


def test_model_learnt_the_motif(motif_run):
  assert motif_run["result"].metrics["test"]["auroc"] > 0.95


def _score_table(tmp, model_dir, rows, name, **kwargs):
  table = write_table(tmp / f"{name}.tsv", "id\tsequence\tposition\tref\talt",
                      ("\t".join(map(str, r)) for r in rows))
  out = tmp / f"{name}_scores.tsv"
  score_variants(ScoreConfig(model=model_dir, variants=table, output=str(out), **kwargs))
  with open(out) as handle:
    lines = [l for l in handle if not l.startswith("#")]
  return list(csv.DictReader(lines, delimiter="\t"))


def test_mutating_the_motif_core_has_the_strongest_effects(motif_run, tmp_path):
  pwm = motif_run["pwm"]
  core = set(np.flatnonzero(2 + (pwm * np.log2(pwm)).sum(axis=1) > 1.0))
  checked = 0
  for row, start in zip(motif_run["test"], motif_run["starts"]):
    if start < 0 or checked == 3:
      continue
    checked += 1
    # Random flanks give every variant a full window centred on it, as a genome
    # would; effects are compared on the log-odds scale, where a saturated
    # prediction still moves.
    rng = np.random.default_rng(checked)
    flank = lambda: "".join(rng.choice(list("ACGT"), size=60))  # noqa: E731
    left, right = flank(), flank()
    context = left + row["sequence"] + right
    variants = []
    for p, base in enumerate(row["sequence"]):
      alt = "ACGT"[("ACGT".index(base) + 2) % 4]
      variants.append((f"p{p}", context, len(left) + p, base, alt))
    scores = _score_table(tmp_path, motif_run["dir"], variants, f"scan{checked}")
    effect = np.array([abs(float(s["log_odds_ratio_prob_1"])) for s in scores])
    top = np.argsort(-effect)[:5]
    # The instance may sit on either strand: core positions counted both ways.
    width = len(pwm)
    motif_positions = {start + i for i in core} | {start + width - 1 - i for i in core}
    assert sum(p in motif_positions for p in top) >= 4, (top, sorted(motif_positions))
    outside = [e for p, e in enumerate(effect) if not start <= p < start + width]
    assert effect[top[0]] > 5 * np.median(outside)
  assert checked == 3


def test_swap_negates_and_ref_equal_alt_is_zero(motif_run, tmp_path):
  sequence = motif_run["test"][1]["sequence"]
  specs = [(50, sequence[50], "G" if sequence[50] != "G" else "A"),   # SNV
           (40, sequence[40:43], "TTT" if sequence[40:43] != "TTT" else "AAA"),  # MNV
           (30, sequence[30:34], sequence[30]),  # deletion
           (60, sequence[60], sequence[60] + "CAGT")]  # insertion
  forward, backward = [], []
  for i, (pos, ref, alt) in enumerate(specs):
    swapped = sequence[:pos] + alt + sequence[pos + len(ref):]
    forward.append((f"v{i}", sequence, pos, ref, alt))
    backward.append((f"v{i}", swapped, pos, alt, ref))
  a = _score_table(tmp_path, motif_run["dir"], forward, "forward")
  b = _score_table(tmp_path, motif_run["dir"], backward, "backward")
  for x, y in zip(a, b):
    for key in ("diff_prob_1", "log_ratio_prob_1", "log_odds_ratio_prob_1"):
      assert float(x[key]) == pytest.approx(-float(y[key]), abs=1e-5), key
    # Each path split holds the other input at its reference value, so swapping
    # the alleles swaps which reference is held: their sum is what negates.
    path = float(x["seq_path_diff_prob_1"]) + float(x["feature_path_diff_prob_1"])
    assert abs(path) <= abs(float(x["diff_prob_1"])) * 10 + 1e-3
  same = _score_table(tmp_path, motif_run["dir"],
                      [("z", sequence, 50, sequence[50], sequence[50])], "same")
  for key, value in same[0].items():
    if key.split("_")[0] in ("diff", "log", "seq", "feature"):
      assert float(value) == pytest.approx(0.0, abs=1e-7), key


def test_other_strand_gives_the_same_scores(motif_run, tmp_path):
  sequence = motif_run["test"][3]["sequence"]
  reverse = sequence.translate(COMPLEMENT)[::-1]
  n = len(sequence)
  rows_f, rows_r = [], []
  for i, pos in enumerate((20, 50, 77)):
    alt = "ACGT"[("ACGT".index(sequence[pos]) + 1) % 4]
    rows_f.append((f"s{i}", sequence, pos, sequence[pos], alt))
    rows_r.append((f"s{i}", reverse, n - 1 - pos, sequence[pos].translate(COMPLEMENT),
                   alt.translate(COMPLEMENT)))
  a = _score_table(tmp_path, motif_run["dir"], rows_f, "f", strand_average=True)
  b = _score_table(tmp_path, motif_run["dir"], rows_r, "r", strand_average=True)
  for x, y in zip(a, b):
    for key in ("diff_prob_1", "log_odds_ratio_prob_1", "ref_prob_1", "alt_prob_1"):
      assert float(x[key]) == pytest.approx(float(y[key]), abs=1e-5), key


def test_scores_equal_prediction_differences(motif_run, tmp_path):
  sequence = motif_run["test"][5]["sequence"]
  window = windows_in_sequence(sequence, 50, sequence[50], "T" if sequence[50] != "T" else "C",
                               planted.LENGTH)
  p = keras_predictions(motif_run["dir"], [window.ref, window.alt])[0]
  rc = lambda s: s.translate(COMPLEMENT)[::-1]  # noqa: E731
  q = keras_predictions(motif_run["dir"], [rc(window.ref), rc(window.alt)])[0]
  variant = [("x", sequence, 50, sequence[50], window.alt[50])]
  scores = _score_table(tmp_path, motif_run["dir"], variant, "one", strand_average=True)[0]
  assert float(scores["diff_prob_1"]) == pytest.approx(
      ((p[1] - p[0]) + (q[1] - q[0]))[0] / 2, abs=1e-6)
  # Each strand's own difference, beside their mean.
  assert float(scores["diff_forward_prob_1"]) == pytest.approx((p[1] - p[0])[0], abs=1e-6)
  assert float(scores["diff_reverse_prob_1"]) == pytest.approx((q[1] - q[0])[0], abs=1e-6)
  # Every score from the strand-averaged probabilities.
  ref, alt = (p[0] + q[0]) / 2, (p[1] + q[1]) / 2
  expected = scoring.scores(ref[None], alt[None], True)
  for name in ("log_ratio", "log_odds_ratio"):
    assert float(scores[f"{name}_prob_1"]) == pytest.approx(expected[name][0, 0],
                                                            abs=1e-4)
  # This model was trained without reverse-complement augmentation: by default it
  # is read on the forward strand only, and the header says why.
  forward = _score_table(tmp_path, motif_run["dir"], variant, "fwd")[0]
  assert float(forward["diff_prob_1"]) == pytest.approx(p[1][0] - p[0][0], abs=1e-6)
  assert "diff_forward_prob_1" not in forward  # One strand read: no strand columns.
  assert "strands: forward strand only (default for this model" in \
      open(tmp_path / "fwd_scores.tsv").read()


def test_scores_in_the_elements_own_window(motif_run, tmp_path):
  # --anchor=sequence: the context is the model's window, the allele edited in
  # place; the score is the model's difference on exactly those two sequences.
  sequence = motif_run["test"][5]["sequence"]
  alt = "T" if sequence[50] != "T" else "C"
  edited = sequence[:50] + alt + sequence[51:]
  p = keras_predictions(motif_run["dir"], [sequence, edited])[0]
  row = _score_table(tmp_path, motif_run["dir"], [("x", sequence, 50, sequence[50], alt)],
                     "anchored", anchor="sequence")[0]
  assert float(row["ref_prob_1"]) == pytest.approx(p[0][0], abs=1e-6)
  assert float(row["diff_prob_1"]) == pytest.approx(p[1][0] - p[0][0], abs=1e-6)
  assert row["padded"] == "0"
  with pytest.raises(InputError, match=r"line 2: with --anchor=sequence the context "
                                       r"sequence is the window, and its length 151"):
    _score_table(tmp_path, motif_run["dir"], [("x", sequence + "A" * 50, 50,
                                               sequence[50], alt)], "long",
                 anchor="sequence")
  with pytest.raises(ConfigError, match="--anchor=sequence scores a --variants table"):
    ScoreConfig(model="m", vcf="v.vcf", reference="g.fa", output="o.tsv",
                anchor="sequence")


def test_windows_rule():
  sequence = "".join("ACGT"[i % 4] for i in range(40))
  w = windows_in_sequence(sequence, 20, "A", "G", 11)
  assert w.ref == sequence[15:26] and w.alt == sequence[15:20] + "G" + sequence[21:26]
  deletion = windows_in_sequence(sequence, 20, "ACG", "A", 11)
  assert deletion.alt == sequence[15:21] + sequence[23:28]
  insertion = windows_in_sequence(sequence, 20, "A", "ATTT", 11)
  assert insertion.alt == sequence[15:20] + "ATTT" + sequence[21:23]
  edge = windows_in_sequence(sequence, 2, "G", "T", 11)
  assert edge.ref.startswith("NNN") and edge.padded


@pytest.fixture(scope="module")
def genome_vcf(motif_run):
  tmp = motif_run["tmp"] / "vcf"
  tmp.mkdir()
  chrom = "".join(r["sequence"] for r in motif_run["test"][:20])
  (tmp / "genome.fa").write_text(">chr1 test\n" + chrom + "\n")
  lines = ["##fileformat=VCFv4.2", f"##contig=<ID=chr1,length={len(chrom)}>",
           "##contig=<ID=chr2,length=500>",
           "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO"]
  lines.append(f"chr1\t500\tsnv\t{chrom[499]}\t{'A' if chrom[499] != 'A' else 'C'}\t.\t.\t.")
  lines.append(f"chr1\t700\tmulti\t{chrom[699]}\tA,C,G,T,<DEL>\t.\t.\t.")
  lines.append(f"chr1\t900\tdel\t{chrom[899:903]}\t{chrom[899]}\t.\t.\t.")
  lines.append("chr2\t10\tnocontig\tA\tG\t.\t.\t.")
  lines.append(f"chr1\t{len(chrom) + 3}\tpast\tA\tG\t.\t.\t.")
  lines.append(f"chr1\t1000\tstar\t{chrom[999]}\t*\t.\t.\t.")
  (tmp / "v.vcf").write_text("\n".join(lines) + "\n")
  with gzip.open(tmp / "v.vcf.gz", "wt") as handle:
    handle.write("\n".join(lines) + "\n")
  return tmp, chrom


def test_vcf_scoring_counts_what_it_skips(motif_run, genome_vcf):
  tmp, chrom = genome_vcf
  stats = score_variants(ScoreConfig(model=motif_run["dir"], vcf=str(tmp / "v.vcf.gz"),
                                     reference=str(tmp / "genome.fa"),
                                     output=str(tmp / "out.vcf")))
  # snv + multi (A/C/G/T minus the REF base... all four ALTs are scored) + del.
  assert stats["variants"] == 1 + 4 + 1
  assert stats["skipped"] == {"symbolic_allele": 2, "contig_not_in_reference": 1,
                              "position_past_contig_end": 1}
  text = open(tmp / "out.vcf").read()
  assert '##gslm_keras_skipped={"symbolic_allele": 2' in text
  assert "##INFO=<ID=GSLM_DIFF_PROB_1,Number=1,Type=Float" in text
  import pysam

  records = list(pysam.VariantFile(str(tmp / "out.vcf")))
  assert [r.id for r in records][:2] == ["snv", "multi:A"]
  assert all("GSLM_LOG_ODDS_RATIO_PROB_1" in r.info for r in records)
  ref_equal = [r for r in records if r.id == f"multi:{chrom[699]}"]
  assert ref_equal and abs(ref_equal[0].info["GSLM_DIFF_PROB_1"]) < 1e-7


def test_strands_follow_the_model_and_adjustments_are_reported(motif_run, genome_vcf,
                                                               tmp_path):
  import shutil

  import pysam

  tmp, chrom = genome_vcf
  # The same model, recorded as trained with reverse-complement augmentation.
  symmetric = tmp_path / "symmetric"
  shutil.copytree(motif_run["dir"], symmetric)
  config = json.load(open(symmetric / "config.json"))
  config["data"]["reverse_complement"] = True
  (symmetric / "config.json").write_text(json.dumps(config))
  vcf = tmp_path / "edge.vcf"
  vcf.write_text("##fileformat=VCFv4.2\n"
                 "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"
                 f"chr1\t3\tedge\t{chrom[2]}\t{'A' if chrom[2] != 'A' else 'C'}\t.\t.\t.\n"
                 f"chr1\t500\tinner\t{chrom[499]}\t{'A' if chrom[499] != 'A' else 'C'}"
                 "\t50\tPASS\t.\n")
  outputs = f"{tmp_path / 'sym.tsv'},{tmp_path / 'sym.vcf.gz'}"
  stats = score_variants(ScoreConfig(model=str(symmetric), vcf=str(vcf),
                                     reference=str(tmp / "genome.fa"), output=outputs))
  assert stats["padded"] == 1 and stats["strands"].startswith("both strands, averaged "
                                                              "(default for this model")
  explicit = tmp_path / "explicit.tsv"
  score_variants(ScoreConfig(model=motif_run["dir"], vcf=str(vcf),
                             reference=str(tmp / "genome.fa"), output=str(explicit),
                             strand_average=True))
  read = lambda path: list(csv.DictReader(  # noqa: E731
      [l for l in open(path) if not l.startswith("#")], delimiter="\t"))
  rows, same = read(tmp_path / "sym.tsv"), read(explicit)
  assert [r["diff_prob_1"] for r in rows] == [r["diff_prob_1"] for r in same]
  assert [r["padded"] for r in rows] == ["1", "0"]
  # Each strand's own difference, to inspect the mean: the reported one is theirs.
  for row in rows:
    assert float(row["diff_prob_1"]) == pytest.approx(
        (float(row["diff_forward_prob_1"]) + float(row["diff_reverse_prob_1"])) / 2,
        abs=2e-6)
  head = [l for l in open(tmp_path / "sym.tsv") if l.startswith("#")]
  assert any(l.startswith("# padded: 1 variant(s)") for l in head)
  assert any("agree in sign" in l for l in head)
  assert any(l.startswith("# logarithms: natural (base e)") for l in head)
  # The VCF of the same run: the same rows, the flag declared and set, every score
  # described.
  records = list(pysam.VariantFile(str(tmp_path / "sym.vcf.gz")))
  assert [r.id for r in records] == ["edge", "inner"]
  assert records[0].info["GSLM_PADDED"] and "GSLM_PADDED" not in records[1].info
  # QUAL and FILTER of the input, as they were (PASS stays PASS).
  assert list(records[1].filter.keys()) == ["PASS"] and records[1].qual == 50
  assert records[0].qual is None and list(records[0].filter.keys()) == []
  assert records[1].info["GSLM_DIFF_PROB_1"] == pytest.approx(
      float(rows[1]["diff_prob_1"]), rel=1e-5)
  header = str(pysam.VariantFile(str(tmp_path / "sym.vcf.gz")).header)
  assert ('Description="gslm_keras prob_1: logit(p_alt) - logit(p_ref), natural log '
          '(mean over both strands)"') in header
  assert "##gslm_keras_padded=1" in header


def test_vcf_bad_input(motif_run, genome_vcf, tmp_path):
  tmp, chrom = genome_vcf
  bad = tmp_path / "bad.vcf"
  wrong = "A" if chrom[499] != "A" else "C"
  bad.write_text("##fileformat=VCFv4.2\n##contig=<ID=chr1,length=2020>\n"
                 "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"
                 f"chr1\t500\tx\t{wrong}\tG\t.\t.\t.\n")
  with pytest.raises(InputError, match=rf"bad\.vcf, record 1 \(chr1:500\): REF {wrong} "
                                       rf"differs from the reference \({chrom[499]}\)"):
    score_variants(ScoreConfig(model=motif_run["dir"], vcf=str(bad),
                               reference=str(tmp / "genome.fa"),
                               output=str(tmp_path / "o.tsv")))
  assert not (tmp_path / "o.tsv").exists()
  stats = score_variants(ScoreConfig(model=motif_run["dir"], vcf=str(bad),
                                     reference=str(tmp / "genome.fa"),
                                     output=str(tmp_path / "o.tsv"), ref_mismatch="flag"))
  assert stats["flagged_ref_mismatch"] == 1
  other = tmp_path / "other.vcf"
  other.write_text("##fileformat=VCFv4.2\n##contig=<ID=2,length=100>\n"
                   "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n2\t5\tx\tA\tG\t.\t.\t.\n")
  with pytest.raises(InputError, match=r"no variant could be scored \(skipped: "
                                       r"\{'contig_not_in_reference': 1\}\)"):
    score_variants(ScoreConfig(model=motif_run["dir"], vcf=str(other),
                               reference=str(tmp / "genome.fa"),
                               output=str(tmp_path / "o2.tsv")))
  with pytest.raises(ConfigError, match="--vcf needs --reference"):
    ScoreConfig(model="m", vcf="v.vcf", output="o.tsv")


def test_ism_matches_direct_predictions(motif_run):
  from gslm_keras.inference.model import LoadedModel
  from gslm_keras.interpretation.mutagenesis import ism

  sequence = motif_run["test"][1]["sequence"]
  result = ism(LoadedModel(motif_run["dir"]), sequence)
  # One effect per output column (prob_0, prob_1) of each substitution, on the
  # logit scale, with the probability differences beside them.
  assert result["scale"] == "logit"
  assert result["effects"].shape == (planted.LENGTH, 4, 2)
  probability = result["effects_probability"]
  np.testing.assert_allclose(probability.sum(axis=2), 0.0, atol=1e-6)
  # Binary: logit(p1) = -logit(p0), so the logit effects are antisymmetric too.
  np.testing.assert_allclose(result["effects"].sum(axis=2), 0.0, atol=1e-3)
  logit = lambda p: np.log(p) - np.log1p(-p)  # noqa: E731
  for position in (0, 37, 100):
    ref_base = "ACGT".index(sequence[position])
    assert result["effects"][position, ref_base, 1] == 0.0
    alt = "ACGT"[(ref_base + 1) % 4]
    mutant = sequence[:position] + alt + sequence[position + 1:]
    p = keras_predictions(motif_run["dir"], [sequence, mutant])[0]
    assert probability[position, "ACGT".index(alt), 1] == pytest.approx(
        p[1, 0] - p[0, 0], abs=1e-6)
    assert result["effects"][position, "ACGT".index(alt), 1] == pytest.approx(
        logit(np.clip(p[1, 0], 1e-7, 1 - 1e-7)) - logit(np.clip(p[0, 0], 1e-7, 1 - 1e-7)),
        abs=2e-3)


def test_integrated_gradients_completeness_and_shares(motif_run):
  from gslm_keras import make_dataset
  from gslm_keras.inference.model import LoadedModel
  from gslm_keras.interpretation import attribution
  from gslm_keras.run_dir import data_dir_of

  loaded = LoadedModel(motif_run["dir"])
  model, info = loaded.keras_model, loaded.info
  inputs, _ = next(iter(make_dataset(data_dir_of(loaded.config), "test", "eval", 48)))
  one_hot, features = inputs["sequence"].numpy(), inputs["features"].numpy()
  ig = attribution.integrated_gradients(model, info, one_hot, features, 0, steps=128)
  assert np.median(ig["completeness_gap"]) < 0.01
  total = ig["sequence"].sum() + ig["features"].sum()
  assert abs(total - (ig["target"] - ig["baseline_target"]).sum()) < 0.01 * np.abs(
      ig["target"] - ig["baseline_target"]).sum()
  shares = attribution.branch_shares(ig)
  np.testing.assert_allclose(shares["sequence_share"] + shares["features_share"], 1.0)
  assert shares["sequence_share"].mean() > 0.5  # The motif, not GC, decides.
  gxi = attribution.gradient_x_input(model, info, one_hot, features, 0)
  assert gxi["sequence"].shape == one_hot.shape and gxi["features"].shape == features.shape
  # Attribution sits on the present bases only (input - baseline is the one-hot).
  assert np.all(ig["sequence"][one_hot == 0] == 0)


def test_interpret_entry_point_and_motifs(motif_run, tmp_path):
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
  run = lambda *a: run_command("gslm_keras.interpret", *a, env=env, timeout=900)  # noqa: E731
  out = run("attribute", f"--model={motif_run['dir']}", f"--output_dir={tmp_path}",
            "--limit=40", "--steps=64")
  assert out.returncode == 0, out.stderr[-2000:]
  ohe = np.load(tmp_path / "attr_ohe.npz")["arr_0"]
  attr = np.load(tmp_path / "attr_attr.npz")["arr_0"]
  assert ohe.shape == attr.shape == (40, 4, planted.LENGTH)
  with open(tmp_path / "attribution_tracks.tsv") as handle:
    assert sum(1 for _ in handle) == 1 + 40 * planted.LENGTH
  sequence = motif_run["test"][1]["sequence"]
  out = run("ism", f"--model={motif_run['dir']}", f"--output_dir={tmp_path}",
            f"--sequence={sequence}")
  assert out.returncode == 0, out.stderr[-2000:]
  with open(tmp_path / "ism_sequence.png", "rb") as handle:
    assert handle.read(4) == b"\x89PNG"
  # The table holds the effects of the positive class: mutant minus reference.
  with open(tmp_path / "ism_sequence.tsv") as handle:
    table = list(csv.DictReader(handle, delimiter="\t"))
  assert len(table) == 3 * planted.LENGTH
  for row in table[::97]:
    position = int(row["position"])
    mutant = sequence[:position] + row["alt"] + sequence[position + 1:]
    p = keras_predictions(motif_run["dir"], [sequence, mutant])[0]
    assert float(row["effect_probability_prob_1"]) == pytest.approx(p[1, 0] - p[0, 0],
                                                                     abs=1e-5)
    clipped = np.clip(p[:, 0], 1e-7, 1 - 1e-7)
    logit = np.log(clipped) - np.log1p(-clipped)
    assert float(row["effect_logit_prob_1"]) == pytest.approx(logit[1] - logit[0],
                                                               abs=1e-3)
  summary = json.load(open(tmp_path / "attribution_summary.json"))
  assert summary["examples"] == 40 and summary["output"] == "prob_1"
  assert summary["completeness_gap_median"] < 0.02
  assert summary["sequence_share_mean"] + summary["features_share_mean"] == pytest.approx(1)
  # A families.json of an earlier run with --families answers a question this run
  # does not ask: it goes.
  (tmp_path / "families.json").write_text("{}")
  out = run("motifs", f"--model={motif_run['dir']}", f"--output_dir={tmp_path}",
            "--limit=1500")
  assert out.returncode == 0, out.stderr[-2000:]
  assert not (tmp_path / "families.json").exists()
  with open(tmp_path / "tomtom.tsv") as handle:
    matches = list(csv.DictReader(handle, delimiter="\t"))
  assert any(m["jaspar_id"].startswith(planted.MOTIF_ID) for m in matches[:5]), matches[:5]
  assert "MOTIF stem_conv_w15_f" in (tmp_path / "filters.meme").read_text()
  out = run("bogus", f"--model={motif_run['dir']}", f"--output_dir={tmp_path}")
  assert out.returncode != 0 and "expected one command" in out.stderr


def test_modisco_finds_the_planted_motif(motif_run, tmp_path):
  # TF-MoDISco on the integrated gradients of the test split: the top pattern of
  # positive contribution is the planted CTCF, matched to its JASPAR matrix.
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
  # The folder already holds what `motifs` writes: modisco's files have names of
  # their own, and leave those as they were.
  motifs_files = {"tomtom.tsv": b"filter\n", "logos.png": b"motifs' logos",
                  "families.json": b"{}"}
  for name, content in motifs_files.items():
    (tmp_path / name).write_bytes(content)
  out = run_command("gslm_keras.interpret", "modisco", f"--model={motif_run['dir']}",
                    f"--output_dir={tmp_path}", "--limit=400", "--steps=16", env=env,
                    timeout=900)
  assert out.returncode == 0, out.stderr[-2000:]
  patterns = json.load(open(tmp_path / "patterns.json"))
  top = patterns[0]
  assert top["name"] == "pos_pattern_0" and len(top["seqlets"]) >= 50
  assert top["best_match"]["jaspar_id"].startswith(planted.MOTIF_ID), top["best_match"]
  assert top["best_match"]["q_value"] < 0.05
  # Its seqlets sit on the planted sites of the sequences they come from.
  starts = motif_run["starts"]
  width = len(motif_run["pwm"])
  on_site = [starts[i] >= 0 and start < starts[i] + width and starts[i] < end
             for i, start, end, _ in top["seqlets"]]
  assert np.mean(on_site) > 0.9
  report = (tmp_path / "report.md").read_text()
  assert "| pos_pattern_0 |" in report and "| yes |" in report
  assert "pos_pattern_0" in out.stdout and "CTCF" in out.stdout
  assert (tmp_path / "patterns_logos.png").read_bytes()[:4] == b"\x89PNG"
  assert "![logos](patterns_logos.png)" in report
  for name, content in motifs_files.items():
    assert (tmp_path / name).read_bytes() == content, name
  assert not (tmp_path / "patterns_families.json").exists()
  refused = run_command("gslm_keras.interpret", "modisco", f"--model={motif_run['dir']}",
                        f"--output_dir={tmp_path}", "--method=gradient_x_input", env=env,
                        timeout=300)
  assert refused.returncode == 1 and "interpret modisco does not use it" in refused.stderr


def test_reference_and_vcf_compression(motif_run, genome_vcf, tmp_path):
  import shutil

  import pysam

  tmp, _ = genome_vcf
  # bgzip VCF, and a reference whose index is built on first use.
  bgz = tmp_path / "v.vcf.gz"
  pysam.tabix_compress(str(tmp / "v.vcf"), str(bgz), force=True)
  reference = tmp_path / "genome.fa"
  shutil.copy(tmp / "genome.fa", reference)
  stats = score_variants(ScoreConfig(model=motif_run["dir"], vcf=str(bgz),
                                     reference=str(reference),
                                     output=str(tmp_path / "o.parquet")))
  assert stats["variants"] == 6 and (tmp_path / "genome.fa.fai").exists()
  summary = json.load(open(tmp_path / "o.parquet.summary.json"))
  assert summary["rows"] == 6 and summary["skipped"]["symbolic_allele"] == 2
  # A plain-gzip reference cannot be indexed: say how to fix it.
  with open(tmp / "genome.fa", "rb") as source, gzip.open(tmp_path / "g.fa.gz", "wb") as out:
    out.write(source.read())
  with pytest.raises(InputError, match="not with bgzip; recompress it"):
    score_variants(ScoreConfig(model=motif_run["dir"], vcf=str(bgz),
                               reference=str(tmp_path / "g.fa.gz"),
                               output=str(tmp_path / "o2.tsv")))



def test_reference_without_index_in_a_read_only_folder(motif_run, genome_vcf, tmp_path,
                                                      monkeypatch):
  import shutil

  import pyfaidx

  tmp, _ = genome_vcf
  locked = tmp_path / "locked"
  locked.mkdir()
  shutil.copy(tmp / "genome.fa", locked / "genome.fa")
  locked.chmod(0o555)
  try:
    if os.access(locked, os.W_OK):  # root writes anywhere: fail the index write.
      def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied", str(locked / "genome.fa.fai"))

      monkeypatch.setattr(pyfaidx, "Fasta", refuse)
    with pytest.raises(InputError, match="samtools faidx"):
      score_variants(ScoreConfig(model=motif_run["dir"], vcf=str(tmp / "v.vcf"),
                                 reference=str(locked / "genome.fa"),
                                 output=str(tmp_path / "o3.tsv")))
  finally:
    locked.chmod(0o755)


@pytest.fixture(scope="module")
def saturated_run(motif_run):
  """A copy of the motif model whose logits are all shifted by +30: every float32
  probability it outputs is 1.0, while its log-odds differences are the
  original model's."""
  import shutil

  import keras

  from test_log_space import SHIFT, shift_logits

  folder = motif_run["tmp"] / "saturated"
  shutil.copytree(motif_run["dir"], folder)
  model = keras.models.load_model(folder / "model.keras")
  shift_logits(model, SHIFT)
  model.save(folder / "model.keras")
  return str(folder)


def test_saturated_model_keeps_its_effects(motif_run, saturated_run, tmp_path):
  # ISM, variant scores and attributions come from the logits: a shift of every
  # logit changes none of them, though the probabilities all read 1.0.
  from gslm_keras.inference.model import LoadedModel
  from gslm_keras.interpretation import attribution
  from gslm_keras.interpretation.mutagenesis import ism

  sequence = motif_run["test"][1]["sequence"]
  p = keras_predictions(saturated_run, [sequence])[0]
  assert p[0, 0] == 1.0
  plain, saturated = (ism(LoadedModel(path), sequence)
                      for path in (motif_run["dir"], saturated_run))
  assert np.abs(plain["effects"]).max() > 1.0
  np.testing.assert_allclose(saturated["effects"], plain["effects"], atol=2e-3)
  # On the probability scale the effects all but vanish.
  assert np.abs(saturated["effects_probability"]).max() < 1e-9

  rows = [("v", row["sequence"], 50, row["sequence"][50],
           "T" if row["sequence"][50] != "T" else "C") for row in motif_run["test"][:8]]
  scores = [_score_table(tmp_path, path, rows, name)
            for path, name in ((motif_run["dir"], "plain"), (saturated_run, "sat"))]
  before = np.array([float(r["log_odds_ratio_prob_1"]) for r in scores[0]])
  after = np.array([float(r["log_odds_ratio_prob_1"]) for r in scores[1]])
  assert np.abs(before).max() > 0.1
  np.testing.assert_allclose(after, before, atol=2e-3)
  np.testing.assert_allclose([float(r["log_odds_ratio_prob_0"]) for r in scores[1]],
                             -before, atol=2e-3)

  _, inputs = keras_predictions(motif_run["dir"], [r[1] for r in rows])
  one_hot, features = inputs["sequence"].numpy(), inputs["features"].numpy()
  plain, saturated = (
      attribution.gradient_x_input(loaded.keras_model, loaded.info, one_hot, features, 0)
      for loaded in map(LoadedModel, (motif_run["dir"], saturated_run)))
  assert np.abs(plain["sequence"]).max() > 0.01
  np.testing.assert_allclose(saturated["sequence"], plain["sequence"], atol=1e-4)
  np.testing.assert_allclose(saturated["target"], plain["target"] + 30.0, atol=1e-3)
