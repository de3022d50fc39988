"""The markdown report of `benchmarks.accuracy`: per task, the dual-input model
beside its ablations, the regressions and the published results, and issue 22's
margins."""

from __future__ import annotations

import numpy as np

from benchmarks import common, transfer
from benchmarks.run_scores import on_both_strands
from benchmarks.task_runs import summarise


def _fmt(mean, sd=None, scale=100.0, digits=1):
  if mean is None:
    return "-"
  text = f"{mean * scale:.{digits}f}"
  return text + (f" ± {sd * scale:.{digits}f}" if sd else "")


def _ablation(summary: dict) -> str:
  """An ablation's mean MCC, with its sd when it ran more than one seed."""
  if summary.get("n_seeds", 0) > 1:
    return _fmt(summary.get("mcc_mean"), summary.get("mcc_sd"))
  return _fmt(summary.get("mcc_mean"))


def _paired(name: str, runs: list[dict]) -> str:
  """The dual-input run minus each ablation run of the same seed, over the seeds both
  ran, where there are at least two: on test (mean ± sd, wins) and on dev (mean);
  '' otherwise."""
  score = {(r["ablation"], r["seed"], key): r.get(key) for r in runs
           for key in ("mcc", "dev_mcc")}
  parts = []
  for ablation in ("sequence", "features"):
    gaps = {}
    for split, key in (("test", "mcc"), ("dev", "dev_mcc")):
      pairs = [(score.get(("both", seed, key)), score.get((ablation, seed, key)))
               for seed in sorted({r["seed"] for r in runs})]
      gaps[split] = 100 * np.array([a - b for a, b in pairs
                                    if a is not None and b is not None])
    test, dev = gaps["test"], gaps["dev"]
    if len(test) < 2:
      continue
    parts.append(f"{ablation} {test.mean():+.1f} ± {test.std(ddof=1):.1f} "
                 f"({int((test > 0).sum())} of {len(test)}"
                 + (f"; dev {dev.mean():+.1f}" if len(dev) else "") + ")")
  return f"{name}: {', '.join(parts)}" if parts else ""


