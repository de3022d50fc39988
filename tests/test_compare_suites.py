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


# --------------------------------------------------------------------------
# The bootstrap over the test sequences (--bootstrap)


def _decided(run, truth, predicted):
  from sklearn.metrics import matthews_corrcoef

  return {**run, "mcc": float(matthews_corrcoef(truth, predicted)),
          "test_labels": "".join("01"[int(v)] for v in truth),
          "test_predicted": "".join("01"[int(v)] for v in predicted)}


def _noisy(truth, rate, rng):
  return np.where(rng.random(len(truth)) < rate, 1 - truth, truth)


def test_resampled_mcc_is_scikit_learns_with_the_draw_counts_as_weights():
  from sklearn.metrics import matthews_corrcoef

  from benchmarks.bootstrap import mcc_resampled

  rng = np.random.default_rng(1)
  truth = rng.integers(0, 2, 300)
  decided = np.stack([_noisy(truth, rate, rng) for rate in (0.1, 0.3, 0.5)])
  weights = rng.multinomial(300, np.full(300, 1 / 300), size=4)
  got = mcc_resampled(truth.astype(bool), decided.astype(bool), weights)
  for r in range(4):
    for m in range(3):
      expected = matthews_corrcoef(truth, decided[m], sample_weight=weights[r])
      assert got[r, m] == pytest.approx(100 * expected, abs=1e-9)
  # A resample of one class only: MCC 0, as scikit-learn's.
  one_class = (truth == 1)[None, :].astype(int)
  assert mcc_resampled(truth.astype(bool), decided.astype(bool), one_class)[0, 0] == 0.0


def test_the_bar_margin_over_resamples_of_the_test_sequences():
  from benchmarks.bootstrap import bar_interval

  rng = np.random.default_rng(2)
  truth = rng.integers(0, 2, 400)
  pair = [_decided(_run("both", s, 0, 0), truth, _noisy(truth, 0.05, rng)) for s in (0, 1)]
  weak = [_decided(_run("sequence", s, 0, 0), truth, _noisy(truth, 0.3, rng)) for s in (0, 1)]
  regression = _decided({}, truth, _noisy(truth, 0.35, rng))
  found = bar_interval(pair, {"sequence": weak, "k-mer regression": [regression]}, 500)
  expected = 100 * (np.mean([r["mcc"] for r in pair])
                    - max(np.mean([r["mcc"] for r in weak]), regression["mcc"]))
  assert found["margin"] == pytest.approx(expected, abs=1e-9)
  assert found["low"] < found["margin"] < found["high"] and found["met"] == 1.0
  assert found["gaps"]["k-mer regression"]["gap"] == pytest.approx(
      100 * (np.mean([r["mcc"] for r in pair]) - regression["mcc"]), abs=1e-9)
  assert found["n"] == 400 and found["resamples"] == 500
  # The same decisions as the rival's: a margin of 0 on every resample.
  same = bar_interval(weak, {"sequence": weak}, 200)
  assert same["low"] == same["high"] == 0.0 and same["met"] == same["behind"] == 0.0
  # Two slightly different models on few sequences: the interval spans 0.
  close = [_decided(_run("both", 0, 0, 0), truth[:60], _noisy(truth[:60], 0.2, rng))]
  rival = [_decided(_run("sequence", 0, 0, 0), truth[:60], _noisy(truth[:60], 0.2, rng))]
  spread = bar_interval(close, {"sequence": rival}, 500)
  assert spread["low"] < 0 < spread["high"] and 0 < spread["behind"] < 1


def test_the_bootstrap_refuses_runs_that_are_not_one_test_split():
  from benchmarks.bootstrap import MissingPredictions, bar_interval

  rng = np.random.default_rng(3)
  truth = rng.integers(0, 2, 100)
  run = _decided(_run("both", 0, 0, 0), truth, _noisy(truth, 0.1, rng))
  with pytest.raises(MissingPredictions):
    bar_interval([run], {"sequence": [_run("sequence", 0, 0.5, 0.5)]}, 10)
  reordered = _decided(_run("sequence", 0, 0, 0), truth[::-1], truth[::-1])
  with pytest.raises(ValueError, match="labels differ"):
    bar_interval([run], {"sequence": [reordered]}, 10)
  with pytest.raises(ValueError, match="not the run's own decisions"):
    bar_interval([{**run, "mcc": run["mcc"] - 0.1}], {"sequence": [run]}, 10)


