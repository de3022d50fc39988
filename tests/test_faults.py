"""Faults, for real: kills, two writers, read-only and full filesystems, damaged
inputs. After each, the earlier output is byte-identical, nothing is left behind
and the user read one line.

Each case is recorded with its outcome; `GSLM_FAULTS_REPORT=<path.md>` writes them
as the table in benchmarks/results/faults.md (`python -m benchmarks.faults`).
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import json
import os
import pathlib
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from gslm_keras.io.outputs import OutputLock

from commands import run_command
from conftest import PROM_DIR, REPO, SPLICE_CSV, read_column
from helpers import alive as _alive, children, wait_for as _wait_for, write_table

PY = sys.executable
ENV = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
TINY = ["--flagfile=models/tiny.flags", "--verbose=0"]
GENOME = REPO / "datasets/genomes/NC_005816.fna"


def _run(module, *args, timeout=600):
  return run_command(module, *args, env=ENV, timeout=timeout)


def _start(*args):
  return subprocess.Popen([PY, "-m", *args], cwd=REPO, env=ENV,
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def one_line_error(result) -> str:
  """The error line of a failed command; fails unless it is one line, no traceback."""
  assert result.returncode != 0, result.stdout[-2000:]
  assert "Traceback" not in result.stderr, result.stderr[-3000:]
  lines = [l for l in result.stderr.splitlines() if l.startswith("error: ")]
  assert len(lines) == 1, result.stderr[-3000:]
  return lines[0]


def tree_digest(path) -> dict[str, str]:
  """sha256 of every file below `path`, by relative name."""
  path = pathlib.Path(path)
  return {str(p.relative_to(path)): hashlib.sha256(p.read_bytes()).hexdigest()
          for p in sorted(path.rglob("*")) if p.is_file()}


def litter(parent) -> list[str]:
  """Hidden temporary entries a writer leaves beside its outputs."""
  return sorted(name for name in os.listdir(parent) if name.startswith(".")
                and any(f".{kind}" in name for kind in
                        ("building", "exporting", "tmp", "body", "old", "next", "lock")))


@contextlib.contextmanager
def _tmpfs(path, size="2m", read_only=False):
  """A small tmpfs at `path` (skips the test where mounting is not allowed)."""
  path.mkdir(parents=True, exist_ok=True)
  options = f"size={size}" + (",ro" if read_only else "")
  mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(path)],
                           capture_output=True)
  if mounted.returncode != 0:
    pytest.skip("cannot mount a tmpfs here (needs root)")
  try:
    yield path
  finally:
    subprocess.run(["umount", "-l", str(path)], capture_output=True)


# -- shared inputs ---------------------------------------------------------------


@pytest.fixture(scope="module")
def big_csv(tmp_path_factory):
  """GUE prom_300_tata train, 8 times over (39k rows): a build of several seconds."""
  path = tmp_path_factory.mktemp("inputs") / "big.csv"
  rows = (PROM_DIR / "train.csv").read_text().splitlines()
  with open(path, "w") as handle:
    handle.write(rows[0] + "\n")
    for copy in range(8):
      handle.writelines(f"{row}\n" for row in rows[1:])
  return path


@pytest.fixture(scope="module")
def splice_data(tmp_path_factory):
  out = tmp_path_factory.mktemp("data") / "splice"
  result = _run("gslm_keras.build_dataset", "--flagfile=datasets/splice_statlog/build.flags",
                f"--output_dir={out}", "--num_workers=1")
  assert result.returncode == 0, result.stderr
  return out


@pytest.fixture(scope="module")
def tiny_model(splice_data, tmp_path_factory):
  out = tmp_path_factory.mktemp("runs") / "tiny"
  result = _run("gslm_keras.train", *TINY, f"--data_dir={splice_data}",
                f"--model_dir={out}", "--epochs=1")
  assert result.returncode == 0, result.stderr
  # No error-level line from oneDNN (an int32 matrix product, now avoided).
  assert "oneDNN" not in result.stderr and "E0000" not in result.stderr, result.stderr
  return out


@pytest.fixture(scope="module")
def query_fasta(tmp_path_factory):
  path = tmp_path_factory.mktemp("query") / "q.fa"
  rows = read_column(SPLICE_CSV, limit=400)
  path.write_text("".join(f">q{i}\n{s}\n" for i, s in enumerate(rows)))
  return path


# -- one writer per output ---------------------------------------------------------


def test_two_builds_into_one_directory(big_csv, tmp_path, fault_log):
  out = tmp_path / "ds"
  args = ("gslm_keras.build_dataset", f"--input={big_csv}",
          "--split_fractions=0.8,0.1,0.1", "--computed_features=gc_content",
          "--num_workers=2", "--records_per_shard=4000", f"--output_dir={out}")
  first = _start(*args)
  _wait_for(lambda: os.path.exists(tmp_path / ".ds.lock"), what="the first build's lock")
  second = _run(*args)
  line = one_line_error(second)
  assert f"{out} is being written by another process (pid {first.pid} on " in line
  assert "wait for it to finish, or write to another path" in line
  assert first.wait(timeout=600) == 0, first.stderr.read()[-2000:]
  assert (out / "dataset_info.json").exists() and litter(tmp_path) == []
  fault_log("two `build_dataset` into one directory at once",
            f"the second exits 1 at once: `{line[:160]}...`; the first completes", kind="clear error")


@pytest.mark.parametrize("tool", ["build_dataset", "train", "evaluate", "export",
                                  "predict", "embed", "scan", "score_variants",
                                  "interpret"])
def test_every_tool_refuses_an_output_being_written(tool, splice_data, tiny_model,
                                                    query_fasta, tmp_path, fault_log):
  targets = {
      "build_dataset": (tmp_path / "ds", ["--flagfile=datasets/splice_statlog/build.flags",
                                          f"--output_dir={tmp_path / 'ds'}"]),
      "train": (tmp_path / "run", [*TINY, f"--data_dir={splice_data}",
                                   f"--model_dir={tmp_path / 'run'}"]),
      "evaluate": (tiny_model, [f"--model_dir={tiny_model}"]),
      "export": (tmp_path / "exp" / "m" / "1", [f"--model_dir={tiny_model}",
                                                f"--export_base={tmp_path / 'exp'}",
                                                "--model_name=m"]),
      "predict": (tmp_path / "p.tsv", [f"--model={tiny_model}", f"--input={query_fasta}",
                                       f"--output={tmp_path / 'p.tsv'}"]),
      "embed": (tmp_path / "e.npz", [f"--model={tiny_model}", f"--input={query_fasta}",
                                     f"--output={tmp_path / 'e.npz'}"]),
      "scan": (tmp_path / "e.bed", [f"--model={tiny_model}", f"--genome={GENOME}",
                                    f"--output={tmp_path / 'e.bed'}", "--threshold=0.5",
                                    "--element_column=EI"]),
      "score_variants": (tmp_path / "s.tsv", [
          f"--model={tiny_model}", f"--output={tmp_path / 's.tsv'}",
          f"--variants={_variant_table(tmp_path)}"]),
      "interpret": (tmp_path / "i", ["ism", f"--model={tiny_model}",
                                     f"--output_dir={tmp_path / 'i'}",
                                     f"--sequence={read_column(SPLICE_CSV, limit=1)[0]}"]),
  }
  target, args = targets[tool]
  with OutputLock(str(target), "test"):
    line = one_line_error(_run(f"gslm_keras.{tool}", *args))
  assert f"is being written by another process (pid {os.getpid()} on " in line, line
  fault_log(f"`{tool}` while another process holds its output",
            "exits 1 at once naming the holder (pid, host, start time, command)", kind="clear error")


def _variant_table(tmp_path) -> pathlib.Path:
  sequence = read_column(SPLICE_CSV, limit=1)[0]
  return pathlib.Path(write_table(tmp_path / "v.tsv", "id\tsequence\tposition\tref\talt",
                                  [f"v{p}\t{sequence}\t{p}\t{sequence[p]}\t"
                                   f"{'A' if sequence[p] != 'A' else 'C'}"
                                   for p in (10, 30)]))


def test_a_stale_lock_is_taken_over(splice_data, tiny_model, query_fasta, tmp_path,
                                    fault_log):
  out = tmp_path / "p.tsv"
  # What a killed writer leaves: the lock file, with no process holding its flock.
  (tmp_path / ".p.tsv.lock").write_text('{"pid": 999999, "host": "elsewhere", '
                                        '"started": "2026-01-01T00:00:00+00:00"}\n')
  result = _run("gslm_keras.predict", f"--model={tiny_model}", f"--input={query_fasta}",
                f"--output={out}")
  assert result.returncode == 0, result.stderr[-2000:]
  assert "Took over the lock" in result.stderr and "pid 999999 on elsewhere" in result.stderr
  assert out.exists() and litter(tmp_path) == []
  fault_log("a lock file left by a killed process",
            "recognised as stale (no live flock), taken over with a warning naming it")


# -- kills --------------------------------------------------------------------------


@pytest.mark.slow
def test_a_killed_overwrite_build_leaves_the_old_dataset_and_no_orphans(
    big_csv, tmp_path, fault_log):
  out = tmp_path / "ds"
  small = ("gslm_keras.build_dataset", f"--train={PROM_DIR / 'dev.csv'}",
           f"--output_dir={out}", "--num_workers=1")
  assert _run(*small).returncode == 0
  before = tree_digest(out)
  build = _start("gslm_keras.build_dataset", f"--input={big_csv}",
                 "--split_fractions=0.8,0.1,0.1", "--computed_features=gc_content,kmer:k=4",
                 "--num_workers=2", "--records_per_shard=2000", f"--output_dir={out}",
                 "--overwrite")

  def writing():
    work = [p for p in tmp_path.iterdir() if p.name.startswith(".ds.building-")]
    return work and len(list(work[0].glob(".*.tmp"))) >= 2 and len(children(build.pid)) >= 2

  _wait_for(writing, what="shards being written by worker processes")
  workers = children(build.pid)
  build.send_signal(signal.SIGKILL)
  build.wait()
  _wait_for(lambda: not any(_alive(p) for p in workers), timeout=10,
            what="the worker processes to die with the build")
  assert tree_digest(out) == before
  left = litter(tmp_path)
  assert any(".building-" in name for name in left), left
  again = _run(*small, "--overwrite")
  assert again.returncode == 0, again.stderr[-2000:]
  assert "Removed what an interrupted run left beside" in again.stderr
  assert litter(tmp_path) == []
  fault_log("`build_dataset --overwrite` killed with SIGKILL while 2 workers write shards",
            f"old dataset byte-identical; the {len(workers)} worker processes die with it; "
            "the next build on the output removes the temporary directory and says so")


@pytest.mark.slow
def test_a_killed_overwrite_training_leaves_the_old_run_and_resumes(
    splice_data, tiny_model, tmp_path, fault_log):
  import shutil

  run = tmp_path / "run"
  shutil.copytree(tiny_model, run)
  before = tree_digest(run)
  args = ("gslm_keras.train", *TINY, f"--data_dir={splice_data}", f"--model_dir={run}",
          "--epochs=4", "--checkpoint_every=5", "--overwrite", "--deterministic",
          "--seed=5")
  process = _start(*args)
  state = tmp_path / ".run.next" / "checkpoints" / "backup" / "state.npz"

  def backed_up():
    try:
      with np.load(state) as loaded:
        return int(loaded["segment"]) >= 3
    except (OSError, ValueError, KeyError):
      return False

  _wait_for(backed_up, what="the overwriting run's third backup")
  process.send_signal(signal.SIGKILL)
  process.wait()
  assert tree_digest(run) == before
  resumed = _run(*args)
  assert resumed.returncode == 0, resumed.stderr[-2000:]
  assert "(resumed)" in resumed.stdout
  assert not (tmp_path / ".run.next").exists() and litter(tmp_path) == []
  assert '"epochs": 4' in (run / "config.json").read_text()
  assert (run / "model.keras").exists() and (run / "metrics" / "test.json").exists()
  fault_log("`train --overwrite` of a finished run killed with SIGKILL after 3 backups",
            "the finished run stays byte-identical; the same command resumes the new run "
            "beside it and swaps it in when done")


@pytest.mark.slow
def test_a_killed_overwrite_export_leaves_the_old_version(tiny_model, tmp_path,
                                                          fault_log):
  base = tmp_path / "exp"
  args = ("gslm_keras.export", f"--model={tiny_model}", f"--export_base={base}",
          "--model_name=m", "--version=1")
  assert _run(*args).returncode == 0
  before = tree_digest(base / "m" / "1")
  process = _start(*args, "--overwrite")
  _wait_for(lambda: any(p.name.startswith(".1.exporting-")
                        for p in (base / "m").iterdir()), what="the export's work dir")
  process.send_signal(signal.SIGKILL)
  process.wait()
  assert tree_digest(base / "m" / "1") == before
  again = _run(*args, "--overwrite")
  assert again.returncode == 0, again.stderr[-2000:]
  assert litter(base / "m") == []
  fault_log("`export --overwrite` killed with SIGKILL while writing the SavedModel",
            "the old version stays byte-identical; the next export removes the work dir")


@pytest.mark.slow
def test_a_killed_prediction_leaves_the_old_output(tiny_model, tmp_path, fault_log):
  rows = read_column(SPLICE_CSV) * 20
  big = tmp_path / "big.fa"
  big.write_text("".join(f">r{i}\n{s}\n" for i, s in enumerate(rows)))
  out = tmp_path / "p.tsv"
  args = ("gslm_keras.predict", f"--model={tiny_model}", f"--output={out}",
          "--batch_size=64")
  assert _run(*args, f"--input={big}").returncode == 0
  before = out.read_bytes()
  process = _start(*args, f"--input={big}", "--overwrite")
  _wait_for(lambda: any(".p.tsv.body-" in p.name for p in tmp_path.iterdir()),
            what="the prediction's body file")
  time.sleep(0.5)
  process.send_signal(signal.SIGKILL)
  process.wait()
  assert out.read_bytes() == before
  assert _run(*args, f"--input={big}", "--overwrite").returncode == 0
  assert litter(tmp_path) == []
  fault_log("`predict` killed with SIGKILL half-way through 63,700 sequences",
            "the previous output stays byte-identical; the next run removes the partial "
            "body file")


# -- filesystems --------------------------------------------------------------------


def test_a_read_only_output(splice_data, tiny_model, query_fasta, tmp_path, fault_log):
  with _tmpfs(tmp_path / "ro", read_only=True) as ro:
    cases = {
        "build_dataset": _run("gslm_keras.build_dataset",
                              "--flagfile=datasets/splice_statlog/build.flags",
                              f"--output_dir={ro / 'ds'}", "--num_workers=1"),
        "train": _run("gslm_keras.train", *TINY, f"--data_dir={splice_data}",
                      f"--model_dir={ro / 'run'}"),
        "predict": _run("gslm_keras.predict", f"--model={tiny_model}",
                        f"--input={query_fasta}", f"--output={ro / 'p.tsv'}"),
        "export": _run("gslm_keras.export", f"--model={tiny_model}",
                       f"--export_base={ro}", "--model_name=m"),
    }
    for tool, result in cases.items():
      line = one_line_error(result)
      assert str(ro) in line and "the filesystem is read-only: write somewhere else" in line
    assert os.listdir(ro) == []
  fault_log("build, train, predict, export into a read-only filesystem",
            "one line each: `error: <path>: the filesystem is read-only: write somewhere "
            "else`, exit 1, nothing written", kind="clear error")


def test_a_full_disk(big_csv, tiny_model, query_fasta, tmp_path, fault_log):
  with _tmpfs(tmp_path / "full", size="1m") as full:
    keep = full / "keep.txt"
    keep.write_text("earlier content\n")
    build = _run("gslm_keras.build_dataset", f"--input={big_csv}",
                 "--split_fractions=0.8,0.1,0.1", "--num_workers=1",
                 f"--output_dir={full / 'ds'}")
    line = one_line_error(build)
    assert "disk is full" in line, line
    assert sorted(os.listdir(full)) == ["keep.txt"], os.listdir(full)
    # Fill the disk to the last few kB: the prediction's table cannot be written.
    fd = os.open(full / "filler", os.O_WRONLY | os.O_CREAT)
    with contextlib.suppress(OSError):
      while True:
        os.write(fd, b"\0" * 4096)
    os.close(fd)
    predict = _run("gslm_keras.predict", f"--model={tiny_model}", f"--input={query_fasta}",
                   f"--output={full / 'p.tsv'}")
    line_predict = one_line_error(predict)
    assert "disk is full" in line_predict, line_predict
    assert sorted(os.listdir(full)) == ["filler", "keep.txt"]
    assert keep.read_text() == "earlier content\n"
  fault_log("build_dataset and predict onto a full filesystem (1 MB tmpfs)",
            f"one line each (`{line[:110]}...`), exit 1; no partial output, earlier files "
            "untouched", kind="clear error")


# -- damaged and bad inputs ------------------------------------------------------------


def _edited_dataset(splice_data, tmp_path, edit):
  import json
  import shutil

  copy = tmp_path / "edited"
  shutil.copytree(splice_data, copy)
  manifest = json.loads((copy / "dataset_info.json").read_text())
  edit(manifest)
  (copy / "dataset_info.json").write_text(json.dumps(manifest))
  return copy


@pytest.mark.parametrize("case,edit,expected", [
    ("a missing key", lambda m: m["normalization"].pop("std"),
     "key normalization.std is missing: an incomplete or edited manifest; rebuild"),
    ("a wrong record count", lambda m: m["splits"]["test"].update(num_records=5),
     "splits.test.num_records is 5, its shards hold 1186; rebuild"),
    ("a zero standard deviation", lambda m: m["normalization"]["std"].__setitem__(0, 0.0),
     "normalization.std of feature 'gc_content' is 0; a standard deviation must be > 0"),
    ("class names the model does not have",
     lambda m: m["task"].update(classes=["donor", "acceptor", "neither"]),
     "has classes ['donor', 'acceptor', 'neither'], the model was trained with "
     "['EI', 'IE', 'N']"),
])
def test_an_edited_manifest(case, edit, expected, splice_data, tiny_model, tmp_path,
                            fault_log):
  data = _edited_dataset(splice_data, tmp_path, edit)
  run = tmp_path / "run"
  import shutil

  shutil.copytree(tiny_model, run)
  line = one_line_error(_run("gslm_keras.evaluate", f"--model={run}",
                             f"--data_dir={data}"))
  assert expected in line, line
  fault_log(f"`evaluate` on a manifest with {case}", f"`{line[:150]}`", kind="clear error")


def test_malformed_genbank(tmp_path, fault_log):
  text = (REPO / "datasets" / "genomes" / "NC_005816.gb").read_text()
  cut = tmp_path / "cut.gb"
  cut.write_text(text[:text.index("ORIGIN") + 500])
  start = text.index("     CDS ")
  bad = tmp_path / "bad.gb"
  bad.write_text(text[:start] + "     CDS             join(87..>1109x,5..3)"
                 + text[text.index("\n", start):])
  for path, expected in ((cut, "past the end of the record's sequence (380 bp): the file "
                                "is cut or damaged inside ORIGIN"),
                         (bad, "CDS YP_pPCP01: has a location that cannot be read")):
    line = one_line_error(_run("gslm_keras.build_dataset", f"--input={path}",
                               "--recipe=function", "--split_fractions=0.8,0.1,0.1",
                               f"--output_dir={tmp_path / 'out'}"))
    assert f"{path}, record 1 'NC_005816.1'" in line and expected in line, line
    fault_log(f"GenBank {'cut inside ORIGIN' if path == cut else 'with a bad CDS location'}",
              f"`{line[len('error: ') + len(str(path)):][:140]}`", kind="clear error")


def test_malformed_vcf_lines(tiny_model, tmp_path, fault_log):
  reference = tmp_path / "ref.fa"
  sequence = "".join(read_column(SPLICE_CSV, limit=20))
  reference.write_text(f">chr1\n{sequence}\n")
  header = ("##fileformat=VCFv4.2\n##contig=<ID=chr1,length=1200>\n"
            "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n")
  cases = {"a non-integer POS": ("chr1\tX12\tb\tA\tG\t.\t.\t.\n",
                                 "record 1 (line 4): POS 'X12' is not a whole number"),
           "POS 0, even with --ref_mismatch=flag": (
               "chr1\t0\ta\tN\tG\t.\t.\t.\n",
               "record 1 (chr1:0): POS 0 is not a position (VCF positions start at 1)")}
  for case, (line_text, expected) in cases.items():
    vcf = tmp_path / "v.vcf"
    vcf.write_text(header + line_text)
    line = one_line_error(_run("gslm_keras.score_variants", f"--model={tiny_model}",
                               f"--vcf={vcf}", f"--reference={reference}",
                               f"--output={tmp_path / 's.tsv'}", "--ref_mismatch=flag"))
    assert expected in line, line
    fault_log(f"a VCF line with {case}", f"`{line[len('error: '):][:140]}`", kind="clear error")
  # With --on_error=skip the good records are scored, the bad ones listed.
  vcf = tmp_path / "mixed.vcf"
  vcf.write_text(header + "chr1\t0\ta\tN\tG\t.\t.\t.\n"
                 + f"chr1\t100\tb\t{sequence[99]}\tT\t.\t.\t.\n")
  out = tmp_path / "mixed.tsv"
  result = _run("gslm_keras.score_variants", f"--model={tiny_model}", f"--vcf={vcf}",
                f"--reference={reference}", f"--output={out}", "--on_error=skip")
  assert result.returncode == 0, result.stderr[-2000:]
  assert "rejected 1 (see" in out.read_text().splitlines()[0]
  assert "POS 0 is not a position" in (tmp_path / "mixed.tsv.rejects.tsv").read_text()
  fault_log("a VCF with one bad line, `score_variants --on_error=skip`",
            "the good variants scored; the bad line in `<output>.rejects.tsv`, counted in "
            "the header")


def test_letters_outside_iupac_are_refused_everywhere(tiny_model, tmp_path, fault_log):
  sequence = read_column(SPLICE_CSV, limit=1)[0]
  damaged = sequence[:20] + "X" + sequence[21:]
  line = one_line_error(_run("gslm_keras.interpret", "ism", f"--model={tiny_model}",
                             f"--output_dir={tmp_path / 'i'}", f"--sequence={damaged}"))
  assert "--sequence, sequence: character 'X' at position 21 is not a IUPAC" in line
  table = write_table(tmp_path / "v.tsv", "id\tsequence\tposition\tref\talt",
                      [f"v\t{damaged}\t5\t{sequence[5]}\tA"])
  line_variants = one_line_error(_run("gslm_keras.score_variants", f"--model={tiny_model}",
                                      f"--variants={table}",
                                      f"--output={tmp_path / 's.tsv'}"))
  assert "v.tsv, line 2: character 'X' at position 21 of the sequence" in line_variants
  fault_log("a letter outside IUPAC to `interpret ism` and in a variants table",
            "refused with the record named, as the dataset builder does", kind="clear error")


def test_another_length_follows_the_rule_or_the_flag(tiny_model, tmp_path, fault_log):
  # The splice dataset's rule is error for other lengths (60 bp windows).
  sequence = read_column(SPLICE_CSV, limit=1)[0]
  fasta = tmp_path / "q.fa"
  fasta.write_text(f">ok\n{sequence}\n>long\nAC{sequence}GT\n>short\n{sequence[5:]}\n")
  line = one_line_error(_run("gslm_keras.predict", f"--model={tiny_model}",
                             f"--input={fasta}", f"--output={tmp_path / 'p.tsv'}"))
  assert ("q.fa, record 2 'long' (line 3): sequence length 64 is longer than the model's "
          "60 bp window, and its training data did not accept such sequences "
          "(on_longer=error); pass --length_mismatch=adjust") in line, line
  assert not (tmp_path / "p.tsv").exists()
  out = _run("gslm_keras.predict", f"--model={tiny_model}", f"--input={fasta}",
             f"--output={tmp_path / 'p.tsv'}", "--length_mismatch=adjust")
  assert out.returncode == 0, out.stderr
  text = (tmp_path / "p.tsv").read_text()
  assert text.startswith("# gslm_keras predict: 3 rows; rejected 0; padded 1, cropped 1 "
                         "to the model's 60 bp window (center-aligned)\n")
  rows = list(csv.DictReader(text.splitlines()[1:], delimiter="\t"))
  assert [r["length_adjustment"] for r in rows] == ["none", "cropped", "padded"]
  # The cropped window is the original sequence: the same prediction.
  assert rows[1]["prob_EI"] == rows[0]["prob_EI"]
  assert "1 sequences padded with N and 1 cropped" in out.stdout
  line = one_line_error(_run("gslm_keras.interpret", "ism", f"--model={tiny_model}",
                             f"--output_dir={tmp_path / 'i'}",
                             f"--sequence={sequence[5:]}"))
  assert "sequence length 55 is shorter than the model's 60 bp window" in line
  fault_log("`predict` and `interpret ism` given sequences of another length than a "
            "model whose dataset rule was `error`",
            "refused with the record and `--length_mismatch=adjust` named; with the flag, "
            "cropped / padded and every row marked (`length_adjustment`), counted in "
            "the header and the log", kind="clear error")


def test_one_bad_record_does_not_cost_the_others(tiny_model, tmp_path, fault_log):
  rows = read_column(SPLICE_CSV, limit=300)
  rows[-1] = rows[-1][:30] + "Z" + rows[-1][31:]
  fasta = tmp_path / "in.fa"
  fasta.write_text("".join(f">r{i}\n{s}\n" for i, s in enumerate(rows)))
  out = tmp_path / "p.tsv"
  stopped = _run("gslm_keras.predict", f"--model={tiny_model}", f"--input={fasta}",
                 f"--output={out}")
  assert "record 300 'r299'" in one_line_error(stopped) and not out.exists()
  skipped = _run("gslm_keras.predict", f"--model={tiny_model}", f"--input={fasta}",
                 f"--output={out}", "--on_error=skip")
  assert skipped.returncode == 0, skipped.stderr[-2000:]
  lines = out.read_text().splitlines()
  assert lines[0].startswith("# gslm_keras predict: 299 rows; rejected 1")
  assert len(lines) == 2 + 299
  rejects = (tmp_path / "p.tsv.rejects.tsv").read_text().splitlines()
  assert rejects[0] == "file\trecord\treason" and "record 300 'r299'" in rejects[1]
  fault_log("one bad record at the end of 300, `predict --on_error=skip`",
            "299 predictions written, the bad record in `<output>.rejects.tsv` with its "
            "reason, counted in the output's first line (`--on_error=stop`: one line, no "
            "output)")


def test_long_cells_and_the_umask(tmp_path, fault_log):
  long = "ACGT" * 40000  # 160,000 bases in one CSV cell.
  table = write_table(tmp_path / "long.csv", "sequence,label",
                      [f"{long},a", f"{long[::-1]},b", f"{long},a", f"{long},b"])
  os.umask(0o022)
  result = _run("gslm_keras.build_dataset", f"--train={table}", "--length=200",
                "--on_longer=crop", f"--output_dir={tmp_path / 'ds'}", "--num_workers=1")
  assert result.returncode == 0, result.stderr[-2000:]
  assert oct((tmp_path / "ds").stat().st_mode & 0o777) == "0o755"
  fault_log("a CSV cell of 160,000 bases; umask 022",
            "read (the CSV field limit is lifted); the dataset directory is 0755, not 0700")


# -- links: nothing followed into someone else's file ------------------------------


def _plant(link, victim_text="someone else's file\n"):
  """A victim file outside the output's folder and a link to it at `link`."""
  victim = link.parent.parent / f"victim-{link.name.strip('.')}"
  victim.write_text(victim_text)
  link.symlink_to(victim)
  return victim


