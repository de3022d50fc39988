"""The accuracy suite on a reduced setting, so that it cannot rot."""

from __future__ import annotations

import dataclasses
import json
import os

import numpy as np
import pytest
from sklearn import metrics as skm

from commands import run_command
from conftest import PROM_DIR


@pytest.mark.slow
def test_accuracy_suite_reduced(tmp_path):
  task = tmp_path / "tasks" / "prom" / "mini"
  task.mkdir(parents=True)
  for split, rows in (("train", 600), ("dev", 150), ("test", 150)):
    source = "train" if split == "train" else split
    with open(PROM_DIR / f"{source}.csv") as handle:
      lines = handle.read().splitlines()
    (task / f"{split}.csv").write_text("\n".join(lines[: rows + 1]) + "\n")
  output = tmp_path / "results" / "mini.json"
  result = run_command(
      "benchmarks.accuracy", "--suite=tasks", f"--data_root={tmp_path / 'tasks'}",
      "--tasks=prom/mini", f"--output={output}", "--preset=tiny", "--epochs=1", "--seeds=2",
      "--workers=1", "--keep_predictions", "--rc_tasks=prom/")
  assert result.returncode == 0, result.stderr[-3000:]
  data = json.loads(output.read_text())
  assert data["complete"] and data["suite"] == "tasks"
  assert data["machine"]["cores"] == os.cpu_count()
  entry = data["tasks"]["prom/mini"]
  assert entry["data"]["train"] == 600 and entry["data"]["test"] == 150
  assert entry["summary"]["both"]["n_seeds"] == 2
  assert {run["ablation"] for run in entry["runs"]} == {"both", "sequence", "features"}
  for run in entry["runs"]:
    assert -1 <= run["mcc"] <= 1 and 0 <= run["auroc"] <= 1 and run["train_seconds"] > 0
    assert 0 < run["threshold"] < 1
    # Every run's fusion layer is counted, the sequence-only ablation's too.
    assert run["fusion_units"] == 16 and 0 <= run["dead_fusion_units"] <= 16, run
    assert run["dead_rule"].startswith("never positive")
    # Trained with reverse-complement augmentation (--rc_tasks): scored on both
    # strands averaged too, its own dev threshold, its decisions giving its MCC.
    both = run["both_strands"]
    assert 0 < both["threshold"] < 1 and 0 <= both["auroc"] <= 1
    truth = np.array([int(c) for c in both["test_labels"]])
    decided = np.array([int(c) for c in both["test_predicted"]])
    assert both["test_labels"] == run["test_labels"]
    assert both["mcc"] == pytest.approx(float(skm.matthews_corrcoef(truth, decided)))
  # --keep_predictions: every run's and regression's test decisions, in one order, each
  # giving its recorded MCC (benchmarks.bootstrap checks both and raises otherwise).
  from benchmarks.bootstrap import bar_interval

  rivals = {"sequence": [r for r in entry["runs"] if r["ablation"] == "sequence"],
            "regressions": [entry["logistic_regression"], entry["kmer_regression"]]}
  pair = [r for r in entry["runs"] if r["ablation"] == "both"]
  assert len(pair[0]["test_labels"]) == 150
  assert bar_interval(pair, rivals, 50)["n"] == 150
  assert 0 <= entry["logistic_regression"]["auroc"] <= 1
  assert entry["published"] == {"dnabert2": None, "nt": None, "cnn_floor": None, "best": None}
  markdown = (tmp_path / "results" / "mini.md").read_text()
  assert "| prom/mini | 600 / 150 / 150 |" in markdown
  assert "Dual-input beats both single branches on" in markdown
  # The k-mer regression is fitted on the task's own splits, and the bar is the
  # strongest of the four rivals.
  kmers = entry["kmer_regression"]
  assert kmers["features"] == sum(4**k for k in range(1, 7)) and -1 <= kmers["mcc"] <= 1
  rivals = [entry["summary"]["sequence"]["mcc_mean"],
            entry["summary"]["features"]["mcc_mean"],
            entry["logistic_regression"]["mcc"], kmers["mcc"]]
  margin = 100 * (entry["summary"]["both"]["mcc_mean"] - max(rivals))
  assert f"margin over the strongest of them: prom/mini {margin:+.1f}." in markdown
  # Every arm trained with --rc_tasks: the report reads it on both strands too.
  both_mean = 100 * np.mean([r["both_strands"]["mcc"] for r in pair])
  assert f"- prom/mini: pair {both_mean:.1f} ± " in markdown
  missing = run_command("benchmarks.accuracy", "--suite=tasks",
                        f"--data_root={tmp_path / 'tasks'}", "--tasks=prom/none",
                        f"--output={output}", timeout=300)
  assert missing.returncode != 0 and "no task folder 'prom/none'" in missing.stderr
  # --resume keeps finished tasks (nothing retrained) and refuses other settings.
  base = ["benchmarks.accuracy", "--suite=tasks",
          f"--data_root={tmp_path / 'tasks'}", "--tasks=prom/mini", f"--output={output}",
          "--preset=tiny", "--seeds=2", "--workers=1", "--keep_predictions", "--rc_tasks=prom/",
          "--resume"]
  # Provenance written into the file (a file seeded from another) survives a resume.
  seeded = {"path": "other.json", "date": "2026-01-01", "note": "seed 0 from there"}
  output.write_text(json.dumps({**data, "seeded_from": seeded}))
  resumed = run_command(*base, "--epochs=1", timeout=300)
  assert resumed.returncode == 0, resumed.stderr[-3000:]
  again = json.loads(output.read_text())
  assert again.pop("seeded_from") == seeded
  assert "Seeded from `other.json`" in (tmp_path / "results" / "mini.md").read_text()
  assert again["tasks"] == data["tasks"] and again["complete"]
  assert again["resumed"] == [{"date": data["date"], "tasks": ["prom/mini"]}]
  assert again["total_seconds"] >= data["total_seconds"]
  other = run_command(*base, "--epochs=2", timeout=300)
  assert other.returncode != 0 and "made with another settings" in other.stderr
  assert "Resumed (`--resume`): prom/mini come from the run of" in (
      tmp_path / "results" / "mini.md").read_text()
  # --refit_regressions keeps every run and fits the regressions again.
  refit = run_command(*base, "--epochs=1", "--refit_regressions", timeout=300)
  assert refit.returncode == 0, refit.stderr[-3000:]
  assert ": both, seed" not in refit.stdout  # Nothing trained.
  third = json.loads(output.read_text())
  assert third["tasks"]["prom/mini"]["runs"] == data["tasks"]["prom/mini"]["runs"]
  assert third["regressions_refit"] == third["date"] and third["complete"]
  assert "`--refit_regressions`" in (tmp_path / "results" / "mini.md").read_text()
  alone = run_command(*base[:-1], "--epochs=1", "--refit_regressions", timeout=300)
  assert alone.returncode != 0 and "give --resume" in alone.stderr


