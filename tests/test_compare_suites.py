"""benchmarks.compare_suites: the candidate's runs against the baseline's, seed by seed."""

import json
import subprocess
import sys

import numpy as np
import pytest

from benchmarks.compare_suites import compare_task

from conftest import REPO


def _run(ablation, seed, mcc, dev):
  return {"ablation": ablation, "seed": seed, "mcc": mcc, "dev_mcc": dev, "restarts": 0,
          "dead_fusion_units": 0}


def _results(runs, partial=False):
  entry = {"runs": runs, "logistic_regression": {"mcc": 0.50},
           "kmer_regression": {"mcc": 0.60}, "published": {"dnabert2": 70.0, "best": 80.0}}
  if partial:
    return {"tasks": {}, "partial": {"t": runs}}
  return {"tasks": {"t": entry}}


BASELINE = _results([_run("both", 0, 0.70, 0.75), _run("both", 1, 0.72, 0.77),
                     _run("sequence", 0, 0.71, 0.80), _run("sequence", 1, 0.69, 0.78),
                     _run("features", 0, 0.40, 0.45), _run("features", 1, 0.42, 0.47)])


def test_paired_by_seed_against_each_arm():
  candidate = _results([_run("both", 0, 0.74, 0.81), _run("both", 1, 0.71, 0.77)])
  row = compare_task(candidate, BASELINE, "t")
  assert row["candidate"][0] == pytest.approx(72.5)
  assert row["both"]["gap"]["mean"] == pytest.approx(1.5)  # (+4, -1) / 2.
  assert row["both"]["gap"]["wins"] == 1 and row["both"]["gap"]["n"] == 2
  assert row["sequence"]["gap"]["mean"] == pytest.approx(2.5)  # (+3, +2) / 2.
  assert row["sequence"]["gap"]["wins"] == 2
  # The bar: 72.5 against the best of sequence 70, features 41, regressions 50, 60.
  assert row["bar_margin"] == pytest.approx(2.5)
  # Dev: 79 against the sequence branch's 79.
  assert row["dev_margin"] == pytest.approx(0.0, abs=1e-9)


def test_a_partial_task_counts_and_a_foreign_file_is_one_line(tmp_path):
  candidate = _results([_run("both", 0, 0.74, 0.81)], partial=True)
  (tmp_path / "c.json").write_text(json.dumps({**candidate, "settings": {}}))
  (tmp_path / "b.json").write_text(json.dumps(BASELINE))
  done = subprocess.run(
      [sys.executable, "-m", "benchmarks.compare_suites", f"--candidate={tmp_path / 'c.json'}",
       f"--baseline={tmp_path / 'b.json'}", f"--output={tmp_path / 'out.json'}"],
      cwd=REPO, capture_output=True, text=True)
  assert done.returncode == 0, done.stderr
  report = (tmp_path / "out.md").read_text()
  assert "| t | 1 | 74.0 ± 0.0 |" in report
  (tmp_path / "empty.json").write_text(json.dumps({"tasks": {}, "settings": {}}))
  refused = subprocess.run(
      [sys.executable, "-m", "benchmarks.compare_suites",
       f"--candidate={tmp_path / 'empty.json'}", f"--baseline={tmp_path / 'b.json'}",
       f"--output={tmp_path / 'x.json'}"], cwd=REPO, capture_output=True, text=True)
  assert refused.returncode != 0
  assert refused.stderr.strip().count("\n") == 0 and "no task of" in refused.stderr
  assert not (tmp_path / "x.json").exists()


def test_no_bar_where_the_baseline_lacks_a_branch():
  candidate = _results([_run("both", 0, 0.74, 0.81)])
  no_features = _results([r for r in BASELINE["tasks"]["t"]["runs"]
                          if r["ablation"] != "features"])
  row = compare_task(candidate, no_features, "t")
  assert np.isnan(row["bar_margin"]) and np.isnan(row["dev_margin"])
  assert row["sequence"]["gap"]["mean"] == pytest.approx(3.0)


def test_branches_from_other_files_where_the_baseline_has_none(tmp_path):
  # A fine-tuned baseline with only its pair; the branches from two other files,
  # the first that has an arm giving it; the baseline's own pair is kept.
  candidate = _results([_run("both", 0, 0.74, 0.81), _run("both", 1, 0.71, 0.77)])
  pair_only = _results([r for r in BASELINE["tasks"]["t"]["runs"] if r["ablation"] == "both"])
  sequence = _results([_run("sequence", 0, 0.60, 0.70), _run("sequence", 1, 0.62, 0.72),
                       _run("both", 0, 0.10, 0.10)])
  features = _results([_run("features", 0, 0.40, 0.45), _run("features", 1, 0.42, 0.47),
                       _run("sequence", 0, 0.99, 0.99)])
  row = compare_task(candidate, pair_only, "t", [sequence, features])
  assert row["both"]["gap"]["mean"] == pytest.approx(1.5)  # The baseline's pair.
  assert row["sequence"]["test"][0] == pytest.approx(61.0)
  assert row["features"]["test"][0] == pytest.approx(41.0)
  # 72.5 against sequence 61, features 41, regressions 50 and 60; dev 79 against 71.
  assert row["bar_margin"] == pytest.approx(11.5)
  assert row["dev_margin"] == pytest.approx(8.0)
  for name, data in (("c", candidate), ("b", pair_only), ("s", sequence), ("f", features)):
    (tmp_path / f"{name}.json").write_text(json.dumps({**data, "settings": {}}))
  done = subprocess.run(
      [sys.executable, "-m", "benchmarks.compare_suites", f"--candidate={tmp_path / 'c.json'}",
       f"--baseline={tmp_path / 'b.json'}", f"--output={tmp_path / 'out.json'}",
       f"--branches={tmp_path / 's.json'},{tmp_path / 'f.json'}"],
      cwd=REPO, capture_output=True, text=True)
  assert done.returncode == 0, done.stderr
  report = (tmp_path / "out.md").read_text()
  assert f"the branches it lacks from `{tmp_path / 's.json'}`, `{tmp_path / 'f.json'}`" \
      in report
  assert "| t | 2 | 72.5 ± 2.1 | 71.0 | 61.0 | 41.0 |" in report
  # --tasks keeps the comparison to the tasks named (here none of them: refused).
  refused = subprocess.run(
      [sys.executable, "-m", "benchmarks.compare_suites", f"--candidate={tmp_path / 'c.json'}",
       f"--baseline={tmp_path / 'b.json'}", f"--output={tmp_path / 'none.json'}",
       "--tasks=u"], cwd=REPO, capture_output=True, text=True)
  assert refused.returncode != 0 and "no task of" in refused.stderr
