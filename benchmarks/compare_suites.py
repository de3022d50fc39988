r"""A change of recipe against the suite it changes: paired by seed, task by task.

  python -m benchmarks.compare_suites \
      --candidate=benchmarks/results/gue_aux.json \
      --baseline=benchmarks/results/gue_positions_ablations.json \
      --output=benchmarks/results/gue_aux_vs_positions.json

Both files are `benchmarks.accuracy` results of the same tasks and seeds. The
candidate's dual-input runs (finished or partial tasks) are set against the
baseline's dual-input runs and its single-branch ablations, seed by seed: the
comparison issue 22 asks for (the pair at least 1 MCC point above its best branch
and both regressions on test, never below a branch on dev) and the published
results. A candidate run with only `--ablations=both` may take its branches from
the baseline when the change cannot touch a one-branch model (`--aux_weight`:
`aux_heads.training_model` returns such a model unchanged); the report says where
each column comes from. `--branches` names results files whose single-branch runs
stand in for the baseline's where it has none (a fine-tuned suite trained only the
pair: its sequence branch fine-tuned by `--ablations=sequence --init_from=...`, its
features branch from scratch, which `--init_from` cannot change).
`--strands=both` reads the candidate's runs, and every branch set against it, by
their scores on both strands averaged where the suite recorded them (the tasks it
trains with reverse-complement augmentation, `run_scores.both_strands`), the
baseline's pair by `--baseline_strands`: the same file as both, one read each way,
gives what averaging the strands adds, seed by seed.
"""

from __future__ import annotations

import argparse
import copy
import json
import zlib

import numpy as np

from benchmarks import bootstrap, common
from benchmarks.run_scores import on_both_strands

ARMS = ("both", "sequence", "features")
# The regressions of a task entry: (name in the report, key in the entry).
REGRESSIONS = (("feature regression", "logistic_regression"),
               ("k-mer regression", "kmer_regression"))


def _runs(results: dict, task: str, ablation: str) -> dict[int, dict]:
  entry = results["tasks"].get(task) or {}
  runs = entry.get("runs") or results.get("partial", {}).get(task) or []
  return {r["seed"]: r for r in runs if r["ablation"] == ablation}


def read_strands(results: dict, strands: str, arms=ARMS) -> dict:
  """`results` with each run of `arms` scored as `strands` says: "forward" as
  trained and scored, "both" by its `both_strands` scores where it has them (every
  score and its test decisions; a run without them stays as it is)."""
  if strands == "forward":
    return results
  out = copy.deepcopy(results)
  groups = [entry.get("runs") or [] for entry in out.get("tasks", {}).values()]
  groups += list(out.get("partial", {}).values())
  for runs in groups:
    for i, run in enumerate(runs):
      if run["ablation"] in arms:
        runs[i] = on_both_strands(run)
  return out


def _stat(runs: dict[int, dict], key: str = "mcc") -> tuple[float, float]:
  values = [100 * r[key] for r in runs.values() if r.get(key) is not None]
  if not values:
    return float("nan"), float("nan")
  return float(np.mean(values)), float(np.std(values, ddof=1)) if len(values) > 1 else 0.0


def _paired(new: dict[int, dict], old: dict[int, dict], key: str = "mcc") -> dict:
  seeds = sorted(set(new) & set(old))
  gaps = [100 * (new[s][key] - old[s][key]) for s in seeds]
  return {"mean": float(np.mean(gaps)) if gaps else None,
          "sd": float(np.std(gaps, ddof=1)) if len(gaps) > 1 else None,
          "wins": sum(g > 0 for g in gaps), "n": len(gaps)}


def _arm(baseline: dict, branches, task: str, arm: str) -> dict[int, dict]:
  """The baseline's runs of an arm, or for a branch it lacks, the first `--branches`
  file's that has them."""
  for source in [baseline] + (list(branches) if arm != "both" else []):
    runs = _runs(source, task, arm)
    if runs:
      return runs
  return {}