def markdown(results: dict) -> str:
  settings = results["settings"]
  lines = [f"# Accuracy: suite `{results['suite']}`"
           + ("" if results.get("complete") else " (in progress: finished tasks only)"), "",
           common.machine_lines(results),
           f"Settings: preset `{settings['preset']}`, up to {settings['epochs']} epochs, "
           f"early stopping patience {settings['patience']}, batch {settings['batch_size']}, "
           f"{settings['seeds']} seed(s) for the dual-input model, "
           f"{settings['ablation_seeds']} for each ablation"
           + (", fusion layer batch-normalised (`--fusion_norm`)"
              if settings.get("fusion_norm") else "")
           + (f", design `{settings['design']}` of `benchmarks/fusion.py`"
              if settings.get("design") else "")
           + (f" (head: {head_words(results['model'])})" if results.get("model") else "")
           + (f", auxiliary heads on both branches, weight {settings['aux_weight']} "
              "(`--aux_weight`)" if settings.get("aux_weight") else "")
           + (", each branch trained by its own head only (`--isolate_branches`)"
              if settings.get("isolate_branches") else "")
           + (f", the trunk fixed for its first {settings['freeze_trunk_steps']} steps "
              "(`--freeze_trunk_steps`)" if settings.get("freeze_trunk_steps") else "")
           + (f", the trunk's learning rate times "
              f"{settings['trunk_learning_rate_multiplier']} "
              "(`--trunk_learning_rate_multiplier`)"
              if settings.get("trunk_learning_rate_multiplier", 1.0) != 1.0 else "")
           + ". Model selection and the decision threshold of binary tasks on dev only.",
           ""]
  seen = set()
  for earlier in results.get("resumed", []):
    # Each resume lists every task finished before it: name each task once, with
    # the run that finished it.
    new = [task for task in earlier["tasks"] if task not in seen]
    seen.update(new)
    if new:
      lines[-1:-1] = ["", f"Resumed (`--resume`): {', '.join(new)} come from "
                      f"the run of {earlier['date']}, with the same settings."]
  if results.get("regressions_refit"):
    lines[-1:-1] = ["", f"Regressions fitted again on {results['regressions_refit']} "
                    "(`--refit_regressions`: the feature regression on standardised "
                    "features, C and threshold by `baselines.logistic_on_dev`); every "
                    "trained model's scores are those of the runs named here."]
  if results.get("seeded_from"):
    seeded = results["seeded_from"]
    lines[-1:-1] = ["", f"Seeded from `{seeded['path']}` ({seeded['date']}): {seeded['note']}."]
  if results.get("published_refreshed"):
    lines[-1:-1] = ["", results["published_refreshed"]]
  tasks = results["tasks"]
  suite = results["suite"]
  if suite == "uci_promoters":
    entry = tasks["uci_promoters"]
    lines += [f"Protocol: {entry['protocol']}.", "",
              "| model | errors out of 106 |", "|---|---|"]
    for ablation, errors in entry["errors_out_of_106"].items():
      source = settings.get("init_from")
      name = ablation + (f" (trunk from `{source}`)" if source and ablation != "scratch"
                         else " (random init)" if ablation == "scratch" else "")
      lines.append(f"| gslm_keras {name} | {', '.join(map(str, errors))} |")
    lines.append(f"| logistic regression (computed features) | "
                 f"{entry['logistic_regression_errors']} |")
    for name, errors in entry["published_loo_errors"].items():
      lines.append(f"| {name} (published, leave-one-out) | {errors} |")
    best = min(min(e) for e in entry["errors_out_of_106"].values())
    lines += ["", f"Goal: fewer than 8 errors. Best here: {best} "
              f"({'met' if best < 8 else 'not met'})."]
    return "\n".join(lines) + "\n"
  if settings.get("compare_scratch"):
    lines += transfer.lines(results)
  header = ("| task | train / dev / test | both: MCC x100 (mean ± sd) | AUROC | "
            "seq only | features only | logistic reg. | k-mer reg. (k <= 6) | published | "
            "wall s/seed | goal |")
  lines += [header, "|" + "---|" * 11]
  for name, entry in tasks.items():
    s = entry["summary"]
    both = s.get("both", {})
    pub = entry.get("published") or {}
    data = entry["data"]
    sizes = " / ".join(str(data.get(k, "-")) for k in ("train", "dev", "test"))
    seq = s.get("sequence", {})
    feat = s.get("features", {})
    if suite == "tasks":
      reference = ", ".join(f"{k} {v}" for k, v in pub.items() if v is not None)
      goals = []
      ours = both.get("mcc_mean", 0) * 100
      if pub.get("nt") is not None:
        goals.append(f"NT {'met' if ours >= pub['nt'] else 'not met'}")
      if pub.get("dnabert2") is not None:
        goals.append(f"DNABERT-2 {'met' if ours >= pub['dnabert2'] else 'not met'}")
      goal = "; ".join(goals)
    elif suite == "cnnprom":
      reference = (f"Sn {pub['sensitivity']}, Sp {pub['specificity']}, CC {pub['cc']}"
                   if pub else "none")
      goal = ("-" if not pub else
              f"CC {'met' if both.get('mcc_mean', 0) >= pub['cc'] else 'not met'}")
    else:
      reference = "RBF network 95.9% accuracy"
      goal = f"{'met' if both.get('accuracy_mean', 0) * 100 > 95.9 else 'not met'}"
    if not both:  # Only single-branch ablations ran: no pair to hold to a goal.
      goal = "-"
    auroc = both.get("auroc_mean", both.get("auroc_macro_mean"))
    lines.append(
        f"| {name} | {sizes} | {_fmt(both.get('mcc_mean'), both.get('mcc_sd'))} | "
        f"{_fmt(auroc, scale=1, digits=3)} | {_ablation(seq)} | {_ablation(feat)} | "
        f"{_fmt(entry['logistic_regression'].get('mcc'))} | "
        f"{_fmt(entry.get('kmer_regression', {}).get('mcc'))} | {reference} | "
        f"{_fmt(entry['wall_seconds_both_per_seed'], scale=1, digits=0)} | {goal} |")
  if suite == "cnnprom":
    lines += ["", "| task | both: sensitivity | specificity | CC (= MCC) |", "|---|---|---|---|"]
    for name, entry in tasks.items():
      b = entry["summary"].get("both", {})
      lines.append(f"| {name} | {_fmt(b.get('sensitivity_mean'), scale=1, digits=3)} | "
                   f"{_fmt(b.get('specificity_mean'), scale=1, digits=3)} | "
                   f"{_fmt(b.get('mcc_mean'), b.get('mcc_sd'), scale=1, digits=3)} |")
  if suite == "statlog":
    b = tasks["statlog"]["summary"]["both"]
    lines += ["", f"StatLog test accuracy: {_fmt(b['accuracy_mean'], b.get('accuracy_sd'))}% "
              f"(published best 95.9%)."]
  lines += ["", "Data quirks (counted, nothing dropped):", ""]
  for name, entry in tasks.items():
    overlaps = entry["data"]["sequence_overlaps"]
    lines.append(f"- {name}: " + (", ".join(f"{k.replace('_', ' ')} {v}"
                                            for k, v in overlaps.items() if v) or "none"))
  compared = [e["summary"] for e in tasks.values()
              if {"both", "sequence", "features"} <= set(e["summary"])]
  ablation_wins = sum(1 for s in compared if s["both"]["mcc_mean"] > max(
      s["sequence"]["mcc_mean"], s["features"]["mcc_mean"]))
  with_features = [e for e in tasks.values() if "features" in e["summary"]]
  feature_beats_lr = sum(1 for e in with_features
                         if e["summary"]["features"]["mcc_mean"] >
                         e["logistic_regression"]["mcc"])
  if compared or with_features:  # Not for a run of the dual-input model alone.
    lines += ["", f"Dual-input beats both single branches on {ablation_wins} of "
              f"{len(compared)} task(s); the features-only branch beats the logistic "
              f"regression on {feature_beats_lr} of {len(with_features)}."]
  paired = [line for name, entry in tasks.items()
            for line in [_paired(name, entry["runs"])] if line]
  if paired:
    lines += ["", "The pair against each branch, paired by seed (test: mean ± sd of the "
              "differences in MCC x100, wins of the pair; dev: the mean difference): "
              + "; ".join(paired) + "."]
  margins = {name: margin(entry) for name, entry in tasks.items()}
  margins = {name: m for name, m in margins.items() if m is not None}
  if margins:
    ahead = [name for name, m in margins.items() if m >= 1.0]
    lines += ["", "Issue 22's bar (mean MCC at least 1 point above the best single "
              "branch, the feature regression and the k-mer regression): "
              f"{len(ahead)} of {len(margins)} task(s); margin over the strongest of "
              "them: " + ", ".join(f"{name} {m:+.1f}" for name, m in margins.items())
              + "."]
  lines += _both_strands_lines(tasks)
  return "\n".join(lines + [""])


