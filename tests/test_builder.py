"""build_dataset on real inputs: what it writes is what was read, stats included."""

from __future__ import annotations

import csv
import json
import os
import re

import numpy as np
import pytest
from Bio import SeqIO
from Bio.Seq import reverse_complement
from Bio.SeqUtils import gc_fraction

from gslm_keras.data.dataset_info import MANIFEST, DatasetInfo, sha256_file
from gslm_keras.errors import ConfigError

from conftest import GENOMES, PROM_DIR, SPLICE_CSV, read_column
from helpers import build, leftovers, read_records, write_table


@pytest.fixture(scope="module")
def splice(tmp_path_factory):
  out = tmp_path_factory.mktemp("splice") / "ds"
  info = build(out, input=[SPLICE_CSV], split_column="statlog_split", dev_fraction=0.1,
               seed=0, computed_features=["gc_content", "kmer:k=2"],
               records_per_shard=700, command="test")
  return info


def test_splits_counts_and_shards(splice):
  info = DatasetInfo.load(splice.directory, verify="full")
  assert info.num_records("train") + info.num_records("dev") == 2000
  assert info.num_records("test") == 1186
  assert 0.09 <= info.num_records("dev") / 2000 <= 0.11
  assert info.task == "multiclass" and info.classes == ["EI", "IE", "N"]
  for split in ("train", "dev", "test"):
    entry = info.data["splits"][split]
    assert sum(entry["class_counts"].values()) == entry["num_records"]
    names = [shard["file"] for shard in entry["shards"]]
    n = len(names)
    assert names == [f"{split}-{i:05d}-of-{n:05d}.tfrecord.gz" for i in range(n)]
    for shard, path in zip(entry["shards"], info.shard_paths(split)):
      assert sha256_file(path) == shard["sha256"]
  assert len(info.data["splits"]["test"]["shards"]) == 2  # 1186 records, 700 a shard
  assert sorted(os.listdir(splice.directory)) == sorted(
      [MANIFEST] + [s["file"] for e in info.data["splits"].values() for s in e["shards"]])


def test_records_are_the_input_rows_in_order(splice):
  with open(SPLICE_CSV, newline="") as handle:
    rows = [(i, r) for i, r in enumerate(csv.DictReader(handle), start=1)
            if r["statlog_split"] == "test"]
  records = read_records(splice, "test")
  assert [r["sequence"] for r in records] == [row["sequence"] for _, row in rows]
  assert [splice.classes[r["label"]] for r in records] == [row["label"] for _, row in rows]
  assert [r["id"] for r in records] == [f"splice_statlog_dna.csv:{i}" for i, _ in rows]


def test_normalization_from_train_split_only(splice):
  train = [r["sequence"] for r in read_records(splice, "train")]
  gc = np.array([gc_fraction(s) for s in train])
  mean, std = splice.normalization()
  names = splice.feature_names
  assert names[0] == "gc_content" and names[1:] == [
      f"kmer2_{a}{b}" for a in "ACGT" for b in "ACGT"]
  assert mean[0] == pytest.approx(gc.mean(), abs=1e-6)
  assert std[0] == pytest.approx(gc.std(), abs=1e-6)
  cg = np.array([sum(s[i:i + 2] == "CG" for i in range(len(s) - 1)) / (len(s) - 1)
                 for s in train])
  assert mean[names.index("kmer2_CG")] == pytest.approx(cg.mean(), abs=1e-6)


def test_manifest_describes_the_build(splice):
  data = splice.data
  assert data["schema_version"] == 1
  assert data["build_command"] == "test"
  assert data["build_config"]["split_column"] == "statlog_split"
  assert data["sequence"]["length_rule"] == {"length": 60, "align": "center",
                                             "on_longer": "error", "on_shorter": "error"}
  source = data["sources"][0]
  assert source["sha256"] == sha256_file(SPLICE_CSV)
  assert data["split_rule"]["dev_from_train"]["fraction"] == 0.1
  # The StatLog data repeats sequences across its own split; counted, not dropped.
  assert data["sequence_overlaps"]["train_test_shared_sequences"] + data[
      "sequence_overlaps"]["dev_test_shared_sequences"] > 0