def test_report_names_each_resumed_task_once_with_the_run_that_finished_it():
  from benchmarks import accuracy_report, common

  results = dict(common.header("benchmarks.accuracy"), suite="tasks", complete=False,
                 tasks={}, settings={"preset": "tiny", "epochs": 1, "patience": 1,
                                     "batch_size": 8, "seeds": 1, "ablation_seeds": 1})
  # A resume records every task finished before it: here a run that added
  # nothing (d2) and one that added b (d3).
  results["resumed"] = [{"date": "d1", "tasks": ["a"]}, {"date": "d2", "tasks": ["a"]},
                        {"date": "d3", "tasks": ["a", "b"]}]
  lines = [line for line in accuracy_report.markdown(results).splitlines() if "Resumed" in line]
  assert lines == [
      "Resumed (`--resume`): a come from the run of d1, with the same settings.",
      "Resumed (`--resume`): b come from the run of d3, with the same settings."]


def test_a_suite_of_one_branch_has_no_pair_to_time_or_hold_to_a_goal():
  # --ablations=sequence (a fine-tuned branch for compare_suites --branches): the
  # row says '-' for the pair's time and goal, never nan or "not met".
  from benchmarks import accuracy_report, common
  from benchmarks.task_runs import _mean_or_none, summarise

  runs = [{"ablation": "sequence", "seed": s, "mcc": m, "train_seconds": 10.0}
          for s, m in ((0, 0.70), (1, 0.74))]
  assert _mean_or_none([r["train_seconds"] for r in runs if r["ablation"] == "both"]) is None
  entry = {"runs": runs, "summary": summarise(runs), "wall_seconds_both_per_seed": None,
           "data": {"train": 10, "dev": 2, "test": 2, "sequence_overlaps": {}},
           "logistic_regression": {"mcc": 0.5},
           "kmer_regression": {"mcc": 0.6}, "published": {"nt": 60.0, "dnabert2": 65.0}}
  results = dict(common.header("benchmarks.accuracy"), suite="tasks", complete=True,
                 tasks={"t": entry},
                 settings={"preset": "default", "epochs": 1, "patience": 1, "batch_size": 8,
                           "seeds": 3, "ablation_seeds": 2, "ablations": ["sequence"]})
  row = [line for line in accuracy_report.markdown(results).splitlines()
         if line.startswith("| t |")][0]
  cells = [c.strip() for c in row.strip("|").split("|")]
  assert cells[2] == "-" and cells[4] == "72.0 ± 2.8"  # No pair; the branch's 2 seeds.
  assert cells[-2:] == ["-", "-"], row


