"""`build_dataset --engine=beam`: the same records per split, counts and statistics
as the streaming builder, the same one-line errors, nothing final after a failure,
and the same bytes when run again."""

from __future__ import annotations

import contextlib
import glob
import os
import pathlib
import random
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

beam = pytest.importorskip("apache_beam")

from apache_beam.testing import test_pipeline  # noqa: E402
from apache_beam.testing.util import assert_that, equal_to  # noqa: E402

from gslm_keras.data.beam import common  # noqa: E402
from gslm_keras.data.beam.corpus import build_corpus_on_beam  # noqa: E402
from gslm_keras.data.beam.engine import build_on_beam  # noqa: E402
from gslm_keras.data.beam.labelled import AssignSplit  # noqa: E402
from gslm_keras.data.builder.builder import BuildConfig, build_dataset  # noqa: E402
from gslm_keras.data.builder.corpus import CorpusConfig  # noqa: E402
from gslm_keras.data.builder.splits import SplitAssigner  # noqa: E402
from gslm_keras.data.builder.stats import Moments  # noqa: E402
from gslm_keras.data.builder.tiling import TilingRule  # noqa: E402
from gslm_keras.data.dataset_info import MANIFEST, DatasetInfo  # noqa: E402
from gslm_keras.data.readers import GenbankRecipe  # noqa: E402
from gslm_keras.errors import ConfigError, InputError  # noqa: E402
from gslm_keras.features import parse_specs  # noqa: E402

from conftest import GENOMES, PROM_DIR, REPO, read_column  # noqa: E402
from helpers import (alive, assert_same_data, descendants, leftovers, specs,  # noqa: E402
                     wait_for, write_table)


def both(tmp_path, make_config, options=None):
  """(streaming, beam) datasets of the config `make_config(output_dir)` makes."""
  streaming = build_dataset(make_config(str(tmp_path / "streaming")))
  on_beam = build_on_beam(make_config(str(tmp_path / "beam")), options)
  assert on_beam.data["build_engine"] == "beam"
  return streaming, on_beam


def test_split_transform_gives_the_streaming_splits():
  """AssignSplit, fed records out of order with per-file ranks and the files'
  counts as a side input, gives each record the split the streaming assigner
  gives it in input order (stratified fractions and a dev carve-out)."""
  rng = random.Random(3)
  sizes = [700, 0, 1300, 450]
  strata = {(s, n): rng.choice("ab") for s, size in enumerate(sizes)
            for n in range(1, size + 1)}
  streaming = SplitAssigner((0.8, 0.0, 0.2), dev_fraction=0.1, seed=7)
  expected = [((s, n), streaming.assign(strata[s, n], None, None, None, "f", "r"))
              for s, n in sorted(strata)]
  elements, counts = [], {s: {} for s in range(len(sizes))}
  for (s, n), stratum in sorted(strata.items()):
    rank, train = counts[s].get(stratum, (0, 0))
    counts[s][stratum] = (rank + 1, train)  # First stage unknown: fractions decide.
    elements.append(((s, n), None, 0, stratum, None, rank, 0))
  rng.shuffle(elements)
  config = BuildConfig(output_dir="unused", input=specs(PROM_DIR / "dev.csv"),
                       split_fractions=(0.8, 0.0, 0.2), dev_fraction=0.1, seed=7)
  with test_pipeline.TestPipeline() as pipeline:
    side = pipeline | "Counts" >> beam.Create(list(counts.items()))
    splits = (pipeline | beam.Create(elements)
              | beam.ParDo(AssignSplit(config), counts=beam.pvalue.AsDict(side))
              | beam.Map(lambda e: (e[0], e[3])))
    assert_that(splits, equal_to(expected))
  assert {split for _, split in expected} == {"train", "dev", "test"}


def test_moments_combine_equals_one_pass():
  """MergeCombineFn over shard moments (in any grouping) equals the moments of
  all rows at once, NaN left out."""
  rng = np.random.default_rng(0)
  parts = [rng.normal(3.0, 2.0, size=(n, 4)) for n in (5, 300, 1, 77)]
  parts[1][::7, 2] = np.nan
  whole = Moments.of(np.concatenate(parts))

  def close(actual):
    (total,) = actual
    np.testing.assert_allclose(total.count, whole.count, rtol=0)
    np.testing.assert_allclose(total.mean, whole.mean, rtol=1e-12)
    np.testing.assert_allclose(total.m2, whole.m2, rtol=1e-12)

  with test_pipeline.TestPipeline() as pipeline:
    combined = (pipeline | beam.Create([Moments.of(p) for p in parts] + [None])
                | beam.CombineGlobally(common.MergeCombineFn()))
    assert_that(combined, close)