def test_parallel_workers_write_the_same_dataset(splice, tmp_path):
  info = build(tmp_path / "ds", input=[SPLICE_CSV], split_column="statlog_split",
               dev_fraction=0.1, seed=0, computed_features=["gc_content", "kmer:k=2"],
               records_per_shard=700, num_workers=2)
  key = lambda r: (r["id"], r["sequence"], r["label"])  # noqa: E731
  for split in ("train", "dev", "test"):
    assert [key(r) for r in read_records(info, split)] == [
        key(r) for r in read_records(splice, split)]
    assert len(info.data["splits"][split]["shards"]) == len(
        splice.data["splits"][split]["shards"])
  np.testing.assert_allclose(info.normalization()[0], splice.normalization()[0],
                             atol=1e-9)
  np.testing.assert_allclose(info.normalization()[1], splice.normalization()[1],
                             atol=1e-9)


def test_split_fractions_are_stratified(tmp_path):
  info = build(tmp_path / "ds", input=[PROM_DIR / "train.csv"],
               split_fractions=(0.8, 0.1, 0.1), seed=3)
  counts = {s: info.data["splits"][s]["class_counts"] for s in ("train", "dev", "test")}
  for label in ("0", "1"):
    total = sum(counts[s][label] for s in counts)
    assert abs(counts["dev"][label] - 0.1 * total) <= 10
    assert abs(counts["test"][label] - 0.1 * total) <= 10
  again = build(tmp_path / "again", input=[PROM_DIR / "train.csv"],
                split_fractions=(0.8, 0.1, 0.1), seed=3)
  assert [r["id"] for r in read_records(again, "test")] == [
      r["id"] for r in read_records(info, "test")]


def _write_fasta(path, records):
  with open(path, "w") as handle:
    for name, seq in records:
      handle.write(f">{name} some description\n")
      for i in range(0, len(seq), 60):
        handle.write(seq[i:i + 60] + "\n")


def test_fasta_labels_per_file_and_from_header(tmp_path):
  with open(PROM_DIR / "dev.csv", newline="") as handle:
    rows = list(csv.DictReader(handle))[:40]
  pos = [(f"p{i}", r["sequence"]) for i, r in enumerate(rows) if r["label"] == "1"]
  neg = [(f"n{i}", r["sequence"].lower()) for i, r in enumerate(rows) if r["label"] == "0"]
  _write_fasta(tmp_path / "pos.fa", pos)
  _write_fasta(tmp_path / "neg.fa", neg)
  info = build(tmp_path / "per_file", train=[f"{tmp_path}/pos.fa:label=promoter",
                                             f"{tmp_path}/neg.fa:label=other"])
  assert info.classes == ["other", "promoter"]
  records = read_records(info, "train")
  assert [r["id"] for r in records] == [n for n, _ in pos + neg]
  assert [r["sequence"] for r in records] == [s.upper() for _, s in pos + neg]
  assert [info.classes[r["label"]] for r in records] == (
      ["promoter"] * len(pos) + ["other"] * len(neg))
  tagged = [(f"{n}|class={'prom' if n[0] == 'p' else 'bg'}", s) for n, s in pos + neg]
  _write_fasta(tmp_path / "tagged.fa", tagged)
  info = build(tmp_path / "regex", train=[tmp_path / "tagged.fa"],
               fasta_label_regex=r"class=(\w+)")
  assert [info.classes[r["label"]] for r in read_records(info, "train")] == (
      ["prom"] * len(pos) + ["bg"] * len(neg))


@pytest.fixture()
def two_contig_genome(tmp_path):
  """The Y. pestis plasmid cut in two contigs, in a temp dir (pyfaidx writes .fai)."""
  plasmid = str(SeqIO.read(str(GENOMES / "NC_005816.fna"), "fasta").seq)
  contigs = {"c1": plasmid[:5000], "c2": plasmid[5000:]}
  path = tmp_path / "genome.fa"
  _write_fasta(path, list(contigs.items()))
  return path, contigs