def test_the_report_reads_the_rc_runs_on_both_strands_too():
  # Each arm's runs read on both strands where they recorded it (the features
  # branch here did not: it stays forward), the regressions forward; the margin and
  # the paired gaps computed by hand from the numbers below.
  from benchmarks import accuracy_report, common
  from benchmarks.task_runs import summarise

  def run(ablation, seed, mcc, dev, both=None):
    out = {"ablation": ablation, "seed": seed, "mcc": mcc, "dev_mcc": dev}
    if both:
      out["both_strands"] = {"mcc": both[0], "dev_mcc": both[1]}
    return out

  runs = [run("both", 0, 0.70, 0.80, (0.74, 0.83)), run("both", 1, 0.72, 0.81, (0.76, 0.82)),
          run("sequence", 0, 0.69, 0.79, (0.71, 0.80)),
          run("sequence", 1, 0.70, 0.80, (0.75, 0.84)),
          run("features", 0, 0.60, 0.65), run("features", 1, 0.62, 0.66)]
  entry = {"runs": runs, "summary": summarise(runs), "wall_seconds_both_per_seed": 1.0,
           "data": {"train": 10, "dev": 2, "test": 2, "sequence_overlaps": {}},
           "logistic_regression": {"mcc": 0.55}, "kmer_regression": {"mcc": 0.73},
           "published": {}}
  results = dict(common.header("benchmarks.accuracy"), suite="tasks", complete=True,
                 tasks={"t": entry, "forward only": {**entry, "runs": runs[4:]}},
                 settings={"preset": "default", "epochs": 1, "patience": 1, "batch_size": 8,
                           "seeds": 2, "ablation_seeds": 2})
  text = accuracy_report.markdown(results)
  # Forward: pair 71.0, best rival the k-mer regression 73.0.
  assert "margin over the strongest of them: t -2.0" in text
  lines = [line for line in text.splitlines() if line.startswith("- t: pair")]
  # Both strands: pair (74 + 76) / 2 = 75.0 ± 1.4; sequence (71 + 75) / 2 = 73.0 ± 2.8;
  # features forward 61.0 ± 1.4; margin 75.0 - 73.0 = +2.0; paired: test +3 and +1,
  # dev +3 and -2; features: test +14 and +14, dev +18 and +16.
  assert lines == ["- t: pair 75.0 ± 1.4, sequence 73.0 ± 2.8, features 61.0 ± 1.4; "
                   "margin +2.0; the pair against: sequence +2.0 ± 1.4 (2 of 2; dev +0.5), "
                   "features +14.0 ± 0.0 (2 of 2; dev +17.0)"], text
  assert "- forward only: pair" not in text  # No run of it recorded both strands.


def _transfer_result(source, seeds_mcc, scratch=None, **settings):
  runs = [{"ablation": "both", "seed": s, "mcc": m} for s, m in seeds_mcc.items()]
  runs += [{"ablation": "scratch", "seed": s, "mcc": m} for s, m in (scratch or {}).items()]
  return {"settings": dict({"epochs": 15, "init_from": source,
                            "compare_scratch": scratch is not None}, **settings),
          "versions": {"tensorflow": "x"}, "init_from": {"source": source, "sha256": "ab"},
          "tasks": {"t": {"runs": runs, "published": None}}}


def test_corpus_comparison_pairs_each_source_with_the_scratch_run_of_its_seed():
  from benchmarks import corpus_transfer

  named = {"multi": _transfer_result("m", {0: 0.60, 1: 0.50, 2: 0.70},
                                     scratch={0: 0.50, 1: 0.55, 2: 0.40}),
           "human": _transfer_result("h", {0: 0.52, 1: 0.51, 2: 0.45})}
  entry = corpus_transfer.compare(named, ["t"])["t"]
  multi, human = np.array([60, 50, 70]), np.array([52, 51, 45])
  scratch = np.array([50, 55, 40])
  for name, tuned in (("multi", multi), ("human", human)):
    assert entry["gain"][name]["gain"] == pytest.approx((tuned - scratch).mean())
    assert entry["gain"][name]["gain_sd"] == pytest.approx((tuned - scratch).std(ddof=1))
  assert entry["gain"]["multi"]["wins"] == 2 and entry["gain"]["human"]["wins"] == 2
  assert entry["between"]["multi - human"]["gain"] == pytest.approx((multi - human).mean())
  named["human"]["settings"]["epochs"] = 10
  with pytest.raises(ValueError, match="human was run with other settings"):
    corpus_transfer.compare(named, ["t"])