def test_a_link_at_the_lock_is_refused_not_followed(tmp_path, fault_log):
  out = tmp_path / "out" / "ds"
  out.parent.mkdir()
  victim = _plant(out.parent / ".ds.lock")
  line = one_line_error(_run("gslm_keras.build_dataset",
                             "--flagfile=datasets/splice_statlog/build.flags",
                             f"--output_dir={out}", "--num_workers=1"))
  assert "a symbolic link stands where gslm_keras writes the lock of" in line, line
  assert victim.read_text() == "someone else's file\n" and not out.exists()
  assert (out.parent / ".ds.lock").is_symlink()  # Left as it was.
  fault_log("a symbolic link planted at the lock `.ds.lock` of `build_dataset`",
            f"refused: `{line[len('error: '):][:150]}...`; the file it points to is "
            "untouched (every tool shares this lock)", kind="clear error")


def _write_table(out, victim_dir):
  from gslm_keras.io.tables import Rejects, TableWriter
  from gslm_keras.errors import InputError

  # The body's name was `.<name>.body-<pid>` before: a link there was followed.
  for name in (out.name, f".{out.name}.body-{os.getpid()}", f"{out.name}.rejects.tsv"):
    _plant(out.parent / name)
  rejects = Rejects(str(out), "skip")
  rejects.handle(InputError("bad", path="in.fa", record="record 1"))
  with TableWriter(str(out), ["a"]) as writer:
    writer.write([{"a": 1}])
  rejects.close(True)
  return [out, out.parent / f"{out.name}.rejects.tsv"]