def both_strands_entry(entry: dict) -> dict | None:
  """The task's entry read on both strands: each run that recorded `both_strands`
  scores (a run trained with reverse-complement augmentation, each prediction the
  mean of the window's and its reverse complement's, its threshold chosen on dev
  again) takes them, the others stay forward, and the summary is computed again
  from the runs; None when no run recorded them."""
  runs = [on_both_strands(run) for run in entry.get("runs", [])]
  if not any(run.get("strands") == "both" for run in runs):
    return None
  return {**entry, "runs": runs, "summary": summarise(runs)}


def _both_strands_lines(tasks: dict) -> list[str]:
  """The paragraph of the both-strands reading: per task the test MCC of the pair
  and of each branch, issue 22's margin and the pair against each branch paired by
  seed, every arm read on both strands where it recorded them."""
  names = {"both": "pair", "sequence": "sequence", "features": "features"}
  parts = []
  for name, entry in tasks.items():
    read = both_strands_entry(entry)
    if read is None:
      continue
    summary = read["summary"]
    text = f"- {name}: " + ", ".join(f"{names[arm]} {_ablation(summary[arm])}"
                                     for arm in names if arm in summary)
    bar = margin(read)
    text += "" if bar is None else f"; margin {bar:+.1f}"
    paired = _paired("the pair against", read["runs"])
    parts.append(text + (f"; {paired}" if paired else ""))
  if not parts:
    return []
  return ["", "Read on both strands (the runs trained with reverse-complement "
          "augmentation; each prediction the mean of the window's and its reverse "
          "complement's, the threshold chosen on dev again; the regressions read the "
          "forward strand), test MCC x100, mean ± sd, and the pair against each branch "
          "paired by seed as above:", ""] + parts


def margin(entry: dict) -> float | None:
  """Mean MCC x100 of the dual-input model minus the best of its single branches and
  the two regressions; None unless all five were measured."""
  s = entry["summary"]
  rivals = [s.get("sequence", {}).get("mcc_mean"), s.get("features", {}).get("mcc_mean"),
            entry["logistic_regression"].get("mcc"),
            entry.get("kmer_regression", {}).get("mcc")]
  if "both" not in s or any(r is None for r in rivals):
    return None
  return 100 * (s["both"]["mcc_mean"] - max(rivals))


def head_words(model: dict) -> str:
  """The head design of a ModelConfig's JSON in words, for a report."""
  pooling = model["pooling"] + (f", positions' dropout {model['position_dropout']}"
                                if model.get("position_dropout") else "")
  if model.get("fusion") == "gated":
    fusion = "gated fusion"
  else:
    fusion = (("batch-normalised " if model.get("fusion_norm") else "")
              + f"{model['fusion_activation']} fusion")
  extras = [words for key, words in (("branch_norm", "each branch layer-normalised"),
                                     ("film", "FiLM"), ("wide", "wide path"),
                                     ("recalibrate_norms",
                                      "batch-norm statistics recalibrated"))
            if model.get(key)]
  if model.get("modality_dropout"):
    extras.append(f"modality dropout {model['modality_dropout']}")
  return ", ".join([f"pooling {pooling}", fusion] + extras)