def test_a_benchmark_ends_in_one_line(capsys):
  from benchmarks import common
  from gslm_keras.errors import ConfigError

  def failing():
    raise ConfigError("--init_from=x: no model.keras there")

  def buggy():
    raise KeyError("half-way")

  for main, status, expected in ((failing, 1, "error: --init_from=x: no model.keras there"),
                                 (buggy, 2, "error: unexpected KeyError: 'half-way'")):
    with pytest.raises(SystemExit) as ended:
      common.run(main)
    assert ended.value.code == status
    err = capsys.readouterr().err
    assert err.startswith(expected) and "Traceback" not in err and err.count("\n") == 1
  # The suite refuses isolation without heads before any work, in the trainer's words.
  from benchmarks.accuracy import main as accuracy_main

  with pytest.raises(SystemExit) as ended:
    common.run(accuracy_main, ["--suite=tasks", f"--data_root={os.getcwd()}",
                               "--isolate_branches", "--output=unused.json"])
  assert ended.value.code == 1
  assert capsys.readouterr().err.startswith("error: isolate_branches trains each branch")


def test_kmer_frequencies_and_the_kmer_regression(tmp_path):
  import itertools

  from benchmarks.baselines import kmer_frequencies, kmer_regression

  sequence = "ACGTNACGGT"
  got = kmer_frequencies([sequence], kmax=3)[0]
  offset = 0
  for k in (1, 2, 3):
    names = ["".join(p) for p in itertools.product("ACGT", repeat=k)]
    windows = [sequence[i:i + k] for i in range(len(sequence) - k + 1)
               if "N" not in sequence[i:i + k]]
    expected = [windows.count(n) / len(windows) for n in names]
    np.testing.assert_allclose(got[offset:offset + 4**k], expected, rtol=1e-6)
    offset += 4**k
  # A planted 6-mer labels the sequences: the regression finds it on dev and test.
  rng = np.random.default_rng(0)
  for split, n in (("train", 1500), ("dev", 200), ("test", 200)):
    rows = []
    for i in range(n):
      s = list(rng.choice(list("ACGT"), 60))
      label = i % 2
      if label:
        start = rng.integers(0, 54)
        s[start:start + 6] = "TATAAA"
      rows.append(f"{''.join(s)},{label}")
    (tmp_path / f"{split}.csv").write_text("sequence,label\n" + "\n".join(rows) + "\n")
  result = kmer_regression(str(tmp_path), keep_predictions=True)
  assert result["dev_mcc"] > 0.75 and result["mcc"] > 0.75 and result["features"] == 5460
  # The kept decisions: the test labels in the CSV's order, and the MCC they give.
  from sklearn.metrics import matthews_corrcoef

  labels = [line.rsplit(",", 1)[1] for line in
            (tmp_path / "test.csv").read_text().splitlines()[1:]]
  assert result["test_labels"] == "".join(labels)
  decided = [int(c) for c in result["test_predicted"]]
  assert matthews_corrcoef([int(c) for c in labels], decided) == pytest.approx(result["mcc"])


def test_the_feature_regression_fits_standardised_features(tmp_path):
  """The feature regression equals a fit on the raw features standardised here with
  the train split's own mean and population sd (1 for a constant column)."""
  from benchmarks.baselines import logistic_on_dev
  from benchmarks.task_runs import build, logistic_regression
  from gslm_keras import make_dataset

  folder = tmp_path / "csv"
  folder.mkdir()
  for split, rows in (("train", 300), ("dev", 100), ("test", 100)):
    lines = (PROM_DIR / f"{split}.csv").read_text().splitlines()
    (folder / f"{split}.csv").write_text("\n".join(lines[: rows + 1]) + "\n")
  data_dir = str(tmp_path / "data")
  build(data_dir, 1, **{s: [str(folder / f"{s}.csv")] for s in ("train", "dev", "test")})
  raw = {}
  for split in ("train", "dev", "test"):
    batches = list(make_dataset(data_dir, split, "eval", 1024, verify="none"))
    raw[split] = (np.concatenate([b[0]["features"].numpy() for b in batches]),
                  np.concatenate([b[1].numpy() for b in batches]))
  mean, sd = raw["train"][0].mean(axis=0), raw["train"][0].std(axis=0)
  assert sd.max() / sd[sd > 0].min() > 100  # Scales far apart: standardising matters.
  sd = np.where(sd > 0, sd, 1.0)
  x = {split: (values - mean) / sd for split, (values, _) in raw.items()}
  y = {split: labels for split, (_, labels) in raw.items()}
  found = logistic_on_dev(x, y, (0.01, 0.1, 1.0, 10.0), binary=True)
  test = found["model"].predict_proba(x["test"])[:, 1] >= found["threshold"]
  from sklearn.metrics import matthews_corrcoef

  got = logistic_regression(data_dir, keep_predictions=True)
  assert got["C"] == found["C"]
  assert got["mcc"] == pytest.approx(matthews_corrcoef(y["test"], test), abs=1e-6)
  assert got["test_labels"] == "".join(str(int(v)) for v in y["test"].ravel())
  assert got["test_predicted"] == "".join(str(int(v)) for v in test)