def test_bed_windows_strand_and_chromosome_split(tmp_path, two_contig_genome):
  genome, contigs = two_contig_genome
  bed = tmp_path / "peaks.bed"
  lines = [("c1", 100, 140, "a", "0", "+", "yes"), ("c1", 2000, 2100, "b", "0", "-", "no"),
           ("c2", 300, 310, "c", "0", "+", "yes"), ("c2", 4590, 4600, "d", "0", "+", "no"),
           ("c1", 10, 20, "e", "0", "+", "yes"), ("c2", 1000, 1050, "f", "0", ".", "no")]
  bed.write_text("track name=test\n" + "".join("\t".join(map(str, l)) + "\n" for l in lines))
  info = build(tmp_path / "ds", input=[bed], reference=str(genome), length=50,
               bed_label_column=7, test_chromosomes=("c2",))
  train, test = read_records(info, "train"), read_records(info, "test")
  assert [r["id"] for r in train] == ["a", "b"]
  assert [r["id"] for r in test] == ["c", "f"]  # d runs past the contig end
  assert info.data["skipped_by_reader"] == {"window_outside_contig": 2}  # d and e
  centre = (100 + 140) // 2
  assert train[0]["sequence"] == contigs["c1"][centre - 25:centre + 25]
  centre = (2000 + 2100) // 2
  assert train[1]["sequence"] == reverse_complement(contigs["c1"][centre - 25:centre + 25])
  assert (train[1]["chrom"], train[1]["start"], train[1]["end"], train[1]["strand"]) == (
      "c1", centre - 25, centre + 25, "-")
  assert info.classes == ["no", "yes"]


def test_provided_columns_with_missing_values(tmp_path):
  rows = read_column(PROM_DIR / "dev.csv", limit=60)
  table = write_table(
      tmp_path / "table.tsv", "id\tsequence\tlabel\tscore\tphylop",
      (f"r{i}\t{seq}\t{i % 2}\t{i * 0.5}\t{'NA' if i % 7 == 3 else i % 5}"
       for i, seq in enumerate(rows)))
  info = build(tmp_path / "ds", train=[table], id_column="id",
               provided_features=("score", "phylop"), missing_values="fill_mean",
               computed_features=["gc_content"])
  assert info.provided_feature_names == ["score", "phylop", "score_missing",
                                         "phylop_missing"]
  records = read_records(info, "train")
  provided = np.array([r["provided"] for r in records])
  assert np.isnan(provided[3, 1]) and provided[3, 3] == 1.0 and provided[2, 3] == 0.0
  mean, std = info.normalization()
  phylop = np.array([np.nan if i % 7 == 3 else i % 5 for i in range(60)])
  assert mean[2] == pytest.approx(np.nanmean(phylop), abs=1e-6)
  assert std[2] == pytest.approx(np.nanstd(phylop), abs=1e-6)
  assert mean[4] == pytest.approx(np.isnan(phylop).mean(), abs=1e-6)
  assert info.data["missing_values"]["missing_counts"] == {"score": 0, "phylop": 9}


