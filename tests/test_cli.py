"""The build_dataset entry point as a user runs it."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from commands import PRELOAD, run_command
from conftest import REPO


def _run(*args, cwd=REPO, timeout=180):
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
  return subprocess.run([sys.executable, *args], cwd=cwd, env=env, capture_output=True,
                        text=True, timeout=timeout)


def test_flagfile_build_with_override(tmp_path):
  out = tmp_path / "splice"
  result = _run("-m", "gslm_keras.build_dataset",
                "--flagfile=datasets/splice_statlog/build.flags", f"--output_dir={out}",
                "--num_workers=1")
  assert result.returncode == 0, result.stderr
  assert f"Dataset written to {out}" in result.stdout
  manifest = json.loads((out / "dataset_info.json").read_text())
  assert manifest["splits"]["test"]["num_records"] == 1186
  assert manifest["build_command"] == (
      "python -m gslm_keras.build_dataset --flagfile=datasets/splice_statlog/build.flags "
      f"--output_dir={out} --num_workers=1")
  assert [f["name"] for f in manifest["computed_features"]] == [
      "gc_content", "cpg_oe", "kmer", "entropy", "fickett", "orf_fraction", "dinucleotide"]


def test_bad_input_prints_one_clear_line(tmp_path):
  bad = tmp_path / "bad.csv"
  bad.write_text("sequence,label\nACGTACGT,1\nACGTXCGT,0\n")
  result = _run("-m", "gslm_keras.build_dataset", f"--train={bad}",
                f"--output_dir={tmp_path / 'out'}")
  assert result.returncode == 1
  assert f"error: {bad}, line 3: character 'X' at position 5" in result.stderr
  assert "Traceback" not in result.stderr
  assert not (tmp_path / "out").exists()


def test_unknown_flag_in_flagfile(tmp_path):
  flagfile = tmp_path / "x.flags"
  flagfile.write_text("--train=a.csv\n--no_such_flag=3\n")
  result = _run("-m", "gslm_keras.build_dataset", f"--flagfile={flagfile}",
                f"--output_dir={tmp_path / 'out'}")
  assert result.returncode != 0
  assert "no_such_flag" in result.stderr
  assert "Traceback" not in result.stderr


def test_missing_output_dir_and_feature_list():
  result = _run("-m", "gslm_keras.build_dataset", "--train=a.csv")
  assert result.returncode == 1
  assert "error: --output_dir is required" in result.stderr
  # Corpus-only flags on a labelled build, Beam options without Beam: refused.
  result = _run("-m", "gslm_keras.build_dataset", "--train=a.csv", "--output_dir=o",
                "--exclude=dev.csv", "--both_strands")
  assert result.returncode == 1
  assert ("error: --both_strands, --exclude: only for --task=unlabelled"
          in result.stderr), result.stderr
  result = _run("-m", "gslm_keras.build_dataset", "--train=a.csv", "--output_dir=o",
                "--beam_pipeline_options=--direct_num_workers=2")
  assert result.returncode == 1
  assert "error: --beam_pipeline_options needs --engine=beam" in result.stderr
  result = _run("-m", "gslm_keras.build_dataset", "--list_features")
  assert result.returncode == 0
  assert "kmer(k=3, canonical=False)" in result.stdout
  assert "dinucleotide(scale=stacking_energy)" in result.stdout


def test_import_has_no_side_effects():
  code = ("import os, sys, time; before = dict(os.environ); t = time.time(); "
          "import gslm_keras; "
          "assert 'tensorflow' not in sys.modules, 'imports TensorFlow'; "
          "assert dict(os.environ) == before, 'changes the environment'; "
          "print(round(time.time() - t, 3))")
  result = _run("-c", code)
  assert result.returncode == 0, result.stderr
  assert float(result.stdout) < 1.0


def test_quiet_logs_and_progress_with_an_estimate(tmp_path):
  # As a user runs it: no TF_CPP_MIN_LOG_LEVEL set, two shard-writer processes.
  # TensorFlow's CUDA and CPU start-up lines (an error-level "failed call to
  # cuInit" on a CPU machine) are not shown; progress lines carry a rate and an
  # estimate of the time left.
  from gslm_keras.startup import has_nvidia_gpu

  table = tmp_path / "big.csv"
  with open(REPO / "datasets/splice_statlog/splice_statlog_dna.csv") as source:
    lines = source.readlines()
  with open(table, "w") as out:
    out.write("sequence,label\n")
    for copy in range(6):
      out.writelines(",".join(l.split(",")[:2]) + "\n" for l in lines[1:])
  env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
  result = subprocess.run(
      [sys.executable, "-m", "gslm_keras.build_dataset", f"--input={table}",
       "--split_fractions=0.8,0.1,0.1", "--computed_features=gc_content",
       "--num_workers=2", "--records_per_shard=2000", "--progress_seconds=0.2",
       f"--output_dir={tmp_path / 'out'}"], cwd=REPO, env=env, capture_output=True,
      text=True, timeout=300)
  assert result.returncode == 0, result.stderr
  if not has_nvidia_gpu():
    for noise in ("cuInit", "cudart_stub", "cuda drivers", "cpu_feature_guard",
                  "absl::InitializeLog"):
      assert noise not in result.stderr, result.stderr[:2000]
  progress = [l for l in result.stderr.splitlines() if "records read (" in l]
  assert progress, result.stderr[-2000:]
  assert any("% " in l or "%," in l for l in progress) and any(" left" in l
                                                               for l in progress)


def test_log_lines_are_plain_on_a_terminal():
  import logging

  from gslm_keras.cli import _PlainFormatter

  formatter = _PlainFormatter("%(message)s")

  def record(level, message):
    return logging.LogRecord("absl", level, "fit.py", 159, message, (), None)

  assert formatter.format(record(logging.INFO, "Training 29 steps")) == "Training 29 steps"
  assert formatter.format(record(logging.WARNING, "no dev split")) == "warning: no dev split"


def test_training_progress_inside_segments(caplog):
  import logging

  from gslm_keras.training.callbacks import StepProgress

  progress = StepProgress(segment_steps=10, total_steps=40, initial_segment=1,
                          freeze_steps=25, every=0.0)
  progress.on_train_begin()
  # absl's own logger, whose level another test's flags may have raised.
  with caplog.at_level(logging.INFO, logger="absl"):
    for segment in (1, 2):
      progress.on_epoch_begin(segment)
      for batch in range(10):
        progress.on_train_batch_end(batch, {"loss": 0.5})
  lines = [r.getMessage() for r in caplog.records]
  steps = [l for l in lines if l.startswith(("1 steps", "20 steps"))]
  assert steps[0].startswith("1 steps (") and "3%" in steps[0] and "left: step 11/40, " \
      "loss 0.5000" in steps[0]
  assert steps[-1].startswith("20 steps (") and "67%" in steps[-1] and "step 30/40" in \
      steps[-1]
  released = [l for l in lines if "released" in l]
  assert released == ["Step 25: the sequence backbone is released (frozen for the first "
                      "25 steps) and trains from here on"]


def test_forked_commands_run_as_python_dash_m_with_tensorflow_loaded(tmp_path):
  # The other test files run the commands forked from a server that loaded
  # TensorFlow (tests/commands.py): the command finds it loaded, and its own
  # argv, working directory, environment, output and exit status, as `python -m`.
  check = ("import os, sys; "
           f"assert all(m in sys.modules for m in {PRELOAD!r}), 'not preloaded'; "
           "assert os.environ['PROBE'] == 'yes' and os.getcwd() == os.environ['WHERE']; "
           "assert sys.argv[0].endswith('timeit.py'); print('ran')")
  env = dict(os.environ, PROBE="yes", WHERE=str(tmp_path))
  out = run_command("timeit", "-n", "1", "-r", "1", check, cwd=tmp_path, env=env)
  assert out.returncode == 0 and "ran" in out.stdout, out.stderr[-2000:]
  # The same statement in a fresh interpreter: TensorFlow is not loaded there.
  fresh = subprocess.run([sys.executable, "-m", "timeit", "-n", "1", "-r", "1", check],
                         cwd=tmp_path, capture_output=True, text=True, env=env, timeout=60)
  assert fresh.returncode != 0 and "not preloaded" in fresh.stderr
  # A failing command: the status and the lines `python -m` gives.
  args = ("json.tool", str(tmp_path / "missing.json"))
  forked = run_command(*args, cwd=tmp_path)
  plain = subprocess.run([sys.executable, "-m", *args], cwd=tmp_path, capture_output=True,
                         text=True, timeout=60)
  assert forked.returncode == plain.returncode == 2
  assert (forked.stdout, forked.stderr) == (plain.stdout, plain.stderr)
  assert "missing.json" in forked.stderr