def test_the_pair_against_its_branches_paired_by_seed():
  from benchmarks.accuracy_report import _ablation, _paired

  runs = ([{"ablation": "both", "seed": s, "mcc": m, "dev_mcc": m + 0.1}
           for s, m in enumerate((0.70, 0.72, 0.68))]
          + [{"ablation": "sequence", "seed": s, "mcc": m, "dev_mcc": m + 0.11}
             for s, m in enumerate((0.71, 0.69, 0.66))]
          + [{"ablation": "features", "seed": 0, "mcc": 0.5, "dev_mcc": 0.5}])
  # Differences 100 * (-0.01, 0.03, 0.02): mean 1.33, sd 2.08, 2 wins of 3; on dev
  # each 1 point less; the features branch ran one seed, so it is not paired.
  assert _paired("t", runs) == "t: sequence +1.3 ± 2.1 (2 of 3; dev +0.3)"
  assert _paired("t", runs[:4]) == ""
  assert _ablation({"n_seeds": 3, "mcc_mean": 0.7, "mcc_sd": 0.02}) == "70.0 ± 2.0"
  assert _ablation({"n_seeds": 1, "mcc_mean": 0.7, "mcc_sd": 0.0}) == "70.0"


def test_one_search_of_c_and_threshold_for_every_regression():
  """`logistic_on_dev` keeps the C with the best dev score, the smaller C on a tie,
  and the threshold of `dev_threshold`; checked against each fit done by hand."""
  from sklearn import metrics as skm
  from sklearn.linear_model import LogisticRegression

  from benchmarks.baselines import logistic_on_dev
  from gslm_keras.evaluation.threshold import dev_threshold

  rng = np.random.default_rng(3)
  x = {s: rng.normal(size=(n, 5)) for s, n in (("train", 300), ("dev", 120))}
  y = {s: (v[:, 0] + 0.8 * rng.normal(size=len(v)) > 0.3).astype(int) for s, v in x.items()}
  grid = (1e-4, 1e-2, 1.0, 1e-3)
  found = logistic_on_dev(x, y, grid)
  scores = {}
  for c in grid:
    dev = LogisticRegression(C=c, max_iter=3000).fit(x["train"], y["train"]).predict_proba(
        x["dev"])[:, 1]
    cut = dev_threshold(y["dev"], dev)
    scores[c] = (skm.matthews_corrcoef(y["dev"], (dev >= cut).astype(int)), cut)
  best = max(scores.values())[0]
  chosen = min(c for c, (score, _) in scores.items() if score == best)
  assert found["C"] == chosen and found["dev_score"] == pytest.approx(best)
  assert found["threshold"] == pytest.approx(scores[chosen][1])
  # Three classes: the dev accuracy of the argmax, no threshold.
  y3 = {s: np.digitize(v[:, 0], [-0.5, 0.5]) for s, v in x.items()}
  found = logistic_on_dev(x, y3, (0.01, 1.0))
  assert "threshold" not in found and found["dev_score"] == pytest.approx(
      (found["model"].predict(x["dev"]) == y3["dev"]).mean())
  assert found["dev_score"] > 0.6


def test_the_kmer_regression_beside_a_suite_gives_issue_22s_margin():
  from benchmarks import baselines

  summary = {"both": {"mcc_mean": 0.70, "mcc_sd": 0.01},
             "sequence": {"mcc_mean": 0.66}, "features": {"mcc_mean": 0.50}}
  results = {"date": "d", "command": "c", "machine": {"cpu": "x", "cores": 2,
             "memory_gib": 1, "platform": "p", "python": "3"},
             "versions": {"gslm_keras": "0", "tensorflow": "0", "keras": "0", "numpy": "0"},
             "tasks": {"t": {"dev_mcc": 0.6, "mcc": 0.675, "C": 0.001, "seconds": 1}},
             "against": {"path": "gue.json", "date": "d", "tasks": {
                 "t": {"summary": summary, "logistic_regression": {"mcc": 0.55}},
                 "not_fitted": {"summary": summary, "logistic_regression": {"mcc": 0.5}}}}}
  text = baselines.markdown(results)
  # 70.0 minus the strongest rival, the k-mer regression's 67.5.
  assert "| t | 70.0 ± 1.0 | 66.0 | 50.0 | 55.0 | 67.5 | +2.5 |" in text
  assert "not_fitted" not in text


