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
import os
import pathlib
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from gslm_keras.io.outputs import OutputLock

from conftest import PROM_DIR, REPO, SPLICE_CSV, read_column
from helpers import alive as _alive, children, wait_for as _wait_for, write_table

PY = sys.executable
ENV = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
TINY = ["--flagfile=models/tiny.flags", "--verbose=0"]


def _run(*args, timeout=600):
  return subprocess.run([PY, "-m", *args], cwd=REPO, env=ENV, capture_output=True,
                        text=True, timeout=timeout)


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
            f"the second exits 1 at once: `{line[:160]}...`; the first completes")


@pytest.mark.parametrize("tool", ["build_dataset", "train", "evaluate", "export",
                                  "predict", "score_variants", "interpret"])
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
            "exits 1 at once naming the holder (pid, host, start time, command)")


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
  args = ("gslm_keras.export", f"--model_dir={tiny_model}", f"--export_base={base}",
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
  process = _start(*args, f"--input={big}")
  _wait_for(lambda: any(".p.tsv.body-" in p.name for p in tmp_path.iterdir()),
            what="the prediction's body file")
  time.sleep(0.5)
  process.send_signal(signal.SIGKILL)
  process.wait()
  assert out.read_bytes() == before
  assert _run(*args, f"--input={big}").returncode == 0
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
        "export": _run("gslm_keras.export", f"--model_dir={tiny_model}",
                       f"--export_base={ro}", "--model_name=m"),
    }
    for tool, result in cases.items():
      line = one_line_error(result)
      assert str(ro) in line and "the filesystem is read-only: write somewhere else" in line
    assert os.listdir(ro) == []
  fault_log("build, train, predict, export into a read-only filesystem",
            "one line each: `error: <path>: the filesystem is read-only: write somewhere "
            "else`, exit 1, nothing written")


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
            "untouched")


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
  line = one_line_error(_run("gslm_keras.evaluate", f"--model_dir={run}",
                             f"--data_dir={data}"))
  assert expected in line, line
  fault_log(f"`evaluate` on a manifest with {case}", f"`{line[:150]}`")


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
              f"`{line[len('error: ') + len(str(path)):][:140]}`")


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
    fault_log(f"a VCF line with {case}", f"`{line[len('error: '):][:140]}`")
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
            "refused with the record named, as the dataset builder does")


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
            "the header and the log")


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
