"""Language-model corpora (`build_dataset --task=unlabelled`): windows, strands,
soft-masks, N limits, splits and the exclusion of evaluation sequences, checked
against direct computations on real bundled sequence."""

from __future__ import annotations

import gzip
import json
import os

import numpy as np
import pytest
import tensorflow as tf
from Bio import bgzf

from gslm_keras.data.builder.corpus import CorpusConfig, build_corpus
from gslm_keras.data.builder.exclusion import KmerIndex, base_codes
from gslm_keras.data.builder.tiling import TileCounts, TilingRule, pieces, tile, tile_piece
from gslm_keras.data.readers import InputSpec, read_fasta
from gslm_keras.dna.alphabet import reverse_complement

from commands import run_command
from conftest import GENOMES, PROM_DIR, read_column

PLASMID = str(GENOMES / "NC_005816.fna")


def plasmid() -> str:
  return next(read_fasta(PLASMID)).sequence


def corpus(tmp_path, name="corpus", **kwargs) -> CorpusConfig:
  rule = kwargs.pop("rule", TilingRule(length=100, stride=50))
  for key in ("input", "train", "dev", "test"):
    kwargs[key] = tuple(InputSpec.parse(str(p)) for p in kwargs.get(key, ()))
  return CorpusConfig(output_dir=str(tmp_path / name), rule=rule, num_workers=1,
                      progress_seconds=1e9, **kwargs)


def records(info, split):
  out = []
  for path in info.shard_paths(split):
    for raw in tf.data.TFRecordDataset(path, info.compression):
      f = tf.train.Example.FromString(raw.numpy()).features.feature
      out.append({key: f[key].bytes_list.value[0] for key in
                  ("id", "sequence", "source", "soft_mask", "strand")}
                 | {"start": f["start"].int64_list.value[0]})
  return out


def shares_kmer(a: str, b: str, k: int) -> bool:
  """Brute force: a and b (or a and b's reverse complement) share a k-base substring."""
  kmers = {a[i:i + k] for i in range(len(a) - k + 1)}
  return any(s[i:i + k] in kmers for s in (b, reverse_complement(b))
             for i in range(len(s) - k + 1))


def test_kmer_index_matches_brute_force():
  sequence = plasmid()
  # Excluded: pieces of the plasmid, one reverse-complemented, one 31 bases long
  # (too short to exclude anything), one holding an N.
  excluded = [sequence[1000:1040], reverse_complement(sequence[5000:5033]),
              sequence[7000:7031], sequence[8000:8020] + "N" + sequence[8021:8060]]
  index = KmerIndex(32)
  index.add_sequences(excluded)
  hits = index.hits(base_codes(sequence))
  expected = np.array([any(shares_kmer(sequence[i:i + 32], e, 32) for e in excluded)
                       for i in range(len(sequence) - 31)])
  np.testing.assert_array_equal(hits, expected)
  assert hits.sum() == 9 + 2 + 0 + 8  # 40-mer, 33-mer (rc), 31-mer, 39 bases after N.


def test_tiling_windows_strands_soft_mask_and_n():
  sequence = plasmid()[:1000]
  # Soft-mask bases 100-149 and put 20 N in window 400-500.
  sequence = sequence[:100] + sequence[100:150].lower() + sequence[150:420] + "N" * 20 + (
      sequence[440:])
  rule = TilingRule(length=100, stride=50, both_strands=True, max_n_fraction=0.1,
                    split_fractions=(1.0, 0.0, 0.0))
  counts = TileCounts()
  out = list(tile(sequence, "plasmid", "yp", rule, None, counts))
  starts = [r.start for _, r in out if r.strand == "+"]
  # Windows starting at 350, 400 hold 20 N: more than 10%.
  assert starts == [s for s in range(0, 901, 50) if s not in (350, 400)]
  assert counts.dropped["too_many_n"] == 2 and counts.windows["train"] == 2 * len(starts)
  for (_, forward), (_, reverse) in zip(out[::2], out[1::2]):
    s = forward.start
    assert forward.sequence == sequence[s:s + 100].upper()
    assert reverse.sequence == reverse_complement(forward.sequence)
    flags = np.frombuffer(forward.soft_mask, np.uint8)
    np.testing.assert_array_equal(flags, [c.islower() for c in sequence[s:s + 100]])
    np.testing.assert_array_equal(np.frombuffer(reverse.soft_mask, np.uint8), flags[::-1])
  assert counts.soft_masked_bases == 50