def _compare_cli(tmp_path, data: dict, *flags: str) -> subprocess.CompletedProcess:
  """compare_suites on `data` against itself, with `flags`."""
  (tmp_path / "c.json").write_text(json.dumps(data))
  return subprocess.run(
      [sys.executable, "-m", "benchmarks.compare_suites", f"--candidate={tmp_path / 'c.json'}",
       f"--baseline={tmp_path / 'c.json'}", f"--output={tmp_path / 'out.json'}", *flags],
      cwd=REPO, capture_output=True, text=True)


def _bootstrap_cli(tmp_path, data: dict, resamples: int,
                   *flags: str) -> tuple[str, dict]:
  """compare_suites --bootstrap on `data` against itself: its report and its JSON."""
  done = _compare_cli(tmp_path, data, f"--bootstrap={resamples}", *flags)
  assert done.returncode == 0, done.stderr
  return ((tmp_path / "out.md").read_text(),
          json.loads((tmp_path / "out.json").read_text()))


def test_compare_suites_bootstrap_where_every_run_kept_its_decisions(tmp_path):
  rng = np.random.default_rng(4)
  truth = rng.integers(0, 2, 500)
  runs = [_decided(_run(arm, s, 0, 0.7), truth, _noisy(truth, rate, rng))
          for arm, rate in (("both", 0.08), ("sequence", 0.12), ("features", 0.3))
          for s in (0, 1)]
  data = {"tasks": {"t": {"runs": runs, "published": {},
                          "logistic_regression": _decided({}, truth, _noisy(truth, 0.3, rng)),
                          "kmer_regression": _decided({}, truth, _noisy(truth, 0.2, rng))}},
          "settings": {}}
  row = compare_task(data, data, "t", resamples=300)
  assert row["bootstrap"]["margin"] == pytest.approx(row["bar_margin"], abs=1e-9)
  assert set(row["bootstrap"]["gaps"]) == {"sequence", "features", "feature regression",
                                           "k-mer regression"}
  assert compare_task(BASELINE, BASELINE, "t", resamples=300)["bootstrap"] is None
  report, written = _bootstrap_cli(tmp_path, data, 300)
  found = written["comparison"]["t"]["bootstrap"]
  assert (f"| t | 500 | {found['margin']:+.1f} [{found['low']:+.1f}, {found['high']:+.1f}] |"
          in report)
  assert "## The test set's noise" in report and "300 resamples" in report
  assert "Pooled over" not in report  # One task: nothing to pool.


def _task(rng, size, rates):
  truth = rng.integers(0, 2, size)
  runs = [_decided(_run(arm, s, 0, 0.7), truth, _noisy(truth, rate, rng))
          for arm, rate in zip(("both", "sequence", "features"), rates) for s in (0, 1)]
  return {"runs": runs, "published": {},
          "logistic_regression": _decided({}, truth, _noisy(truth, 0.3, rng)),
          "kmer_regression": _decided({}, truth, _noisy(truth, 0.25, rng))}


def test_the_margin_pooled_over_tasks_is_the_mean_of_each_tasks_resamples():
  from benchmarks.bootstrap import pooled_interval, resampled_margins, summarise

  rng = np.random.default_rng(5)
  tasks = [_task(rng, 400, (0.1, 0.12, 0.3)) for _ in range(4)]
  arrays = []
  for seed, task in enumerate(tasks):
    pair = [r for r in task["runs"] if r["ablation"] == "both"]
    rivals = {arm: [r for r in task["runs"] if r["ablation"] == arm]
              for arm in ("sequence", "features")}
    if seed:  # A rival that one task lacks is not pooled.
      rivals["k-mer regression"] = [task["kmer_regression"]]
    arrays.append(resampled_margins(pair, rivals, 1000, seed))
  pooled = pooled_interval(arrays)
  alone = [summarise(a) for a in arrays]
  assert pooled["margin"] == pytest.approx(np.mean([a["margin"] for a in alone]), abs=1e-9)
  assert set(pooled["gaps"]) == {"sequence", "features"} and pooled["tasks"] == 4
  assert pooled["gaps"]["sequence"]["gap"] == pytest.approx(
      np.mean([a["gaps"]["sequence"]["gap"] for a in alone]), abs=1e-9)
  # Four independent test sets of one size: the pooled interval about half as wide.
  width = np.median([a["high"] - a["low"] for a in alone])
  assert 0.35 < (pooled["high"] - pooled["low"]) / width < 0.65