def fasta_files(tmp_path) -> tuple[str, str]:
  """Two labelled FASTA files of promoters with varied lengths (some shorter than
  250 and skipped, the longer cropped)."""
  rows = read_column(PROM_DIR / "train.csv", limit=900)
  paths = []
  for label, chunk in (("0", rows[:500]), ("1", rows[500:])):
    path = tmp_path / f"class{label}.fa"
    with open(path, "w") as handle:
      for i, sequence in enumerate(chunk):
        handle.write(f">s{label}_{i}\n{sequence[:200 + (i * 37) % 100]}\n")
    paths.append(f"{path}:label={label}")
  return tuple(paths)


def test_fasta_fractions_and_dev_carve_out_same_data(tmp_path):
  inputs = fasta_files(tmp_path)

  def config(out):
    return BuildConfig(output_dir=out, input=specs(*inputs),
                       split_fractions=(0.8, 0.0, 0.2), dev_fraction=0.15, seed=4,
                       length=250, on_longer="crop", on_shorter="skip",
                       computed_features=parse_specs(["gc_content", "kmer:k=2"]),
                       records_per_shard=150, num_workers=1, progress_seconds=1e9)

  streaming, on_beam = both(tmp_path, config)
  assert_same_data(streaming, on_beam)
  actions = streaming.data["splits"]["train"]["length_actions"]
  assert actions["cropped"] > 0 and actions["skipped_shorter"] > 0
  assert min(streaming.num_records(s) for s in ("train", "dev", "test")) > 0


def test_a_killed_writers_temporary_file_never_reaches_the_dataset(tmp_path, monkeypatch):
  # A worker killed while writing a shard, whose bundle the runner retried on
  # another worker, leaves its temporary file beside the shards (a cluster case:
  # planted here after the pipeline ran). The dataset holds the manifest and the
  # shards it lists, nothing else.
  inputs = fasta_files(tmp_path)
  run = common.run
  planted = []

  def run_then_plant(pipeline):
    run(pipeline)
    (shards,) = glob.glob(str(tmp_path / ".beam.building-*" / ".beam" / "shards"))
    planted.append(os.path.join(shards, ".train-00000.tmp-k1ll3d"))
    with open(planted[-1], "wb") as handle:
      handle.write(b"half a shard")

  monkeypatch.setattr(common, "run", run_then_plant)
  info = build_on_beam(BuildConfig(
      output_dir=str(tmp_path / "beam"), input=specs(*inputs), seed=4, length=250,
      split_fractions=(0.8, 0.1, 0.1),
      on_longer="crop", on_shorter="skip", records_per_shard=150,
      progress_seconds=1e9), None)
  assert planted
  listed = {shard["file"] for split in info.data["splits"].values()
            for shard in split["shards"]}
  assert sorted(os.listdir(tmp_path / "beam")) == sorted(listed | {MANIFEST})
  assert len(listed) > 3 and not leftovers(tmp_path)


def test_genbank_recipe_same_data(tmp_path):
  """The coding recipe on the Y. pestis plasmid: overlapping windows, the recipe's
  classes, a stratified split, Fickett and ORF statistics."""

  def config(out):
    return BuildConfig(output_dir=out, input=specs(GENOMES / "NC_005816.gb"),
                       recipe=GenbankRecipe(name="coding", window=90, stride=45),
                       length=90, split_fractions=(0.8, 0.1, 0.1),
                       computed_features=parse_specs(["fickett", "orf_fraction"]),
                       num_workers=1, progress_seconds=1e9)

  streaming, on_beam = both(tmp_path, config)
  assert_same_data(streaming, on_beam)
  assert streaming.classes == ["coding", "intergenic"]


def two_contig_genome(tmp_path):
  sequence = "".join(read_column(PROM_DIR / "test.csv", limit=60))
  contigs = {"c1": sequence[:9000], "c2": sequence[9000:]}
  path = tmp_path / "genome.fa"
  path.write_text("".join(f">{name}\n{seq}\n" for name, seq in contigs.items()))
  return str(path), contigs


def bigwig(tmp_path, contigs) -> str:
  import pyBigWig

  rng = np.random.default_rng(1)
  path = str(tmp_path / "cons.bw")
  handle = pyBigWig.open(path, "w")
  handle.addHeader([(c, len(s)) for c, s in contigs.items()])
  for chrom, sequence in contigs.items():
    starts = np.arange(0, len(sequence) - 3000 if chrom == "c2" else len(sequence))
    handle.addEntries([chrom] * len(starts), starts.tolist(),
                      ends=(starts + 1).tolist(),
                      values=rng.normal(size=len(starts)).tolist())
  handle.close()
  return path