def compare_task(candidate: dict, baseline: dict, task: str,
                 branches: list[dict] = (), resamples: int = 0,
                 draws: dict | None = None, resample_seeds: bool = False) -> dict:
  """The numbers of one task (MCC x100); with `resamples`, the bar margin's bootstrap
  over the test sequences (None where a run kept no decisions), its arrays put in
  `draws[task]` for the pooled interval; with `resample_seeds`, each model's runs
  drawn again on each resample too (`bootstrap.resampled_margins`). Each task's
  resamples are seeded by its name: the same on every comparison, and not the
  same as another task's of the same size."""
  new = _runs(candidate, task, "both")
  arms = {arm: _arm(baseline, branches, task, arm) for arm in ARMS}
  entry = candidate["tasks"].get(task) or baseline["tasks"].get(task) or {}
  regressions = {name: (entry.get(key) or {}).get("mcc") for name, key in REGRESSIONS}
  out = {"seeds": len(new), "candidate": _stat(new),
         "candidate_dev": _stat(new, "dev_mcc")[0],
         "regressions": {k: None if v is None else 100 * v for k, v in regressions.items()},
         "published": entry.get("published") or {},
         "dead_fusion_units_max": max((r.get("dead_fusion_units") or 0
                                       for r in new.values()), default=None),
         "dead_rules": sorted({r.get("dead_rule", "") for r in new.values()}),
         "restarts": sum(r.get("restarts", 0) for r in new.values())}
  for arm, runs in arms.items():
    out[arm] = {"test": _stat(runs), "dev": _stat(runs, "dev_mcc")[0],
                "gap": _paired(new, runs), "dev_gap": _paired(new, runs, "dev_mcc")}
  rivals = [out["sequence"]["test"][0], out["features"]["test"][0],
            *[v for v in out["regressions"].values() if v is not None]]
  branches_dev = [out["sequence"]["dev"], out["features"]["dev"]]
  # Not measured (nan) where the baseline lacks a branch: no bar without every rival.
  out["bar_margin"] = (float("nan") if np.isnan(rivals).any()
                       else out["candidate"][0] - max(rivals))
  out["dev_margin"] = (float("nan") if np.isnan(branches_dev).any()
                       else out["candidate_dev"] - max(branches_dev))
  if resamples and not np.isnan(out["bar_margin"]):
    rivals = {arm: list(arms[arm].values()) for arm in ("sequence", "features")}
    rivals.update({name: [entry[key]] for name, key in REGRESSIONS if entry.get(key)})
    try:
      margins = bootstrap.resampled_margins(list(new.values()), rivals, resamples,
                                            seed=zlib.crc32(task.encode()),
                                            resample_seeds=resample_seeds)
    except bootstrap.MissingPredictions:
      out["bootstrap"] = None
    else:
      out["bootstrap"] = {**bootstrap.summarise(margins), "n": margins["n"],
                          "seeds_resampled": resample_seeds}
      if draws is not None:
        draws[task] = margins
  return out


def _gap(gap: dict) -> str:
  if gap["mean"] is None:
    return "-"
  return (f"{gap['mean']:+.1f}" + (f" ± {gap['sd']:.1f}" if gap["sd"] is not None else "")
          + f" ({gap['wins']}/{gap['n']})")


def _num(value: float, signed: bool = False) -> str:
  """A number of the table; "-" where it was not measured (a baseline without that
  branch)."""
  if value is None or np.isnan(value):
    return "-"
  return f"{value:+.1f}" if signed else f"{value:.1f}"