def test_bigwig_means_over_windows(tmp_path, two_contig_genome):
  import pyBigWig

  genome, contigs = two_contig_genome
  rng = np.random.default_rng(0)
  values = {c: rng.normal(size=len(s)).astype(np.float32) for c, s in contigs.items()}
  bw_path = str(tmp_path / "cons.bw")
  bw = pyBigWig.open(bw_path, "w")
  bw.addHeader([(c, len(s)) for c, s in contigs.items()])
  for chrom, track in values.items():
    # Leave c2:1000-1100 without data: a missing value.
    keep = np.ones(len(track), bool)
    if chrom == "c2":
      keep[1000:1100] = False
    starts = np.flatnonzero(keep)
    bw.addEntries([chrom] * len(starts), starts.tolist(), ends=(starts + 1).tolist(),
                  values=track[keep].tolist())
  bw.close()
  bed = tmp_path / "x.bed"
  bed.write_text("c1\t100\t200\tw1\ty\nc2\t600\t640\tw2\ty\nc2\t1030\t1070\tw3\tn\n"
                 "c1\t900\t960\tw4\tn\n")
  info = build(tmp_path / "ds", train=[bed], reference=str(genome), length=40,
               bed_label_column=5, bigwig_features=(("cons", bw_path),),
               missing_values="fill_mean")
  records = read_records(info, "train")
  for record in records[:2] + records[3:]:
    expected = values[record["chrom"]][record["start"]:record["end"]].mean()
    assert record["provided"][0] == pytest.approx(expected, abs=1e-5)
  assert np.isnan(records[2]["provided"][0]) and records[2]["provided"][1] == 1.0
  with pytest.raises(Exception, match="missing"):
    build(tmp_path / "strict", train=[bed], reference=str(genome), length=40,
          bed_label_column=5, bigwig_features=(("cons", bw_path),))


def test_genbank_coding_windows(tmp_path):
  gb = GENOMES / "NC_005816.gb"
  info = build(tmp_path / "ds", input=[gb], recipe=_recipe("coding", window=90, stride=90),
               length=90, split_fractions=(1.0, 0.0, 0.0))
  record = SeqIO.read(str(gb), "genbank")
  cds = [(int(f.location.start), int(f.location.end)) for f in record.features
         if f.type == "CDS"]
  annotated = [(int(f.location.start), int(f.location.end)) for f in record.features
               if f.type in ("CDS", "gene")]
  rows = read_records(info, "train")
  assert {info.classes[r["label"]] for r in rows} == {"coding", "intergenic"}
  for r in rows:
    start, end = r["start"], r["end"]
    assert r["sequence"] == str(record.seq[start:end])
    inside = all(any(s <= p < e for s, e in cds) for p in range(start, end))
    clear = not any(s < end and start < e for s, e in annotated)
    assert inside or clear
    assert info.classes[r["label"]] == ("coding" if inside else "intergenic")
  n_windows = len(record.seq) // 90
  assert len(rows) + info.data["skipped_by_reader"]["window_partly_annotated"] == n_windows


def test_genbank_function_recipe(tmp_path):
  gb = GENOMES / "NC_005816.gb"
  info = build(tmp_path / "ds", input=[gb],
               recipe=_recipe("function", min_class_count=2), length=300, align="left",
               on_longer="crop", on_shorter="pad", split_fractions=(1.0, 0.0, 0.0))
  record = SeqIO.read(str(gb), "genbank")
  features = [f for f in record.features if f.type == "CDS"]
  rows = read_records(info, "train")
  assert [r["sequence"] for r in rows] == [str(f.extract(record.seq)) for f in features]
  labels = dict(zip([f.qualifiers["product"][0] for f in features],
                    [info.classes[r["label"]] for r in rows]))
  assert labels["hypothetical protein"] == "hypothetical"
  assert labels["putative transposase"] == "dna_metabolism"
  assert info.data["task"]["merged_classes"]  # rare categories went to "other"
  assert info.data["splits"]["train"]["length_actions"]["cropped"] > 0


def _recipe(name, **kwargs):
  from gslm_keras.data.readers import GenbankRecipe

  return GenbankRecipe(name, **kwargs)


def test_regression_and_multilabel_labels(tmp_path):
  seqs = read_column(PROM_DIR / "dev.csv", limit=30)
  tags = [";".join(t for t, on in (("tata", i % 2), ("cpg", i % 3 == 0)) if on)
          for i in range(len(seqs))]
  table = write_table(tmp_path / "t.csv", "sequence,expr,half_life,tags",
                      (f"{s},{i / 10},{-i},{tags[i]}" for i, s in enumerate(seqs)))
  info = build(tmp_path / "reg", train=[table], task="regression",
               label_columns=("expr", "half_life"))
  labels = [r["label"] for r in read_records(info, "train")]
  np.testing.assert_allclose(labels, [[i / 10, -i] for i in range(30)], rtol=1e-6)
  assert info.label_width == 2
  info = build(tmp_path / "ml", train=[table], task="multilabel", label_columns=("tags",))
  assert info.classes == ["cpg", "tata"]
  labels = [r["label"] for r in read_records(info, "train")]
  assert labels[0] == [1.0, 0.0] and labels[1] == [0.0, 1.0] and labels[2] == [0.0, 0.0]