@pytest.mark.parametrize("stride,piece_bases", [(50, 2000), (37, 1500), (128, 7000)])
def test_pieces_tile_as_the_whole(stride, piece_bases):
  """A long sequence cut into pieces (how Beam spreads a chromosome) gives the same
  windows, splits and counts as tiling it whole: soft-masked bases, an N run, an
  excluded stretch, split blocks smaller than a piece and larger than one."""
  sequence = plasmid()
  sequence = (sequence[:700] + sequence[700:900].lower() + sequence[900:3000] + "N" * 60
              + sequence[3060:])
  index = KmerIndex(32)
  index.add_sequences([sequence[5000:5100]])
  rule = TilingRule(length=128, stride=stride, both_strands=True, split_block=1000,
                    max_n_fraction=0.1)
  whole_counts, piece_counts = TileCounts(), TileCounts()
  whole = list(tile(sequence, "plasmid", "yp", rule, index, whole_counts, None, "c", 10))
  parts = pieces(len(sequence), rule, piece_bases)
  assert len(parts) > 1 and parts[0][0] == 0
  cut = [window for first, stop, end in parts for window in tile_piece(
      sequence[first:end], first, stop, len(sequence), "plasmid", "yp", rule, index,
      piece_counts, None, "c", 10)]
  assert cut == whole
  assert piece_counts.to_json() == whole_counts.to_json()
  dropped = whole_counts.dropped
  assert dropped["excluded"] > 0 and dropped["split_boundary"] > 0
  assert dropped["too_many_n"] > 0 or stride == 128  # That run of N falls on a boundary.


def test_build_from_gzip_bgzip_table_and_bed(tmp_path):
  sequence = plasmid()
  gz = tmp_path / "plasmid.fa.gz"
  with gzip.open(gz, "wt") as handle:
    handle.write(f">p1\n{sequence[:5000]}\n")
  bgz = tmp_path / "plasmid2.fa.bgz"
  with bgzf.BgzfWriter(str(bgz), "wb") as handle:
    handle.write(f">p2\n{sequence[5000:].lower()}\n".encode())
  reference = tmp_path / "ref.fa"
  reference.write_text(f">chrP\n{sequence}\n")
  bed = tmp_path / "regions.bed"
  bed.write_text("chrP\t100\t420\tr1\t0\t+\nchrP\t2000\t2150\tr2\t0\t-\n")
  info = build_corpus(corpus(
      tmp_path, input=[f"{gz}:source=yp_a", f"{bgz}:source=yp_b",
                       f"{PROM_DIR / 'dev.csv'}:source=human", f"{bed}:source=bed"],
      reference=str(reference)))
  sources = info.corpus["sources"]
  assert sources["yp_a"]["bases"] == 5000 and sources["yp_b"]["bases"] == len(sequence) - 5000
  assert sources["yp_b"]["soft_masked_bases"] == len(sequence) - 5000
  assert sources["human"]["records"] == len(read_column(PROM_DIR / "dev.csv"))
  # BED: 320 bases give windows at 0, 50 ... 200; the '-' interval is read
  # reverse-complemented (150 bases: windows at 0 and 50).
  assert sum(sources["bed"]["windows"].values()) == 5 + 2
  everything = [r for split in info.splits for r in records(info, split)]
  by_source = {}
  for r in everything:
    by_source.setdefault(r["source"].decode(), []).append(r)
  for r in by_source["yp_b"]:
    assert set(np.frombuffer(r["soft_mask"], np.uint8)) == {1}
  minus = [r for r in by_source["bed"] if r["id"].startswith(b"bed/r2")]
  assert minus[0]["sequence"].decode() == reverse_complement(sequence[2000:2150])[:100]
  total = sum(sum(s["windows"].values()) for s in sources.values())
  assert total == sum(info.num_records(s) for s in info.splits) == len(everything)


def test_exclusion_drops_every_window_sharing_32_bases(tmp_path):
  train = read_column(PROM_DIR / "train.csv", limit=300)
  test = read_column(PROM_DIR / "test.csv", limit=200)
  # Plant pieces of test promoters (one reverse-complemented, one 31 bases) in
  # the corpus input.
  planted = list(train)
  planted[5] = planted[5][:100] + test[0][50:90] + planted[5][140:]
  planted[9] = planted[9][:10] + reverse_complement(test[1][:35]) + planted[9][45:]
  planted[12] = planted[12][:200] + test[2][100:131] + planted[12][231:]
  table = tmp_path / "train.csv"
  table.write_text("sequence\n" + "\n".join(planted) + "\n")
  excluded = tmp_path / "test.fa"
  excluded.write_text("".join(f">t{i}\n{s}\n" for i, s in enumerate(test)))
  rule = TilingRule(length=100, stride=100, split_fractions=(1.0, 0.0, 0.0))
  info = build_corpus(corpus(tmp_path, input=[table], exclude=(str(excluded),), rule=rule))
  kept = [r["sequence"].decode() for r in records(info, "train")]
  windows = [s[i:i + 100] for s in planted for i in range(0, len(s) - 99, 100)]
  # Brute force, with Python strings: every 32-base substring of the excluded
  # sequences and of their reverse complements.
  excluded_kmers = {s[i:i + 32] for t in test for s in (t, reverse_complement(t))
                    for i in range(len(s) - 31)}
  expected = [w for w in windows
              if not any(w[i:i + 32] in excluded_kmers for i in range(len(w) - 31))]
  assert sorted(kept) == sorted(expected)
  dropped = info.corpus["sources"]["train"]["dropped"]["excluded"]
  assert dropped == len(windows) - len(expected) >= 2
  exclusion = info.corpus["exclusion"]
  assert exclusion["files"][0]["sequences"] == 200 and exclusion["k"] == 32
  assert exclusion["windows_dropped"] == dropped