def markdown(results: dict) -> str:
  rows = results["comparison"]
  lines = ["# A recipe against the suite it changes, paired by seed", "",
           common.machine_lines(results),
           f"Candidate: `{results['candidate']}` ({results['candidate_settings']}). "
           f"Baseline: `{results['baseline']}` (its dual-input runs and single-branch "
           f"ablations{_branches_said(results)}). Test MCC x100, mean ± sd over seeds; "
           "the gaps are the candidate's run minus the baseline's run of the same seed (mean ± sd, "
           "wins of the candidate); dev: the mean on dev. The bar: the candidate at "
           "least 1 point above the best branch and both regressions on test; dev "
           "margin: the candidate's dev minus its best branch's. Dead units: the "
           f"candidate's fusion units dead on dev in its worst run, {_dead_rules(results)}."
           + _strands_said(results),
           "",
           "| task | seeds | candidate | baseline pair | sequence | features | "
           "− pair | − sequence | − features | feature reg. | k-mer reg. | bar margin | "
           "dev: candidate | pair | sequence | features | dev margin | DNABERT-2 | "
           "best published | dead units (max) | restarts |",
           "|---|---:|" + "---:|" * 19]
  for task, row in rows.items():
    regs = row["regressions"]
    pub = row["published"]
    cells = [str(row["seeds"]), f"{row['candidate'][0]:.1f} ± {row['candidate'][1]:.1f}"]
    cells += [_num(row[arm]["test"][0]) for arm in ARMS]
    cells += [_gap(row[arm]["gap"]) for arm in ARMS]
    cells += [_num(regs[k]) for k in ("feature regression", "k-mer regression")]
    cells += [_num(row["bar_margin"], True), _num(row["candidate_dev"])]
    cells += [_num(row[arm]["dev"]) for arm in ARMS]
    cells += [_num(row["dev_margin"], True), str(pub.get("dnabert2", "-")),
              str(pub.get("best", "-")), str(row["dead_fusion_units_max"]),
              str(row["restarts"])]
    lines.append(f"| {task} | " + " | ".join(cells) + " |")
  return "\n".join(lines + ["", _summary(list(rows.values()))] + _noise(rows)
                   + _pooled(results.get("pooled"))) + "\n"


def _dead_rules(results: dict) -> str:
  """How the candidate's runs counted their dead units."""
  rules = {rule for row in results["comparison"].values()
           for rule in row.get("dead_rules", ())}
  old = ("a GELU unit dead only when its output never changed (the rule until "
         "2026-12-07, which undercounts: on GUE tf/0 it found 10 of the default's 96 "
         "units dead where 79 were never positive)")
  said = [rule for rule in sorted(rules) if rule] + ([old] if "" in rules else [])
  return "; ".join(said) if said else "none counted"


def _interval(entry: dict, key: str) -> str:
  return f"{entry[key]:+.1f} [{entry['low']:+.1f}, {entry['high']:+.1f}]"


