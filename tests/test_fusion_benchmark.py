"""The fusion sweep's resume: runs, regressions and provenance carried over."""

from benchmarks import common, fusion


def _previous():
  return {"runs": [{"task": "mouse/3", "variant": "relu", "ablation": "both", "seed": 0}],
          "baselines": {"mouse/3": {"features_lr": {"dev_mcc": 0.5}},
                        "tf/0": {"features_lr": {"dev_mcc": 0.4}}},
          "merged": [{"path": "side.json", "date": "d", "command": "c"}],
          "date": "yesterday", "command": "python -m benchmarks.fusion --tasks=mouse/3",
          "earlier": [{"date": "before", "command": "python -m benchmarks.fusion"}]}


def test_resume_keeps_runs_regressions_and_provenance():
  results = {"date": "today"}
  fusion.resume(results, _previous())
  assert results["runs"] == _previous()["runs"]
  assert results["baselines"] == _previous()["baselines"]
  assert results["merged"] == _previous()["merged"]
  assert "regressions_refit" not in results
  # Every command whose runs are kept is named, the oldest first, in the report.
  assert results["earlier"] == [
      {"date": "before", "command": "python -m benchmarks.fusion"},
      {"date": "yesterday", "command": "python -m benchmarks.fusion --tasks=mouse/3"}]
  lines = common.machine_lines({
      **results, "command": "now", "machine": {k: "" for k in (
          "cpu", "cores", "memory_gib", "platform", "python")},
      "versions": {k: "" for k in ("gslm_keras", "tensorflow", "keras", "numpy")}})
  assert lines.index("`python -m benchmarks.fusion`") < lines.index("--tasks=mouse/3")


def test_refit_drops_the_named_tasks_regressions_and_records_it():
  results = {"date": "today", "command": "python -m benchmarks.fusion --refit_regressions"}
  fusion.resume(results, _previous(), refit=["tf/0"])
  assert set(results["baselines"]) == {"mouse/3"}
  assert results["runs"] == _previous()["runs"]
  assert results["regressions_refit"] == [{"date": "today", "tasks": ["tf/0"]}]
  # A second refit adds to the record, and the report names both.
  again = {"date": "later", "command": "python -m benchmarks.fusion --resume"}
  fusion.resume(again, {**results, "baselines": {}}, refit=["mouse/3"])
  assert [r["tasks"] for r in again["regressions_refit"]] == [["tf/0"], ["mouse/3"]]


def test_the_report_says_which_regressions_were_refitted():
  results = {"date": "today", "command": "c",
             "machine": dict.fromkeys(("cpu", "cores", "memory_gib", "platform",
                                       "python"), "?"),
             "versions": dict.fromkeys(("gslm_keras", "tensorflow", "keras", "numpy"), "?")}
  fusion.resume(results, _previous(), refit=["tf/0"])
  results["baselines"]["tf/0"] = {"features_lr": {"dev_mcc": 0.6},
                                  "kmer_lr": {"dev_mcc": 0.55}}
  results["baselines"]["mouse/3"]["kmer_lr"] = {"dev_mcc": 0.7}
  results["runs"][0].update(dev_mcc=0.8, dev_auroc=0.9, dead_fusion_units=0,
                            fusion_units=96, collapsed=False)
  text = fusion.markdown(results)
  assert "Regressions fitted again on today, every run kept: tf/0" in text
  assert "unstandardised" in text  # mouse/3's regressions are still the old ones.
  assert "| tf/0 | logistic regression, the model's features | - | 60.0 |" in text
  results["regressions_refit"][0]["tasks"].append("mouse/3")
  assert "unstandardised" not in fusion.markdown(results)