def _write_parquet(out, victim_dir):
  from gslm_keras.io.tables import TableWriter

  out = out.with_suffix(".parquet")
  _plant(out.parent / f"{out.name}.summary.json")
  writer = TableWriter(str(out), ["a"])
  writer.write([{"a": 1}])
  writer.close(True, summary={"rows": 1})
  return [out, out.parent / f"{out.name}.summary.json"]


def _write_model(out, victim_dir):
  import keras

  from gslm_keras.io.model_files import save_model

  path = out.parent / "model.keras"
  _plant(path)
  save_model(keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)]), str(path))
  return [path]


def _write_files(out, victim_dir):
  from matplotlib.figure import Figure

  from gslm_keras.evaluation.plots import _save
  from gslm_keras.io.files import save_npz, write_json_atomic, write_text_atomic

  paths = [out.parent / name for name in ("a.npz", "m.json", "card.md", "plot.png")]
  for path in paths:
    _plant(path)
  save_npz(str(paths[0]), x=np.arange(3))
  write_json_atomic(str(paths[1]), {"a": 1})
  write_text_atomic(str(paths[2]), "text")
  figure = Figure()
  figure.subplots().plot([0, 1])
  _save(figure, str(paths[3]))
  return paths


def _overwriting_run(out, victim_dir):
  from gslm_keras.io.files import UnsafePathError
  from gslm_keras.training.config import TrainConfig
  from gslm_keras.training.session import prepare_run

  run = out.parent / "run"
  run.mkdir()
  (run / "model.keras").write_text("a finished run")
  (out.parent / ".run.next").symlink_to(victim_dir, target_is_directory=True)
  config = TrainConfig.create(data_dir=str(out.parent), model_dir=str(run),
                              overwrite=True)
  with pytest.raises(UnsafePathError, match="a symbolic link stands where gslm_keras "
                                            "writes an overwriting run"):
    prepare_run(config, lambda r: r.backup)
  return []