def test_the_same_sequence_in_two_inputs_lands_in_one_split(tmp_path):
  rows = read_column(PROM_DIR / "train.csv", limit=400)
  a, b = tmp_path / "a.csv", tmp_path / "b.csv"
  a.write_text("sequence\n" + "\n".join(rows) + "\n")
  b.write_text("sequence\n" + "\n".join(reverse_complement(s) for s in rows[::-1]) + "\n")
  rule = TilingRule(length=300, stride=300, split_fractions=(0.5, 0.25, 0.25))
  info = build_corpus(corpus(tmp_path, input=[a, b], rule=rule))
  overlaps = info.data["sequence_overlaps"]
  assert overlaps["train_dev_shared_sequences"] == 0
  assert overlaps["train_test_shared_sequences"] == 0
  assert min(info.num_records(s) for s in ("train", "dev", "test")) > 100


def _cli(*args):
  return run_command("gslm_keras.build_dataset", *args,
                     env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"), timeout=180)


@pytest.mark.parametrize("case", ["all_n", "too_short", "missing_exclude", "dir_exclude",
                                  "binary_exclude", "all_excluded"])
def test_bad_corpus_input_is_one_line_and_leaves_nothing(tmp_path, case):
  fasta = tmp_path / "in.fa"
  fasta.write_text(">a\n" + ("N" * 500 if case == "all_n" else "ACGT" * 10) + "\n"
                   if case in ("all_n", "too_short") else f">a\n{plasmid()[:2000]}\n")
  binary = tmp_path / "binary.fa"
  binary.write_bytes(bytes(range(256)) * 4)
  exclude = {"missing_exclude": str(tmp_path / "nope.csv"), "dir_exclude": str(tmp_path),
             "binary_exclude": str(binary), "all_excluded": str(fasta)}.get(case)
  out = tmp_path / "out"
  args = ["--task=unlabelled", f"--input={fasta}", "--length=100", f"--output_dir={out}",
          "--num_workers=1"] + ([f"--exclude={exclude}"] if exclude else [])
  result = _cli(*args)
  assert result.returncode == 1, result.stderr
  lines = [line for line in result.stderr.splitlines() if line.startswith("error")]
  assert len(lines) == 1 and "Traceback" not in result.stderr
  expected = {"all_n": "5 too many n", "too_short": "1 shorter than the length",
              "missing_exclude": "exclusion file not found",
              "dir_exclude": "is a directory",
              "binary_exclude": "cannot read the exclusion file",
              # The advice follows the counts: the windows were excluded, not short.
              "all_excluded": "excluded); every window shares a 32-base stretch with an "
                              "--exclude sequence"}[case]
  assert expected in lines[0] and str(fasta if "exclude" not in case else exclude) in (
      lines[0]), lines[0]
  assert case != "all_excluded" or "shorter --length" not in lines[0]
  assert not out.exists()
  assert not [p for p in os.listdir(tmp_path) if p.startswith(".out")]


def test_manifest_records_the_corpus(tmp_path):
  info = build_corpus(corpus(tmp_path, input=[f"{PLASMID}:source=yp"],
                             rule=TilingRule(length=128, stride=64, both_strands=True,
                                             split_block=2000)))
  data = json.loads((tmp_path / "corpus" / "dataset_info.json").read_text())
  assert data["task"] == {"type": "unlabelled"} and info.is_corpus
  assert data["corpus"]["length"] == 128 and data["corpus"]["both_strands"]
  assert data["split_rule"]["rule"] == "blocks"
  windows = data["corpus"]["sources"]["yp"]["windows"]
  assert sum(windows.values()) == sum(info.num_records(s) for s in info.splits)