def test_resume_refuses_results_of_another_model(tmp_path):
  # A suite written before the model was recorded, under the preset `default`,
  # trained the flatten design: resuming it with today's default would mix two
  # designs in one table.
  import dataclasses

  from benchmarks.accuracy import resume_from
  from benchmarks.task_runs import Settings, model_of
  from gslm_keras.models import ModelConfig, preset

  settings = Settings(preset="default", epochs=1, patience=1, batch_size=8,
                      learning_rate=1e-3, seeds=1, ablation_seeds=1, rc_tasks=(),
                      ablations=("both",), workers=0)
  now = {"suite": "tasks", "source": "x", "settings": dataclasses.asdict(settings),
         "model": model_of(settings).to_json(), "computed_features": ["gc_content"]}
  old = {key: value for key, value in now.items() if key != "model"}
  path = tmp_path / "old.json"
  path.write_text(json.dumps({**old, "tasks": {}, "date": "2026-11-25"}))
  assert preset("default") != ModelConfig()
  with pytest.raises(SystemExit, match="another model"):
    resume_from(str(path), now)
  flatten = dict(now, model=ModelConfig().to_json())
  assert resume_from(str(path), flatten)["tasks"] == {}
  # One made with --design trained that design, whatever the preset was then.
  designed = dataclasses.replace(settings, design="wide_maxavg_gelu")
  later = dict(now, settings=dataclasses.asdict(designed),
               model=model_of(designed).to_json())
  path.write_text(json.dumps({**{k: v for k, v in later.items() if k != "model"},
                              "tasks": {}, "date": "2026-12-05"}))
  assert resume_from(str(path), later)["tasks"] == {}
  # A model recorded before recalibrate_norms existed trained without it.
  plain = dataclasses.replace(settings, design="wide_maxavgpos_gelu_pdrop5")
  plain_now = dict(now, settings=dataclasses.asdict(plain), model=model_of(plain).to_json())
  recorded = {k: v for k, v in plain_now["model"].items() if k != "recalibrate_norms"}
  path.write_text(json.dumps({**plain_now, "model": recorded, "tasks": {},
                              "date": "2026-12-07"}))
  assert resume_from(str(path), plain_now)["tasks"] == {}
  recalibrated = dataclasses.replace(plain, recalibrate_norms=True)
  assert model_of(recalibrated).recalibrate_norms
  with pytest.raises(SystemExit, match="another"):
    resume_from(str(path), dict(now, settings=dataclasses.asdict(recalibrated),
                                model=model_of(recalibrated).to_json()))