def test_resampling_the_seeds_draws_each_models_runs_again():
  from benchmarks.bootstrap import resampled_margins

  rng = np.random.default_rng(7)
  truth = rng.integers(0, 2, 3000)
  rival = _decided(_run("sequence", 0, 0, 0), truth, _noisy(truth, 0.2, rng))
  better = _decided(_run("both", 1, 0, 0), truth, _noisy(truth, 0.1, rng))
  pair = [{**rival, "ablation": "both"}, better]  # One seed no better than the rival.
  fixed = resampled_margins(pair, {"sequence": [rival]}, 1000, 3)
  drawn = resampled_margins(pair, {"sequence": [rival]}, 1000, 3, resample_seeds=True)
  assert drawn["margin"][0] == fixed["margin"][0]  # The runs as they are: the same.
  # Both runs the rival's twin on a quarter of the draws: a margin of exactly 0.
  assert 0.2 < np.mean(drawn["margin"][1:] == 0) < 0.3
  assert np.mean(fixed["margin"][1:] == 0) == 0
  # Both the better run on another quarter: twice the fixed margin, about.
  doubled = np.abs(drawn["margin"][1:] - 2 * fixed["margin"][1:]) < 1e-9
  assert 0.2 < doubled.mean() < 0.3
  # The test resamples are the same ones: where both runs are drawn, the fixed margin.
  kept = np.abs(drawn["margin"][1:] - fixed["margin"][1:]) < 1e-9
  assert 0.4 < kept.mean() < 0.6


def test_compare_suites_resamples_seeds_only_with_the_bootstrap(tmp_path):
  rng = np.random.default_rng(8)
  data = {"tasks": {"a": _task(rng, 300, (0.1, 0.15, 0.3)),
                    "b": _task(rng, 300, (0.1, 0.15, 0.3))}, "settings": {}}
  refused = _compare_cli(tmp_path, data, "--resample_seeds")
  assert refused.returncode == 1 and "Traceback" not in refused.stderr
  assert refused.stderr.strip().startswith("error: --resample_seeds") and not (
      tmp_path / "out.json").exists()
  report, written = _bootstrap_cli(tmp_path, data, 200, "--resample_seeds")
  assert "another set of training seeds" in report and "each model's seeds too" in report
  assert "## The test set's and the seeds' noise" in report
  row = written["comparison"]["a"]
  assert row["bootstrap"]["seeds_resampled"] is True
  assert row["bootstrap"]["margin"] == pytest.approx(row["bar_margin"], abs=1e-9)


def test_compare_suites_pools_the_tasks_each_resampled_by_its_own_seed(tmp_path):
  rng = np.random.default_rng(6)
  task = _task(rng, 300, (0.1, 0.15, 0.3))
  data = {"tasks": {"a": task, "b": task}, "settings": {}}
  draws = {}
  rows = {name: compare_task(data, data, name, resamples=200, draws=draws)
          for name in ("a", "b")}
  assert rows["a"]["bar_margin"] == pytest.approx(rows["b"]["bar_margin"], abs=1e-9)
  # The same test set under two names: other resamples, so other intervals.
  assert not np.array_equal(draws["a"]["margin"], draws["b"]["margin"])
  again = compare_task(data, data, "a", resamples=200)["bootstrap"]
  assert again == rows["a"]["bootstrap"]  # A task's resamples are its own, every time.
  report, written = _bootstrap_cli(tmp_path, data, 200)
  pooled = written["pooled"]
  assert pooled["pooled_tasks"] == ["a", "b"] and pooled["tasks"] == 2
  assert pooled["margin"] == pytest.approx(rows["a"]["bar_margin"], abs=1e-9)
  assert "Pooled over the 2 tasks (a, b; " in report
  assert (f"the mean bar margin {pooled['margin']:+.1f} [{pooled['low']:+.1f}, "
          f"{pooled['high']:+.1f}]" in report)