def _interrupted_swap(out, victim_dir):
  from gslm_keras.io.outputs import sweep

  (out.parent / ".ds.old-123").symlink_to(victim_dir, target_is_directory=True)
  sweep(str(out.parent / "ds"))  # The output is missing: an .old would be restored.
  assert not (out.parent / "ds").exists() and not (out.parent / ".ds.old-123").exists()
  return []


def _beam_results(out, victim_dir):
  from gslm_keras.data.beam import common
  from gslm_keras.io.files import UnsafePathError

  work = out.parent / "work"
  work.mkdir()
  made = pathlib.Path(common.results_folder(str(work)))
  assert oct(made.stat().st_mode & 0o777) == "0o700"
  planted = out.parent / "planted"
  planted.mkdir()
  (planted / "results").write_bytes(b"not a pickle of ours")
  planted.chmod(0o777)
  (out.parent / "linked").symlink_to(victim_dir, target_is_directory=True)
  for folder in (planted, out.parent / "linked"):
    with pytest.raises(UnsafePathError, match="nothing in it is read"):
      common.load(str(folder / "results"))
  return []


@pytest.mark.parametrize("kind,write", [
    ("table and its body file", _write_table), ("Parquet table and its summary",
                                                _write_parquet),
    ("Keras model file (model.keras, best.keras)", _write_model),
    ("npz, json, text and png files", _write_files),
    ("overwriting run `.<model_dir>.next`", _overwriting_run),
    ("interrupted swap `.<output>.old-*`", _interrupted_swap),
    ("Beam results folder (unpickled by the driver)", _beam_results)])