def test_every_resumable_benchmark_refuses_results_of_another_model(tmp_path, monkeypatch):
  # The class of the fault above: label_efficiency (--resume and --reuse) and
  # aux_heads (--resume) mixed the flatten design's runs of 2026-11-29 into tables of
  # today's default, which has the same preset name.
  from benchmarks import aux_heads, label_efficiency
  from benchmarks.fusion import design
  from benchmarks.task_runs import (DEFAULT_CHANGED, FUSION_NORM_DEFAULT,
                                    RECALIBRATE_DEFAULT, recorded_model)
  from gslm_keras.models import ModelConfig, preset

  # Unrecorded files: the flatten design before the first change, the positions
  # design without batch norm before the second, the batch norm without
  # recalibration before the third, today's preset after.
  def as_json(config):
    return json.loads(json.dumps(config.to_json()))

  positions = design("wide_maxavgpos_gelu_pdrop5")
  unrecalibrated = preset("default").replace(recalibrate_norms=False)
  assert recorded_model({"date": "2026-11-29T09:41:09+00:00"}) == as_json(ModelConfig())
  assert recorded_model({"date": "2026-12-06T11:54:14+00:00"}) == as_json(positions)
  assert recorded_model({"date": "2026-12-07T08:00:00+00:00"}) == as_json(unrecalibrated)
  assert recorded_model({"date": "2026-12-08T00:00:00+00:00"}) == as_json(preset("default"))
  assert preset("default").recalibrate_norms
  assert "2026-12-05T00" < DEFAULT_CHANGED < "2026-12-06"
  assert "2026-12-07T04:45" < FUSION_NORM_DEFAULT < "2026-12-07T06"
  assert FUSION_NORM_DEFAULT < RECALIBRATE_DEFAULT < "2026-12-08"
  # The positions design is today's default without the batch norm and the
  # recalibration; a file whose settings asked --fusion_norm of it trained the
  # default of 2026-12-07 without recalibration.
  assert positions == unrecalibrated.replace(fusion_norm=False)
  assert recorded_model({"date": "2026-12-07T02:25:58+00:00", "settings": {
      "fusion_norm": True}}) == as_json(unrecalibrated)
  # What a suite records is what it trains: --fusion_norm and --recalibrate_norms
  # included.
  from benchmarks.task_runs import model_of
  assert model_of(dataclasses.replace(_label_settings(), design="wide_maxavgpos_gelu_pdrop5",
                                      fusion_norm=True)) == unrecalibrated
  assert model_of(dataclasses.replace(
      _label_settings(), design="wide_maxavgpos_gelu_pdrop5", fusion_norm=True,
      recalibrate_norms=True)) == preset("default")
  task = tmp_path / "data" / "t"
  task.mkdir(parents=True)
  for split in ("train", "dev", "test"):
    (task / f"{split}.csv").write_text("sequence,label\nACGT,1\n")
  settings = {"preset": "default", "epochs": 15, "patience": 4, "batch_size": 64,
              "learning_rate": 2e-3, "rc_tasks": []}
  old = tmp_path / "old.json"
  old.write_text(json.dumps({"date": "2026-11-29T09:41:09+00:00", "command": "c",
                             "settings": settings, "runs": [], "tasks": {}}))
  args = [f"--data_root={tmp_path / 'data'}", "--tasks=t", "--rc_tasks="]
  with pytest.raises(SystemExit, match=r"--resume: .*old.json was made with another "
                                       r"model .*pooling='flatten'"):
    label_efficiency.main([*args, f"--output={old}", "--resume"])
  with pytest.raises(SystemExit, match="--reuse=.*old.json: .* another model"):
    label_efficiency.main([*args, f"--output={tmp_path / 'new.json'}", f"--reuse={old}"])
  monkeypatch.setattr("sys.argv", ["aux_heads", f"--output={old}", "--resume"])
  with pytest.raises(SystemExit, match="another model"):
    aux_heads.main()
  # Today's model, recorded: resumed (here to an empty run list, no task trained).
  same = json.loads(old.read_text())
  same["model"] = preset("default").to_json()
  old.write_text(json.dumps(same))
  assert label_efficiency.reused_runs(str(old), _label_settings()) == {}


def _label_settings():
  from benchmarks.task_runs import Settings

  return Settings(preset="default", epochs=15, patience=4, batch_size=64,
                  learning_rate=2e-3, seeds=3, ablation_seeds=0, rc_tasks=(),
                  ablations=("both",), workers=0)


def test_the_species_benchmark_trains_its_source_model_again_for_another_design(
    tmp_path, monkeypatch):
  from benchmarks import species, task_runs

  monkeypatch.setattr(species, "WORK", str(tmp_path))
  trained = []

  def fake_train(data_dir, model_dir, *args):
    trained.append(model_dir)
    os.makedirs(os.path.join(model_dir, "metrics"), exist_ok=True)
    open(os.path.join(model_dir, "model.keras"), "w").close()
    with open(os.path.join(model_dir, "metrics", "test.json"), "w") as handle:
      json.dump({"mcc": 0.5}, handle)

  monkeypatch.setattr(task_runs, "train_one", fake_train)
  os.makedirs(tmp_path / "ecoli_data")
  (tmp_path / "ecoli_data" / "dataset_info.json").write_text("{}")
  settings = _label_settings()
  fake_train(None, str(tmp_path / "ecoli_model"))  # A model of a design not recorded.
  trained.clear()
  first = species.ecoli_model(settings)
  assert trained == [str(tmp_path / "ecoli_model")]
  (tmp_path / "ecoli_model.json").write_text(json.dumps(first))
  assert species.ecoli_model(settings)["test_mcc"] == 0.5
  assert len(trained) == 1  # Today's design, recorded: kept.
  (tmp_path / "ecoli_model.json").write_text(json.dumps(
      {**first, "model": {**first["model"], "pooling": "flatten"}}))
  species.ecoli_model(settings)
  assert len(trained) == 2