def test_a_baseline_without_a_pair_is_given_no_gain_over_it():
  from benchmarks.compare_suites import _summary

  candidate = _results([_run("both", 0, 0.74, 0.81)])
  branches_only = _results([r for r in BASELINE["tasks"]["t"]["runs"] if r["ablation"] != "both"])
  said = _summary([compare_task(candidate, branches_only, "t")])
  assert said.startswith("Bar met on 1 of 1") and "baseline pair" not in said
  assert "above the baseline pair on test on 1 of 1" in _summary(
      [compare_task(candidate, BASELINE, "t")])


def test_the_report_says_how_each_run_counted_its_dead_units():
  from benchmarks.compare_suites import _dead_rules

  from gslm_keras.training.collapse import DEAD_RULE

  old = _run("both", 0, 0.74, 0.81)
  new = {**_run("both", 1, 0.71, 0.77), "dead_rule": DEAD_RULE}
  said = _dead_rules({"comparison": {"t": compare_task(_results([old, new]), BASELINE,
                                                       "t")}})
  assert said.startswith(DEAD_RULE + "; ") and "never changed" in said
  said = _dead_rules({"comparison": {"t": compare_task(_results([new]), BASELINE, "t")}})
  assert said == DEAD_RULE


def test_both_strands_against_the_forward_strand_of_the_same_runs(tmp_path):
  # One suite whose runs recorded both strands' scores too: the candidate read on
  # both strands, the same file's pair on the forward strand as the baseline. The
  # branches are read as the candidate is; a run without both strands stays forward.
  def run(ablation, seed, mcc, dev, both=None):
    out = _run(ablation, seed, mcc, dev)
    if both is not None:
      out["both_strands"] = {"mcc": both[0], "dev_mcc": both[1]}
    return out

  suite = _results([run("both", 0, 0.70, 0.75, (0.73, 0.78)),
                    run("both", 1, 0.72, 0.77, (0.72, 0.79)),
                    run("sequence", 0, 0.71, 0.80, (0.75, 0.81)),
                    run("sequence", 1, 0.69, 0.78, (0.70, 0.79)),
                    run("features", 0, 0.40, 0.45), run("features", 1, 0.42, 0.47)])
  path = tmp_path / "suite.json"
  path.write_text(json.dumps({**suite, "settings": {}}))
  done = subprocess.run(
      [sys.executable, "-m", "benchmarks.compare_suites", f"--candidate={path}",
       f"--baseline={path}", "--strands=both", f"--output={tmp_path / 'out.json'}"],
      cwd=REPO, capture_output=True, text=True)
  assert done.returncode == 0, done.stderr
  row = json.loads((tmp_path / "out.json").read_text())["comparison"]["t"]
  assert row["candidate"][0] == pytest.approx(72.5)           # (73 + 72) / 2.
  assert row["both"]["gap"]["mean"] == pytest.approx(1.5)     # (+3, +0) / 2.
  assert row["sequence"]["test"][0] == pytest.approx(72.5)    # (75 + 70) / 2.
  assert row["sequence"]["gap"]["mean"] == pytest.approx(0.0, abs=1e-9)  # (-2, +2).
  assert row["features"]["test"][0] == pytest.approx(41.0)    # Forward only.
  assert row["bar_margin"] == pytest.approx(0.0, abs=1e-9)
  assert row["dev_margin"] == pytest.approx(78.5 - 80.0)       # Against sequence's 80.
  report = (tmp_path / "out.md").read_text()
  assert "Strands: the candidate and every branch by both strands averaged" in report
  assert "the baseline pair by the forward strand" in report