def test_length_policies_crop_pad_skip(tmp_path):
  seqs = read_column(PROM_DIR / "dev.csv", limit=20)
  table = write_table(tmp_path / "t.csv", "sequence,label",  # 190, 200, 210 bp
                      (f"{s[:200 + 10 * (i % 3 - 1)]},{i % 2}" for i, s in enumerate(seqs)))
  info = build(tmp_path / "a", train=[table], length=200, on_longer="crop",
               on_shorter="pad")
  assert info.data["splits"]["train"]["length_actions"] == {"cropped": 6, "padded": 7}
  # Sequences are stored as read; the window rule is applied when reading.
  assert {len(r["sequence"]) for r in read_records(info, "train")} == {190, 200, 210}
  info = build(tmp_path / "b", train=[table], length=200, on_longer="skip",
               on_shorter="skip")
  assert info.num_records("train") == 7
  assert info.data["splits"]["train"]["length_actions"] == {
      "skipped_shorter": 7, "skipped_longer": 6}


def test_existing_dataset_is_refused_then_replaced(tmp_path):
  out = tmp_path / "ds"
  build(out, train=[PROM_DIR / "dev.csv"])
  with pytest.raises(ConfigError, match="already holds a dataset.*--overwrite"):
    build(out, train=[PROM_DIR / "dev.csv"])
  info = build(out, train=[PROM_DIR / "test.csv"], overwrite=True)
  assert info.num_records("train") == 613
  assert json.loads((out / MANIFEST).read_text())["sources"][0]["path"].endswith("test.csv")
  assert leftovers(tmp_path) == []
  other = tmp_path / "notes"
  other.mkdir()
  (other / "keep.txt").write_text("mine")
  with pytest.raises(ConfigError, match="not empty and holds no dataset"):
    build(other, train=[PROM_DIR / "dev.csv"], overwrite=True)
  assert (other / "keep.txt").read_text() == "mine"


def test_progress_is_logged(tmp_path, caplog):
  import logging

  caplog.set_level(logging.INFO)
  # absl's own logger too: an earlier test in the process (a library's set-up) may
  # have raised its level.
  caplog.set_level(logging.INFO, logger="absl")
  build(tmp_path / "ds", train=[PROM_DIR / "dev.csv"], progress_seconds=0.0)
  assert any(re.search(r"\d+ records read \(\d[\d,]*/s\), \d+%, about .* left", m)
             for m in caplog.messages)


def test_a_python_caller_writes_paths_and_specs_as_on_the_command_line():
  # gk.build_dataset(train="a.csv", computed_features="gc_content,kmer:k=3") is the
  # same build as the parsed specs; a single label column is not split into letters.
  from gslm_keras.data.builder.config import BuildConfig
  from gslm_keras.data.readers import GenbankRecipe, InputSpec
  from gslm_keras.features.spec import parse_specs

  plain = BuildConfig(output_dir="x", train="a.csv:label=1", dev=["b.csv"],
                      computed_features="gc_content, kmer:k=3", label_columns="y",
                      recipe="coding")
  parsed = BuildConfig(output_dir="x", train=(InputSpec.parse("a.csv:label=1"),),
                       dev=(InputSpec.parse("b.csv"),),
                       computed_features=parse_specs(["gc_content", "kmer:k=3"]),
                       label_columns=("y",), recipe=GenbankRecipe("coding"))
  assert plain == parsed
  assert plain.train[0].label == "1"