def test_the_report_says_the_head_it_trained():
  # A suite's report names every head option its model had, the default's batch
  # norm included (it said nothing of it when the default gained it).
  from benchmarks.accuracy_report import head_words
  from gslm_keras.models import preset

  words = head_words(json.loads(json.dumps(preset("default").to_json())))
  assert words == ("pooling maxavg_positions, positions' dropout 0.5, "
                   "batch-normalised gelu fusion, wide path, "
                   "batch-norm statistics recalibrated")
  other = preset("global").replace(fusion="gated", branch_norm=True, film=True,
                                   modality_dropout=0.3, recalibrate_norms=False).to_json()
  assert head_words(other) == ("pooling maxavg, gated fusion, each branch "
                               "layer-normalised, FiLM, wide path, modality dropout 0.3")
  # `global` has no batch norm in its fusion, but recalibrates its stem's (since
  # 2026-12-07); `--norecalibrate_norms` keeps the moving averages.
  words = head_words(preset("global").to_json())
  assert "batch-normalised" not in words
  assert words.endswith("wide path, batch-norm statistics recalibrated")
  moving = preset("global").replace(recalibrate_norms=False).to_json()
  assert head_words(moving).endswith("wide path")


def test_an_unknown_design_is_refused_in_one_line():
  from benchmarks.fusion import refuse_unknown_design

  refuse_unknown_design("")  # No design: the preset.
  refuse_unknown_design("wide_maxavgpos_gelu_pdrop5")
  with pytest.raises(SystemExit, match=r"^error: --design=nope: expected one of relu, "):
    refuse_unknown_design("nope")


def test_the_uci_folds_are_stratified_and_each_fold_is_its_test_split(tmp_path):
  from benchmarks.accuracy import uci_fold_dataset, uci_folds
  from gslm_keras.data.dataset_info import DatasetInfo

  rng = np.random.default_rng(0)
  path = tmp_path / "promoters.data"
  path.write_text("".join(
      f"{'+' if i < 20 else '-'}, s{i},\t{''.join(rng.choice(list('acgt'), 57))}\n"
      for i in range(60)))
  records, folds = uci_folds(str(path), 0)
  assert len(records) == 60 and records[0][2].isupper()
  for fold in range(10):  # 2 promoters and 4 others in every fold.
    members = [records[i][0] for i in np.flatnonzero(folds == fold)]
    assert members.count("+") == 2 and members.count("-") == 4
  assert (uci_folds(str(path), 0)[1] == folds).all()
  assert not (uci_folds(str(path), 1)[1] == folds).all()
  info = DatasetInfo.load(uci_fold_dataset(str(tmp_path / "f3"), records, folds, 3))
  assert info.num_records("test") == 6
  assert info.num_records("train") + info.num_records("dev") == 54
  assert abs(info.num_records("dev") - 0.15 * 54) <= 1  # 15% for dev.


def test_the_trunk_schedule_reaches_every_model_with_a_started_trunk(tmp_path, monkeypatch):
  # --freeze_trunk_steps / --trunk_learning_rate_multiplier tune fine-tuning: the pair
  # and the sequence branch started from --init_from get them; the scratch pair and
  # the features-only model (no trunk to start) train without them.
  import dataclasses

  from benchmarks import task_runs
  from gslm_keras.training import trainer

  class Stop(Exception):
    pass

  seen = {}

  def capture(config):
    seen[config.model.ablation, config.optim.init_from] = (
        config.optim.freeze_trunk_steps, config.optim.trunk_learning_rate_multiplier)
    raise Stop

  monkeypatch.setattr(trainer, "train", capture)
  settings = dataclasses.replace(
      task_runs.pair_recipe(init_from="gslm-lm-multispecies"), freeze_trunk_steps=200,
      trunk_learning_rate_multiplier=0.3)
  for ablation in ("both", "sequence", "features", "scratch"):
    with pytest.raises(Stop):
      task_runs.train_one(str(tmp_path / "data"), str(tmp_path / ablation), settings,
                          ablation, 0, False)
  assert seen == {("both", "gslm-lm-multispecies"): (200, 0.3),
                  ("sequence", "gslm-lm-multispecies"): (200, 0.3),
                  ("features", "gslm-lm-multispecies"): (0, 1.0),
                  ("both", None): (0, 1.0)}


def test_the_trunk_schedule_without_init_from_is_refused_before_any_work(tmp_path):
  from benchmarks import accuracy
  from gslm_keras.errors import ConfigError

  with pytest.raises(ConfigError, match="need init_from"):
    accuracy.main(["--suite=tasks", f"--data_root={tmp_path}", f"--output={tmp_path}/x",
                   "--trunk_learning_rate_multiplier=0.3"])