def _noise(rows: dict) -> list[str]:
  """The bootstrap's section, where a task has one (`--bootstrap`)."""
  found = {task: row["bootstrap"] for task, row in rows.items() if row.get("bootstrap")}
  if not found:
    return []
  first = next(iter(found.values()))
  noise = ("the test set's and the seeds' noise" if first.get("seeds_resampled")
           else "the test set's noise")
  lines = ["", f"## {noise.capitalize()}", "",
           f"A paired bootstrap over the test sequences ({first['resamples']} resamples, "
           f"`benchmarks.bootstrap`): each model's MCC x100 at its dev threshold on each "
           f"resample, the same resample for all; the candidate's mean over its seeds "
           f"minus each rival's, with its {bootstrap.LEVEL}% interval, and the share of "
           f"resamples where the bar (+{bootstrap.BAR:.0f} over the best rival) is met or "
           "the candidate is behind. " + (
               "Each model's runs are drawn again with replacement on each resample "
               "too: the interval holds another set of training seeds as well as "
               "another test set." if first.get("seeds_resampled") else
               "The models are held fixed: the spread over seeds is the table's above."),
           "",
           "| task | test sequences | bar margin | met | behind | − sequence | − features | "
           "− feature reg. | − k-mer reg. |", "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
  for task, entry in found.items():
    gaps = [_interval(entry["gaps"][name], "gap") if name in entry["gaps"] else "-"
            for name in ("sequence", "features", "feature regression", "k-mer regression")]
    lines.append(f"| {task} | {entry['n']} | {_interval(entry, 'margin')} | "
                 f"{entry['met']:.0%} | {entry['behind']:.0%} | " + " | ".join(gaps) + " |")
  above = sum(e["low"] >= bootstrap.BAR for e in found.values())
  below = sum(e["high"] < 0 for e in found.values())
  lines += ["", f"The bar margin's interval lies wholly at or above +{bootstrap.BAR:.0f} on "
            f"{above} of {len(found)} tasks, wholly below 0 (the candidate behind a rival "
            f"beyond {noise}) on {below}, and across on {len(found) - above - below}."]
  return lines


def _pooled(entry: dict | None) -> list[str]:
  """The pooled interval's paragraph, where more than one task has a bootstrap."""
  if not entry:
    return []
  gaps = "; ".join(f"{name} {_interval(gap, 'gap')}" for name, gap in entry["gaps"].items())
  verdict = ("at or above the bar" if entry["low"] >= bootstrap.BAR
             else "above 0, short of showing the bar" if entry["low"] > 0
             else "below 0" if entry["high"] < 0 else "across 0")
  return ["", f"Pooled over the {entry['tasks']} tasks ({', '.join(entry['pooled_tasks'])}; "
          "each task's test set resampled on its own"
          + (", each model's seeds too" if entry.get("seeds_resampled") else "")
          + ", the margins averaged over the tasks on each resample): the mean bar margin "
          f"{_interval(entry, 'margin')}, its interval {verdict}; the bar met on "
          f"{entry['met']:.0%} of the resamples, the candidate behind on "
          f"{entry['behind']:.0%}. The mean gap to each rival every task has: {gaps}. "
          "A mean over tasks above the bar does not show it on each task: it says how "
          "far ahead the candidate is on an average task, with the noise of all the "
          "tasks' test sets together."]


def _strands_said(results: dict) -> str:
  strands = results.get("strands", {})
  if strands.get("candidate", "forward") == strands.get("baseline", "forward") == "forward":
    return ""
  said = {"both": "both strands averaged (where recorded: the runs trained with "
                  "reverse-complement augmentation; the others forward)",
          "forward": "the forward strand"}
  return (f" Strands: the candidate and every branch by {said[strands['candidate']]}; "
          f"the baseline pair by {said[strands['baseline']]}. The regressions read "
          "the forward strand.")


def _branches_said(results: dict) -> str:
  files = results.get("branches") or []
  return ("; the branches it lacks from " + ", ".join(f"`{f}`" for f in files)
          if files else "")


def _summary(rows: list[dict]) -> str:
  """The closing line: the bar, dev, the gain over the baseline pair, the field."""
  def count(test) -> int:
    return sum(1 for row in rows if test(row))

  parts = []
  barred = count(lambda r: not np.isnan(r["bar_margin"]))
  parts.append(f"Bar met on {count(lambda r: r['bar_margin'] >= bootstrap.BAR)} of {barred}"
               if barred else "Bar not measured (the baseline has no branches)")
  with_dev = count(lambda r: not np.isnan(r["dev_margin"]))
  if with_dev:
    parts.append(f"on dev never below a branch on {count(lambda r: r['dev_margin'] >= 0)} "
                 f"of {with_dev}")
  if any(r["both"]["gap"]["mean"] is not None for r in rows):  # A baseline with a pair.
    parts.append("above the baseline pair on test on "
                 f"{count(lambda r: (r['both']['gap']['mean'] or 0) > 0)} of {len(rows)}")
  for name, key in (("DNABERT-2", "dnabert2"), ("the best published", "best")):
    known = [r for r in rows if key in r["published"]]
    if known:
      met = sum(r["candidate"][0] >= r["published"][key] for r in known)
      parts.append(f"{name} met on {met} of {len(known)}")
  gains = []
  for split, gap in (("test", "gap"), ("dev", "dev_gap")):
    values = [r["both"][gap]["mean"] for r in rows if r["both"][gap]["mean"] is not None]
    if values:
      gains.append(f"{split} {np.mean(values):+.1f}")
  said = ("; ".join(parts) + ". Mean over the tasks of the candidate's paired gain over "
          "the baseline pair: " + ", ".join(gains)) if gains else "; ".join(parts)
  return said + "."


def main():
  parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
  parser.add_argument("--candidate", required=True)
  parser.add_argument("--baseline", required=True)
  parser.add_argument("--branches", default="",
                      help="comma-separated results files whose sequence / features runs "
                           "stand in where the baseline has none")
  parser.add_argument("--tasks", default="",
                      help="comma-separated tasks to compare (default: every task both "
                           "files hold)")
  parser.add_argument("--bootstrap", type=int, default=0, metavar="N",
                      help="resample the test sequences N times (benchmarks.bootstrap) "
                           "where every run kept its decisions (--keep_predictions)")
  parser.add_argument("--resample_seeds", action="store_true",
                      help="with --bootstrap: draw each model's runs (its seeds) again "
                           "with replacement on each resample too")
  parser.add_argument("--strands", choices=("forward", "both"), default="forward",
                      help="both: the candidate's runs and every branch scored on both "
                           "strands averaged, where recorded")
  parser.add_argument("--baseline_strands", choices=("forward", "both"), default="forward",
                      help="the same for the baseline's pair")
  parser.add_argument("--output", required=True, help="JSON path; .md written beside it")
  args = parser.parse_args()
  if args.bootstrap < 0:
    raise SystemExit(f"error: --bootstrap={args.bootstrap}: give a number of resamples, "
                     "0 for none")
  if args.resample_seeds and not args.bootstrap:
    raise SystemExit("error: --resample_seeds draws the seeds again on each resample of "
                     "--bootstrap: give --bootstrap=N too (e.g. 2000)")
  with open(args.candidate) as handle:
    candidate = json.load(handle)
  with open(args.baseline) as handle:
    baseline = json.load(handle)
  branch_files = [p for p in args.branches.split(",") if p]
  branches = []
  for path in branch_files:
    with open(path) as handle:
      branches.append(read_strands(json.load(handle), args.strands))
  # The bar's rivals are read as the candidate is; the baseline's pair its own way.
  candidate = read_strands(candidate, args.strands)
  baseline = read_strands(read_strands(baseline, args.baseline_strands, ("both",)),
                          args.strands, ("sequence", "features"))
  chosen = [t for t in args.tasks.split(",") if t]
  tasks = [t for t in list(candidate["tasks"]) + list(candidate.get("partial", {}))
           if _runs(candidate, t, "both") and t in baseline["tasks"]
           and (not chosen or t in chosen)]
  if not tasks:
    among = f" among --tasks={args.tasks}" if chosen else ""
    raise SystemExit(f"error: no task of {args.candidate}{among} has dual-input runs and "
                     f"is in {args.baseline}; compare two results of benchmarks.accuracy")
  results = common.header("benchmarks.compare_suites")
  draws = {}  # Task: its bootstrap's arrays, pooled below.
  settings = candidate.get("settings", {})
  results.update(
      candidate=args.candidate, baseline=args.baseline, branches=branch_files,
      strands={"candidate": args.strands, "baseline": args.baseline_strands},
      candidate_settings=", ".join(f"{k} {settings[k]}" for k in (
          "preset", "fusion_norm", "recalibrate_norms", "aux_weight", "isolate_branches",
          "init_from", "freeze_trunk_steps", "design")
          if settings.get(k))
      + ("" if settings.get("trunk_learning_rate_multiplier", 1.0) == 1.0 else
         f", trunk_learning_rate_multiplier {settings['trunk_learning_rate_multiplier']}"),
      comparison={task: compare_task(candidate, baseline, task, branches, args.bootstrap,
                                     draws, args.resample_seeds) for task in tasks})
  if len(draws) > 1:
    results["pooled"] = {**bootstrap.pooled_interval(list(draws.values())),
                         "pooled_tasks": list(draws), "seeds_resampled": args.resample_seeds}
  common.write_results(args.output, results, markdown(results))
  print(markdown(results))


if __name__ == "__main__":
  common.run(main)