def test_bed_reference_bigwig_chromosome_split_same_data(tmp_path):
  genome, contigs = two_contig_genome(tmp_path)
  track = bigwig(tmp_path, contigs)
  rng = np.random.default_rng(2)
  lines = []
  for i in range(400):
    chrom = "c1" if i % 3 else "c2"
    start = int(rng.integers(0, len(contigs[chrom]) - 50))
    lines.append(f"{chrom}\t{start}\t{start + 60}\tp{i}\t0\t{'+-'[i % 2]}\t{i % 2}\n")
  lines.append("c1\t5\t10\tedge\t0\t+\t1\n")  # Its window runs off the contig.
  bed = tmp_path / "peaks.bed"
  bed.write_text("".join(lines))

  def config(out):
    return BuildConfig(output_dir=out, input=specs(bed), reference=genome, length=80,
                       bed_label_column=7, test_chromosomes=("c2",), dev_fraction=0.2,
                       bigwig_features=(("cons", track),), missing_values="fill_mean",
                       computed_features=parse_specs(["gc_content"]),
                       records_per_shard=64, num_workers=1, progress_seconds=1e9)

  streaming, on_beam = both(tmp_path, config)
  assert_same_data(streaming, on_beam)
  assert streaming.data["skipped_by_reader"]["window_outside_contig"] >= 1
  assert streaming.data["missing_values"]["missing_counts"]["cons"] > 0


def test_corpus_with_exclusion_same_data_and_same_bytes_again(tmp_path):
  test_set = write_table(tmp_path / "held_out.csv", "sequence",
                         [read_column(PROM_DIR / "test.csv", limit=1)[0],
                          "".join(open(GENOMES / "NC_005816.fna").read().split("\n")[1:])
                          [2000:2400]])

  def config(out):
    return CorpusConfig(
        output_dir=out, rule=TilingRule(length=128, stride=64, both_strands=True,
                                        split_block=2000),
        input=specs(f"{GENOMES / 'NC_005816.fna'}:source=plasmid",
                    f"{GENOMES / 'NC_000932.gb'}:source=chloroplast"),
        exclude=(test_set,), exclude_k=32, records_per_shard=700, num_workers=1,
        progress_seconds=1e9, overwrite=True)

  streaming = build_dataset(config(str(tmp_path / "streaming")))
  # Sequences longer than 20 kb (the chloroplast) are tiled in pieces.
  on_beam = build_corpus_on_beam(config(str(tmp_path / "beam")), None, piece_bases=20_000)
  assert_same_data(streaming, on_beam)
  corpus = on_beam.data["corpus"]
  assert corpus["exclusion"]["windows_dropped"] > 0
  again = build_corpus_on_beam(config(str(tmp_path / "beam")), None, piece_bases=20_000)
  for split in ("train", "dev", "test"):
    first = [s["sha256"] for s in on_beam.data["splits"][split]["shards"]]
    assert [s["sha256"] for s in again.data["splits"][split]["shards"]] == first
  assert not leftovers(tmp_path)


def test_bad_record_same_error_nothing_written_then_the_same_data(tmp_path):
  rows = read_column(PROM_DIR / "dev.csv", limit=300)
  rows[150] = rows[150][:40] + "Z" + rows[150][41:]   # Row 152 of the file.
  rows[260] = rows[260][:100]                          # Too short, later.
  table = write_table(tmp_path / "bad.csv", "sequence,label",
                      (f"{s},{i % 2}" for i, s in enumerate(rows)))

  def config(out):
    return BuildConfig(output_dir=out, input=specs(table),
                       split_fractions=(0.8, 0.1, 0.1), num_workers=1,
                       progress_seconds=1e9)

  with pytest.raises(InputError) as streaming:
    build_dataset(config(str(tmp_path / "streaming")))
  with pytest.raises(InputError) as on_beam:
    build_on_beam(config(str(tmp_path / "beam")))
  assert str(on_beam.value) == str(streaming.value)
  assert "line 152" in str(on_beam.value) and "'Z'" in str(on_beam.value)
  assert not os.path.exists(tmp_path / "beam") and not leftovers(tmp_path)
  with pytest.raises(ConfigError, match="--beam_pipeline_options=.*NoSuchRunner"):
    build_on_beam(config(str(tmp_path / "beam")), "--runner=NoSuchRunner")
  # Mended, the same command builds what the streaming builder builds.
  rows[150], rows[260] = rows[149], rows[259]
  write_table(tmp_path / "bad.csv", "sequence,label",
              (f"{s},{i % 2}" for i, s in enumerate(rows)))
  assert_same_data(build_dataset(config(str(tmp_path / "streaming"))),
                   build_on_beam(config(str(tmp_path / "beam"))))


_DRIVER = """
import subprocess, sys, time
from gslm_keras.data.beam.common import _WorkersDieWithTheDriver
worker = _WorkersDieWithTheDriver.Popen(sys.argv[1], shell=True)
print(worker.pid, flush=True)
time.sleep(120)
"""