def test_no_link_beside_an_output_is_followed(kind, write, tmp_path, fault_log):
  folder = tmp_path / "out"
  folder.mkdir()
  victim_dir = tmp_path / "victim_dir"
  victim_dir.mkdir()
  (victim_dir / "keep.txt").write_text("keep\n")
  written = write(folder / "p.tsv", victim_dir)
  for victim in tmp_path.glob("victim-*"):
    assert victim.read_text() == "someone else's file\n", victim
  assert sorted(p.name for p in victim_dir.iterdir()) == ["keep.txt"]
  assert (victim_dir / "keep.txt").read_text() == "keep\n"
  for path in written:  # The link was replaced by the output, not written through.
    assert path.is_file() and not path.is_symlink(), path
  fault_log(f"symbolic links planted at a {kind}",
            "their targets untouched: files are written under a new name and renamed "
            "over the link; links at our own hidden names are refused; a temporary "
            "folder is read back only when private and the user's own")


# -- damaged files: one line, what to do --------------------------------------------


def _damaged_run(tiny_model, tmp_path, cut: bool = True):
  import shutil

  run = tmp_path / "damaged"
  shutil.copytree(tiny_model, run)
  data = (run / "model.keras").read_bytes()
  (run / "model.keras").write_bytes(data[:len(data) // 2])
  return run


def test_a_truncated_model_file_is_named_with_what_to_do(tiny_model, splice_data,
                                                         query_fasta, tmp_path,
                                                         fault_log):
  run = _damaged_run(tiny_model, tmp_path)
  cases = {
      "predict": ("gslm_keras.predict", f"--model={run}", f"--input={query_fasta}",
                  f"--output={tmp_path / 'p.tsv'}"),
      "evaluate": ("gslm_keras.evaluate", f"--model={run}"),
      "export": ("gslm_keras.export", f"--model={run}",
                 f"--export_base={tmp_path / 'exp'}", "--model_name=m"),
      "train --init_from": ("gslm_keras.train", *TINY, f"--data_dir={splice_data}",
                            f"--model_dir={tmp_path / 'new'}", f"--init_from={run}"),
  }
  for tool, args in cases.items():
    line = one_line_error(_run(*args))
    assert f"{run}/model.keras: damaged or not a Keras model file" in line, (tool, line)
    assert "this is a bug" not in line
  assert not (tmp_path / "p.tsv").exists() and not (tmp_path / "exp").exists()
  # A refused --init_from leaves no run folder behind.
  assert not (tmp_path / "new").exists()
  fault_log("a truncated `model.keras` given to predict, evaluate, export and "
            "`train --init_from`",
            f"one line each: `{line[len('error: '):][:160]}...`; nothing written (no "
            "empty run folder either)", kind="clear error")


def test_a_model_with_python_code_is_refused_as_such(tmp_path, query_fasta, tiny_model,
                                                     fault_log):
  import shutil

  import keras

  run = tmp_path / "lambda"
  shutil.copytree(tiny_model, run)
  inputs = keras.Input((3,))
  keras.Model(inputs, keras.layers.Lambda(lambda x: x * 2)(inputs)).save(
      run / "model.keras")
  line = one_line_error(_run("gslm_keras.predict", f"--model={run}",
                             f"--input={query_fasta}", f"--output={tmp_path / 'p.tsv'}"))
  assert "holds a Lambda layer, that is Python code, which gslm_keras refuses to run" \
      in line, line
  fault_log("a `model.keras` holding a Lambda layer (Python code)",
            f"refused: `{line[len('error: '):][:150]}...`", kind="clear error")


def test_a_damaged_backup_says_how_to_restart(splice_data, tmp_path, fault_log):
  run = tmp_path / "run"
  args = ("gslm_keras.train", *TINY, f"--data_dir={splice_data}", f"--model_dir={run}",
          "--epochs=1")
  # An unfinished run: its config and a backup, cut short.
  first = _run(*args, "--checkpoint_every=5")
  assert first.returncode == 0, first.stderr[-2000:]
  (run / "model.keras").unlink()
  (run / "MODEL_CARD.md").unlink()
  backup = run / "checkpoints" / "backup"
  backup.mkdir(parents=True)
  (backup / "state.npz").write_bytes(b"PK\x03\x04 cut short")
  line = one_line_error(_run(*args, "--checkpoint_every=5"))
  assert f"{backup}/state.npz: damaged" in line and f"remove {backup} to train again " \
      "from the beginning" in line, line
  fault_log("a truncated backup `state.npz` on resume",
            f"one line: `{line[len('error: '):][:170]}...`", kind="clear error")


@pytest.mark.slow
def test_a_full_disk_during_training_leaves_no_truncated_model(splice_data, tmp_path,
                                                               fault_log):
  # 450 kB: the backup and best.keras fit, the run's other files do not.
  with _tmpfs(tmp_path / "full disk", size="450k") as full:
    run = full / "run"
    args = ("gslm_keras.train", *TINY, f"--data_dir={splice_data}", f"--model_dir={run}",
            "--epochs=2")
    line = one_line_error(_run(*args))
    assert "disk is full" in line and str(full) in line, line
    import zipfile

    for path in run.rglob("*"):
      assert ".tmp-" not in path.name, path  # Nothing half-written left behind.
      if path.suffix in (".keras", ".npz"):
        assert zipfile.is_zipfile(path), f"truncated: {path}"
    subprocess.run(["mount", "-o", "remount,size=20m", str(full)], check=True)
    again = _run(*args)
    assert again.returncode == 0, again.stderr[-2000:]
    assert "already holds a trained model" not in again.stderr
    assert "oneDNN" not in again.stderr and "E0000" not in again.stderr
    rerun = [l for l in again.stdout.splitlines() if l.startswith("Re-run:")][0]
    import shlex

    assert shlex.split(rerun)[-1] == f"--flagfile={run}/train.flags"  # Quoted: a space.
    assert (run / "MODEL_CARD.md").exists() and not (run / "checkpoints" / "backup"
                                                     ).exists()
  fault_log("`train` onto a filesystem that fills up (450 kB tmpfs), then again with "
            "room", f"one line naming the path (`{line[len('error: '):][:120]}...`); no "
            "truncated model or backup under a final name; the same command then "
            "finishes the run", kind="clear error")


# -- what a language model's evaluate measures ----------------------------------------


def test_a_language_model_measures_what_it_is_given(tmp_path, fault_log):
  from gslm_keras.errors import InputError
  from gslm_keras.evaluation.language import evaluate_language_model, record_windows

  cases = {"junk.fa": (">a\nQZ!1\n", "character 'Q' at position 1 is not a IUPAC"),
           "accents.fa": (">a\nACGTé\n", "character 'é' at position 5 is not a IUPAC"),
           "x.fa": (">a\nACGTXACGT\n", "character 'X' at position 5 is not a IUPAC"),
           "all_n.fa": (">a\nNNNNNNNNNNRY\n", "no position to score in 1 records of 12 "
                                              "bases")}
  for name, (text, expected) in cases.items():
    (tmp_path / name).write_text(text)
    with pytest.raises(InputError, match=expected):
      evaluate_language_model("gslm-lm-multispecies", str(tmp_path / name),
                              str(tmp_path / "r.json"))
  line = one_line_error(_run("gslm_keras.evaluate", "--model=gslm-lm-multispecies",
                             f"--input={tmp_path / 'junk.fa'}",
                             f"--output={tmp_path / 'r.json'}"))
  assert "junk.fa, record 1 'a' (line 1): character 'Q'" in line
  assert not (tmp_path / "r.json").exists()
  # Every base of every record, each once: 251-base promoters, windows of 128.
  assert record_windows(251, 128) == [(0, 0), (123, 5)]
  assert record_windows(100, 128) == [(0, 0)] and record_windows(256, 128) == [(0, 0),
                                                                              (128, 0)]
  rows = read_column(PROM_DIR / "test.csv", limit=40)
  (tmp_path / "prom.fa").write_text("".join(f">p{i}\n{s[:251]}\n" for i, s in
                                            enumerate(rows)))
  report = evaluate_language_model("gslm-lm-multispecies", str(tmp_path / "prom.fa"),
                                   str(tmp_path / "prom.json"))
  assert report["scored"]["bases"] == 40 * 251 and report["scored"]["windows"] == 80
  assert 0.13 * 40 * 251 < report["positions"] < 0.17 * 40 * 251
  fault_log("a language model's `evaluate --input` given junk text, non-ASCII, an X "
            "among bases, an all-N file, and 251-base records",
            "letters outside IUPAC refused with the record; no scorable position is an "
            "error; every base of every record eligible once (the remainder was dropped "
            "before: 49% of each promoter unscored), counted in the report", kind="held")


# -- side files and existing outputs --------------------------------------------------


def test_side_files_belong_to_their_output(tiny_model, tmp_path, fault_log):
  rows = read_column(SPLICE_CSV, limit=50)
  good, bad = tmp_path / "good.fa", tmp_path / "bad.fa"
  good.write_text("".join(f">r{i}\n{s}\n" for i, s in enumerate(rows)))
  bad.write_text(good.read_text() + ">z\nACGTZ\n")
  out = tmp_path / "p.tsv"
  args = ("gslm_keras.predict", f"--model={tiny_model}", f"--output={out}")
  assert _run(*args, f"--input={bad}", "--on_error=skip").returncode == 0
  assert (tmp_path / "p.tsv.rejects.tsv").exists()
  # An existing output is refused without --overwrite, as by every tool, before
  # any work; with it, the earlier run's rejects go with the output they described.
  line = one_line_error(_run(*args, f"--input={good}"))
  assert f"--output={out} exists; pass --overwrite to replace it" in line, line
  assert _run(*args, f"--input={good}", "--overwrite").returncode == 0
  assert not (tmp_path / "p.tsv.rejects.tsv").exists()
  folder = one_line_error(_run("gslm_keras.predict", f"--model={tiny_model}",
                               f"--input={good}", f"--output={tmp_path}"))
  assert f"--output={tmp_path} is a folder; name a file in it" in folder, folder
  fault_log("`predict --on_error=skip` with a bad record, then again into the same "
            "output, and into a folder",
            "an existing output is refused without `--overwrite` (as by every tool); "
            "with it the old `.rejects.tsv` goes with the old output; a folder as "
            "`--output` is refused before any prediction", kind="clear error")


def test_beam_options_are_checked_in_one_line(tmp_path, fault_log):
  pytest.importorskip("apache_beam")
  cases = {"--direct_num_workers=x": "argument --direct_num_workers: invalid int value: 'x'",
           "--no_such_option=1": "--no_such_option=1 is not a Beam pipeline option"}
  for options, expected in cases.items():
    result = _run("gslm_keras.build_dataset", f"--train={PROM_DIR / 'dev.csv'}",
                  f"--output_dir={tmp_path / 'ds'}", "--engine=beam",
                  f"--beam_pipeline_options={options}")
    line = one_line_error(result)
    assert expected in line, line
    assert len(result.stderr.splitlines()) <= 3, result.stderr[-3000:]  # No usage text.
  assert not (tmp_path / "ds").exists()
  fault_log("`--beam_pipeline_options` with a bad value, and with an unknown option",
            "one line each, naming the option (Beam printed its 138-line usage for the "
            "first and only warned of the second)", kind="clear error")


def test_small_ones(tiny_model, tmp_path, fault_log):
  from gslm_keras.errors import InputError
  from gslm_keras.io.tables import Rejects
  from gslm_keras.training.init_from import source_file

  # A rejects file lists what was skipped, without the advice to skip it.
  out = tmp_path / "s.tsv"
  rejects = Rejects(str(out), "skip")
  error = InputError("A>AT is not a single-base substitution", path="v.vcf",
                     record="record 3", hint="use --on_error=skip to set such variants "
                                             "aside")
  assert str(error).endswith("; use --on_error=skip to set such variants aside")
  rejects.handle(error)
  rejects.close(True)
  text = (tmp_path / "s.tsv.rejects.tsv").read_text()
  assert "A>AT is not a single-base substitution" in text and "on_error" not in text
  # --init_from names a run folder, a preset, or the run's model.keras itself.
  assert source_file(str(tiny_model / "model.keras")) == str(tiny_model / "model.keras")
  assert source_file(str(tiny_model)) == str(tiny_model / "model.keras")
  fault_log("a rejects file under `--on_error=skip`; `--init_from=<run>/model.keras`",
            "the rejects file gives the reason without advice to use the flag in force; "
            "the model file is accepted as its run folder")


# -- serving and score outputs ---------------------------------------------------------


def test_serving_never_answers_with_a_graph_error(tiny_model, tmp_path, fault_log):
  import tensorflow as tf

  from gslm_keras.serving.export import export_model

  exports = {"classifier": export_model(str(tiny_model), str(tmp_path), "splice", 1),
             "language model": export_model("gslm-lm-multispecies", str(tmp_path), "lm", 1)}
  window = read_column(SPLICE_CSV, limit=1)[0]
  for kind, path in exports.items():
    default = tf.saved_model.load(path).signatures["serving_default"]
    empty = default(sequence=tf.constant([], tf.string))
    assert all(value.shape[0] == 0 for value in empty.values()), (kind, empty)
    with pytest.raises(tf.errors.InvalidArgumentError,
                       match=r"input \\?'sequence\\?' holds an empty string; send DNA "
                             r"sequences; first at row \(0-based\)\] \[1\]"):
      default(sequence=tf.constant([window, ""]))
  fault_log("an empty batch, and an empty string in a batch, sent to the classifier's "
            "and the language model's `serving_default`",
            "the empty batch gets empty outputs; the empty string is refused naming its "
            "row (it failed inside the layers: `Incompatible shapes`, `Reduction axis 0 "
            "is empty`)")


def test_score_outputs_say_what_they_hold(tiny_model, tmp_path, fault_log):
  import pysam

  sequence = "".join(read_column(SPLICE_CSV, limit=20))
  (tmp_path / "ref.fa").write_text(f">chr1\n{sequence}\n")
  alt = "A" if sequence[299] != "A" else "C"
  (tmp_path / "v.vcf").write_text(
      "##fileformat=VCFv4.2\n##contig=<ID=chr1,length=1200>\n"
      "##FILTER=<ID=q10,Description=\"Quality below 10\">\n"
      "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"
      f"chr1\t300\tpass\t{sequence[299]}\t{alt}\t50\tPASS\t.\n"
      f"chr1\t400\tlow\t{sequence[399]}\t{'A' if sequence[399] != 'A' else 'C'}\t3.5\t"
      "q10\t.\n")
  outputs = f"{tmp_path / 's.tsv'},{tmp_path / 's.vcf'}"
  result = _run("gslm_keras.score_variants", f"--model={tiny_model}",
                f"--vcf={tmp_path / 'v.vcf'}", f"--reference={tmp_path / 'ref.fa'}",
                f"--output={outputs}", "--strand_average")
  assert result.returncode == 0, result.stderr[-2000:]
  text = (tmp_path / "s.tsv").read_text()
  assert "# logarithms: natural (base e)" in text
  rows = list(csv.DictReader([l for l in text.splitlines() if not l.startswith("#")],
                             delimiter="\t"))
  for row in rows:
    for column in ("EI", "IE", "N"):
      assert float(row[f"diff_prob_{column}"]) == pytest.approx(
          (float(row[f"diff_forward_prob_{column}"])
           + float(row[f"diff_reverse_prob_{column}"])) / 2, abs=2e-6)
  records = list(pysam.VariantFile(str(tmp_path / "s.vcf")))
  assert [(list(r.filter.keys()), r.qual) for r in records] == [(["PASS"], 50.0),
                                                                (["q10"], 3.5)]
  fault_log("`score_variants --strand_average` of a VCF with QUAL and FILTER (PASS, q10)",
            "the TSV says its log base; each strand's difference beside the mean it "
            "reports; the output VCF keeps QUAL and FILTER (PASS was rewritten to `.`)")


def test_genome_scale_inputs_are_refused_in_one_line(tiny_model, query_fasta, tmp_path,
                                                      fault_log):
  # embed and score_variants --all_snvs: a BED naming a contig the FASTA lacks, a
  # region past its contig's end or shorter than nothing, an --all_snvs without its
  # regions, an output format embed cannot write, a model without layers (an
  # export): one line each, nothing written.
  sequence = "".join(read_column(SPLICE_CSV, limit=20))
  (tmp_path / "ref.fa").write_text(f">chr1\n{sequence}\n")
  regions = tmp_path / "r.bed"
  score = ("gslm_keras.score_variants", f"--model={tiny_model}", "--all_snvs",
           f"--reference={tmp_path / 'ref.fa'}", f"--output={tmp_path / 's.bgz'}")
  cases = {
      "chr2\t0\t100\n": "line 1: contig 'chr2' is not in the reference",
      "chr1\t1100\t1300\n": "line 1: region chr1:1100-1300 runs past the contig's end "
                            "(1200)",
      "chr1\t50\t50\n": "line 1: region chr1:50-50 is empty or negative",
      "chr1\tten\t20\n": "line 1: expected BED: contig, start, end",
  }
  bed_lines = []
  for text, expected in cases.items():
    regions.write_text(text)
    bed_lines.append(one_line_error(_run(*score, f"--regions={regions}")))
    assert f"error: {regions}, {expected}" in bed_lines[-1], bed_lines[-1]
  line = one_line_error(_run(*score))
  assert line == "error: --all_snvs needs --regions (a BED file) and --reference"
  assert not list(tmp_path.glob("s.bgz*"))
  line = one_line_error(_run("gslm_keras.embed", f"--model={tiny_model}",
                             f"--input={query_fasta}", f"--output={tmp_path / 'e.h5'}"))
  assert "embeddings are written as .npz, .parquet, .tsv" in line
  export = _run("gslm_keras.export", f"--model={tiny_model}",
                f"--export_base={tmp_path / 'x'}", "--model_name=m")
  assert export.returncode == 0, export.stderr[-2000:]
  line = one_line_error(_run("gslm_keras.embed", f"--model={tmp_path / 'x' / 'm' / '1'}",
                             f"--input={query_fasta}", f"--output={tmp_path / 'e.npz'}"))
  assert "is a SavedModel export, which keeps no layers" in line
  assert not (tmp_path / "e.npz").exists() and not (tmp_path / "e.h5").exists()
  fault_log("`score_variants --all_snvs` given a BED with a contig the FASTA lacks, a "
            "region past the contig's end, an empty region, a malformed line, or no "
            "--regions; `embed` given an output it cannot write or an export",
            f"one line each, naming the BED line (`{bed_lines[0][7:110]}...`); nothing "
            "written",
            kind="clear error")


def test_scan_inputs_are_refused_in_one_line(tiny_model, tmp_path, fault_log):
  # A BED naming a contig the FASTA lacks or a region shorter than the window, a
  # genome without a contig as long as the window, an output format scan cannot
  # write, a model of several outputs without --element_column, a threshold from a
  # dev split that is gone: one line each, nothing written.
  sequence = "".join(read_column(SPLICE_CSV, limit=20))
  (tmp_path / "g.fa").write_text(f">chr1\n{sequence}\n>chr2\n{sequence[:500]}\n")
  (tmp_path / "short.fa").write_text(">a\nACGTACGT\n>b\nACGT\n")
  regions = tmp_path / "r.bed"
  scan = ("gslm_keras.scan", f"--model={tiny_model}", f"--genome={tmp_path / 'g.fa'}",
          f"--output={tmp_path / 'e.bed'}", "--element_column=EI", "--threshold=0.5")
  cases = {"chr3\t0\t100\n": "line 1: contig 'chr3' is not in the reference",
           "chr1\t0\t100\nchr2\t10\t40\n": "line 2: region chr2:10-40 is 30 bp, "
                                              "shorter than the model's 60 bp window"}
  lines = []
  for text, expected in cases.items():
    regions.write_text(text)
    lines.append(one_line_error(_run(*scan, f"--regions={regions}")))
    assert f"error: {regions}, {expected}" in lines[-1], lines[-1]
  line = one_line_error(_run(*scan[:2], f"--genome={tmp_path / 'short.fa'}", *scan[3:]))
  assert f"{tmp_path / 'short.fa'}: no contig is as long as the model's 60 bp window " \
         "(the longest has 8 bp)" in line, line
  line = one_line_error(_run(*scan[:3], f"--output={tmp_path / 'e.wig'}"))
  assert "scan writes bigWig tracks (.bw) and BED elements (.bed)" in line
  line = one_line_error(_run(*scan[:4]))
  assert "the model has 3 outputs (prob_EI, prob_IE, prob_N); name the one" in line, line
  # A copy of the run whose dataset is gone: the dev split cannot give a threshold.
  moved = tmp_path / "moved_run"
  shutil.copytree(tiny_model, moved)
  config = json.loads((moved / "config.json").read_text())
  config["data"]["data_dir"] = str(tmp_path / "gone")
  (moved / "config.json").write_text(json.dumps(config))
  line = one_line_error(_run(scan[0], f"--model={moved}", *scan[2:5]))
  assert "its dataset (" in line and "is not there; pass --threshold" in line, line
  assert not [p for p in tmp_path.iterdir() if p.name.startswith(("e.", ".e."))], \
      list(tmp_path.iterdir())
  fault_log("`scan` given a BED with a contig the FASTA lacks or a region shorter than "
            "the window, a genome whose contigs are all shorter than the window, a .wig "
            "output, a multi-output model without --element_column, or a run whose dev "
            "split is gone",
            f"one line each, naming the BED line (`{lines[1][7:120]}...`); nothing "
            "written", kind="clear error")


@pytest.mark.slow
def test_a_killed_scan_resumes_and_ends_as_an_unbroken_one(tiny_model, tmp_path,
                                                          fault_log):
  genome = tmp_path / "g.fa"
  bases = np.random.default_rng(0).choice(list("ACGT"), size=400_000)
  genome.write_text(">chrR\n" + "\n".join("".join(bases[i:i + 80])
                                           for i in range(0, len(bases), 80)) + "\n")
  (tmp_path / "r.bed").write_text("chrR\t0\t400000\n")
  args = ("gslm_keras.scan", f"--model={tiny_model}", f"--genome={genome}",
          f"--regions={tmp_path / 'r.bed'}", "--stride=3", "--element_column=EI",
          "--threshold=0.5", "--batch_size=64")
  whole = _run(*args, f"--output={tmp_path / 'whole.bed'}")
  assert whole.returncode == 0, whole.stderr[-2000:]
  out = tmp_path / "cut.bed"
  state = tmp_path / ".cut.bed.scan-work" / "state.json"
  process = _start(*args, f"--output={out}")
  _wait_for(lambda: state.exists() and json.loads(state.read_text())["records"] > 0,
            what="the scan's saved state")
  process.send_signal(signal.SIGKILL)
  process.wait()
  assert not out.exists()
  done = json.loads(state.read_text())["records"]
  again = _run(*args, f"--output={out}")
  assert again.returncode == 0, again.stderr[-2000:]
  assert f"{done} windows already scored" in again.stderr
  assert out.read_text().splitlines()[1:] == (tmp_path / "whole.bed").read_text(
      ).splitlines()[1:]
  summary = json.loads((tmp_path / "cut.bed.summary.json").read_text())
  assert summary["scored"] == json.loads(
      (tmp_path / "whole.bed.summary.json").read_text())["scored"]
  assert not (tmp_path / ".cut.bed.scan-work").exists() and litter(tmp_path) == []
  fault_log("`scan` killed with SIGKILL half-way through 133,000 windows, then run again",
            f"it resumes after the {done:,} windows its state file vouches for, and its "
            "elements are line for line those of an unbroken scan")