def test_a_local_worker_is_its_shell_command_and_dies_with_the_driver(tmp_path, monkeypatch):
  """Beam's local job service starts each SDK worker through the `subprocess` of
  `common._WorkersDieWithTheDriver`: the worker is the command itself (its pid the
  one Beam waits on and kills), started without a preexec_fn (forking a Beam
  driver's threads can hang), and it dies with a driver killed by SIGKILL."""
  said, asked = tmp_path / "said.txt", []
  popen = subprocess.Popen
  monkeypatch.setattr(subprocess, "Popen", lambda *a, **k: asked.append(k) or popen(*a, **k))
  worker = common._WorkersDieWithTheDriver.Popen(  # noqa: SLF001
      f"printf '%s|%s' \"$0\" 'a b' > {said}", shell=True)
  assert worker.wait(timeout=30) == 0 and said.read_text() == "/bin/sh|a b"
  assert asked and all(k.get("preexec_fn") is None for k in asked)
  monkeypatch.undo()
  with subprocess.Popen([sys.executable, "-c", _DRIVER, "sleep 97"], cwd=REPO,
                        stdout=subprocess.PIPE, text=True) as driver:
    try:
      pid = int(driver.stdout.readline())
      command_line = pathlib.Path(f"/proc/{pid}/cmdline")
      wait_for(lambda: command_line.read_bytes() == b"sleep\x0097\x00", 30,
               "the worker to be the command")
    finally:
      driver.kill()
  wait_for(lambda: not alive(pid), 5, "the worker to die with the driver")


def test_a_worker_whose_driver_is_gone_before_it_starts_does_not_run():
  from gslm_keras.startup import dying_with_parent

  argv = dying_with_parent(["true"])
  argv[argv.index(str(os.getpid()))] = "1"  # A parent other than the one it has.
  assert subprocess.run(argv, timeout=30).returncode == 1


@pytest.mark.slow
def test_killed_beam_build_leaves_nothing_and_reruns_to_the_same_records(tmp_path):
  """The command line on the bundled promoter data (4,904 rows), the DirectRunner
  with two worker processes, killed with SIGKILL while shards are written: no
  dataset, the workers die with the build at once and quietly (no gRPC traceback on
  the terminal they share), and the next run removes the leftovers and writes the
  records of an uninterrupted (streaming) build, byte for byte."""
  big = PROM_DIR / "train.csv"
  out = tmp_path / "ds"
  command = [sys.executable, "-m", "gslm_keras.build_dataset", f"--input={big}",
             "--split_fractions=0.8,0.1,0.1", "--computed_features=gc_content,kmer:k=4",
             "--records_per_shard=400", f"--output_dir={out}", "--engine=beam",
             "--beam_pipeline_options=--direct_running_mode=multi_processing "
             "--direct_num_workers=2"]
  terminal = open(tmp_path / "terminal.txt", "w")
  build = subprocess.Popen(command, cwd=REPO, stdout=terminal, stderr=terminal)

  def writing():
    work = [p for p in tmp_path.iterdir() if p.name.startswith(".ds.building-")]
    return bool(work) and any((work[0] / ".beam" / "shards").glob("*"))

  try:
    wait_for(writing, 300, "shards being written")
  except AssertionError:
    # Nothing written in 5 minutes (a DirectRunner worker that never started, seen
    # once under load): the build and its workers go with the test, not after it.
    for pid in descendants(build.pid):
      with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    build.kill()
    build.wait()
    raise
  workers = descendants(build.pid)
  build.kill()
  build.wait()
  killed, said_before = time.monotonic(), os.path.getsize(tmp_path / "terminal.txt")
  wait_for(lambda: not any(alive(p) for p in workers), 30, "the workers to die")
  assert time.monotonic() - killed < 3, "the workers outlived the driver"
  time.sleep(2)  # What a surviving worker would print, it has printed by now.
  terminal.close()
  with open(tmp_path / "terminal.txt", "rb") as handle:
    handle.seek(said_before)
    after = handle.read().decode(errors="replace")
  assert after.strip() == "", after[-3000:]  # Nothing reached the terminal after the kill.
  assert not out.exists()
  assert any(".building-" in name for name in os.listdir(tmp_path))
  again = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=600)
  assert again.returncode == 0, again.stderr[-3000:]
  assert "Removed what an interrupted run left beside" in again.stderr
  assert not leftovers(tmp_path)
  streaming = build_dataset(BuildConfig(
      output_dir=str(tmp_path / "streaming"), input=specs(big),
      split_fractions=(0.8, 0.1, 0.1),
      computed_features=parse_specs(["gc_content", "kmer:k=4"]),
      records_per_shard=400, progress_seconds=1e9))
  assert_same_data(streaming, DatasetInfo.load(str(out), verify="full"))
