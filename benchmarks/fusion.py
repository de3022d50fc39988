r"""Fusion designs side by side on dev: accuracy, dead units and collapse, same runs.

  python -m benchmarks.fusion --data_root=../shared/data/gue --tasks=mouse/0 \
      --variants=relu,branch_norm,gelu --seeds=3 --output=benchmarks/results/fusion.json

For every task, variant, ablation and seed: train with the accuracy suite's
recipe (the flatten design, changed by the variant; AdamW 2e-3 cosine, early
stopping on dev), score dev and test MCC at the dev-chosen threshold, and count
the dead fusion units on the dev split as the collapse guard does
(`gslm_keras.training.collapse.diagnose`). A run counts as collapsed when its dev
AUROC is at chance (< 0.55) or every fusion unit is dead. Results are written
after every run; `--resume` keeps them. `--baselines` adds the feature and k-mer
regressions of each task; with `--resume --refit_regressions` the regressions of
the named tasks are fitted again and every run is kept.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time

import numpy as np

from benchmarks import common
from benchmarks.task_runs import build_task, fusion_health, score_run

# Each design is a change of the flatten design (ModelConfig's field defaults: a
# flatten head, a ReLU Dense fusion layer); "wide_maxavg_gelu" is the preset "global".
VARIANTS = {
    "relu": {},  # The flatten design itself, the default until 2026-12-05.
    # The same with the collapse guard of gslm_keras.training.collapse: a collapse
    # after epoch 1 restarts from a new seed with branch_norm.
    "relu_guarded": {},
    "branch_norm": {"branch_norm": True},
    "gelu": {"fusion_activation": "gelu"},
    "fusion_norm": {"fusion_norm": True},
    "project8": {"flatten_channels": 8},
    "branch_norm16": {"branch_norm": True, "fusion_units": 16},
    # Issue 22's sweep: a wide path (the feature regression inside the model) and
    # global pooling instead of the flatten head.
    "wide": {"wide": True},
    "maxavg": {"pooling": "maxavg"},
    "wide_maxavg": {"wide": True, "pooling": "maxavg"},
    "wide_branch_norm": {"wide": True, "branch_norm": True},
    "wide_project8": {"wide": True, "flatten_channels": 8},
    "wide_maxavg_fusion_norm": {"wide": True, "pooling": "maxavg", "fusion_norm": True},
    "wide_maxavg_branch_norm": {"wide": True, "pooling": "maxavg", "branch_norm": True},
    # GELU has no dead zone; modality dropout makes the fusion learn from each
    # branch alone too.
    "wide_maxavg_gelu": {"wide": True, "pooling": "maxavg", "fusion_activation": "gelu"},
    "wide_maxavg_moddrop": {"wide": True, "pooling": "maxavg", "modality_dropout": 0.3},
    "wide_maxavg_gelu_moddrop": {"wide": True, "pooling": "maxavg",
                                 "fusion_activation": "gelu", "modality_dropout": 0.3},
    "wide_maxavg_gelu_moddrop5": {"wide": True, "pooling": "maxavg",
                                  "fusion_activation": "gelu", "modality_dropout": 0.5},
    # A gated multimodal unit instead of the Dense fusion; FiLM conditioning.
    "wide_maxavg_gated": {"wide": True, "pooling": "maxavg", "fusion": "gated"},
    "wide_maxavg_film": {"wide": True, "pooling": "maxavg", "film": True},
    "wide_maxavg_gelu_film": {"wide": True, "pooling": "maxavg",
                              "fusion_activation": "gelu", "film": True},
    # Where a motif sits as well as what it is: the positions projected to 8
    # channels and flattened beside the global max and average.
    "wide_maxavgpos": {"wide": True, "pooling": "maxavg_positions"},
    "wide_maxavgpos_gelu": {"wide": True, "pooling": "maxavg_positions",
                            "fusion_activation": "gelu"},
    # The positions with a dropout of their own (0.5), so that on small data
    # where a motif sits does not crowd out what it is. The default from 2026-12-05
    # to 2026-12-07 (today's default is it with fusion_norm).
    "wide_maxavgpos_gelu_pdrop5": {"wide": True, "pooling": "maxavg_positions",
                                   "fusion_activation": "gelu", "position_dropout": 0.5},
    # The default of 2026-12-05 without its wide path, and with modality dropout:
    # where weak features pull the pair below its sequence branch (prom_300_tata),
    # is it the linear path over them or the fusion layer's use of them?
    "maxavgpos_gelu_pdrop5": {"pooling": "maxavg_positions", "fusion_activation": "gelu",
                              "position_dropout": 0.5},
    "wide_maxavgpos_gelu_pdrop5_moddrop5": {
        "wide": True, "pooling": "maxavg_positions", "fusion_activation": "gelu",
        "position_dropout": 0.5, "modality_dropout": 0.5},
    # Roughly where, with every channel: the maximum of each channel in 8
    # stretches of the window beside the global max and average.
    "wide_maxavgbins_gelu": {"wide": True, "pooling": "maxavg_bins",
                             "fusion_activation": "gelu"},
}


def refuse_unknown_design(name: str) -> None:
  """One `error:` line (and exit) for a --design that names no design here."""
  if name and name not in VARIANTS:
    sys.exit(f"error: --design={name}: expected one of {', '.join(VARIANTS)}")


def design(name: str):
  """The ModelConfig of a sweep design: its changes applied to the flatten design."""
  from gslm_keras.models import ModelConfig

  return ModelConfig().replace(**VARIANTS[name])


def baselines(folder: str, data_dir: str) -> dict:
  """The regressions the dual-input model must beat, on the same splits."""
  from benchmarks.task_runs import logistic_regression
  from benchmarks.baselines import kmer_regression

  features = logistic_regression(data_dir)
  kmers = kmer_regression(folder)
  return {"features_lr": {"dev_mcc": features["dev_mcc"], "test_mcc": features["mcc"],
                          "C": features["C"]},
          "kmer_lr": {"dev_mcc": kmers["dev_mcc"], "test_mcc": kmers["mcc"],
                      "C": kmers["C"]}}


def main():
  parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
  parser.add_argument("--data_root", default="../shared/data/gue")
  parser.add_argument("--tasks", default="mouse/0")
  parser.add_argument("--variants", default="relu,branch_norm,gelu")
  parser.add_argument("--ablations", default="both,sequence")
  parser.add_argument("--seeds", type=int, default=3)
  parser.add_argument("--epochs", type=int, default=15)
  parser.add_argument("--output", default="benchmarks/results/fusion.json")
  parser.add_argument("--resume", action="store_true")
  parser.add_argument("--baselines", action="store_true",
                      help="also fit the feature and k-mer (k <= 6) regressions per task")
  parser.add_argument("--report_only", action="store_true",
                      help="rewrite the markdown from the JSON, train nothing")
  parser.add_argument("--merge_from", default=None,
                      help="with --report_only: add the runs and regressions of this "
                           "other sweep's JSON (same recipe; a run already in --output "
                           "is kept) before writing")
  parser.add_argument("--refit_regressions", action="store_true",
                      help="with --resume and --baselines: fit the regressions of the "
                           "named tasks again, keeping every run")
  args = parser.parse_args()
  if args.merge_from and not args.report_only:
    sys.exit("error: --merge_from joins finished sweeps; give it with --report_only")
  if args.refit_regressions and not (args.resume and args.baselines):
    sys.exit("error: --refit_regressions fits the regressions of a sweep again: give "
             "it with --resume, --baselines and the sweep's --output")
  if args.report_only:
    with open(args.output) as handle:
      results = json.load(handle)
    if args.merge_from:
      merge(results, args.merge_from)
    common.write_results(args.output, results, markdown(results))
    print(markdown(results))
    return
  os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
  from gslm_keras.training.config import TrainConfig
  from gslm_keras.training.trainer import train

  results = common.header("benchmarks.fusion")
  results["runs"], results["baselines"] = [], {}
  if args.resume and os.path.exists(args.output):
    with open(args.output) as handle:
      resume(results, json.load(handle),
             refit=args.tasks.split(",") if args.refit_regressions else ())
  done = {(r["task"], r["variant"], r["ablation"], r["seed"]) for r in results["runs"]}
  with tempfile.TemporaryDirectory() as tmp:
    for task in args.tasks.split(","):
      folder, data_dir, info = build_task(args.data_root, task, tmp)
      if args.baselines and task not in results["baselines"]:
        results["baselines"][task] = baselines(folder, data_dir)
        common.write_results(args.output, results, markdown(results))
      for variant in args.variants.split(","):
        for ablation in args.ablations.split(","):
          for seed in range(args.seeds):
            if (task, variant, ablation, seed) in done:
              continue
            model_dir = os.path.join(tmp, "run")
            config = TrainConfig.create(
                data_dir=data_dir, model_dir=model_dir,
                model=design(variant).replace(ablation=ablation),
                epochs=args.epochs, batch_size=64, optimizer="adamw", learning_rate=2e-3,
                weight_decay=1e-4, lr_schedule="cosine", warmup_steps=50,
                early_stopping_patience=4, seed=seed, evaluate_splits=("dev", "test"),
                overwrite=True, verbose=0)
            start = time.time()
            result = train(config)
            scores = score_run(model_dir, info)
            health = fusion_health(model_dir, data_dir)
            dead, units = health["dead_fusion_units"], health["fusion_units"]
            run = {"task": task, "variant": variant, "ablation": ablation, "seed": seed,
                   "test_mcc": scores["mcc"], "test_auroc": scores["auroc"],
                   "dev_auroc": result.metrics["dev"].get("auroc"),
                   # The sweep's selection metric, as for the regressions.
                   "dev_mcc": scores["dev_mcc"],
                   "dead_fusion_units": dead, "fusion_units": units,
                   "dead_rule": health["dead_rule"], "steps": result.steps,
                   "seconds": time.time() - start,
                   "restarts": len(result.restarts)}
            run["collapsed"] = bool(run["dev_auroc"] < 0.55 or dead == units)
            results["runs"].append(run)
            print(json.dumps(run), flush=True)
            common.write_results(args.output, results, markdown(results))
  print(markdown(results))


def resume(results: dict, previous: dict, refit=()) -> None:
  """Carries the runs, regressions and provenance of an earlier sweep into
  `results`; the regressions of the tasks in `refit` are dropped, to be fitted
  again, and the refit is recorded."""
  results["runs"] = previous["runs"]
  common.keep_earlier(results, previous)
  results["baselines"] = {task: found for task, found in previous.get("baselines", {}).items()
                          if task not in refit}
  for key in ("merged", "regressions_refit"):  # Provenance that still holds.
    if key in previous:
      results[key] = previous[key]
  if refit:
    results.setdefault("regressions_refit", []).append(
        {"date": results["date"], "tasks": list(refit)})


def merge(results: dict, path: str) -> None:
  """Adds the runs and regressions of the sweep JSON at `path` to `results`."""
  with open(path) as handle:
    other = json.load(handle)
  key = lambda r: (r["task"], r["variant"], r["ablation"], r["seed"])  # noqa: E731
  have = {key(r) for r in results["runs"]}
  results["runs"] += [r for r in other["runs"] if key(r) not in have]
  for task, found in other.get("baselines", {}).items():
    results.setdefault("baselines", {}).setdefault(task, found)
  results.setdefault("merged", []).append(
      {"path": path, "date": other["date"], "command": other["command"]})


def _restarts(runs) -> str:
  count = sum(r.get("restarts", 0) for r in runs)
  return f" ({count} restarted)" if count else ""


def markdown(results: dict) -> str:
  """Dev scores only when the runs have them (the sweep chooses on dev; test scores
  stay in the JSON), else the earlier test-MCC table."""
  if results["runs"] and all("dev_mcc" in r for r in results["runs"]):
    return _dev_markdown(results)
  lines = ["# Dying fusion units: fusion layer variants", "", common.machine_lines(results),
           "Recipe of the accuracy suite (the flatten design, AdamW 2e-3, cosine, "
           "warm-up 50, "
           "early stopping 4). Test MCC x100 at the dev-chosen threshold; dead units = "
           "fusion units that never fire on the dev split.", "",
           "| task | variant | ablation | dev AUROC (mean) | test MCC x100 (per seed) | mean "
           "| dead units (per seed) | collapsed |", "|---|---|---|---:|---|---:|---|---:|"]
  for (task, variant, ablation), runs in _groups(results).items():
    mccs = [100 * r["test_mcc"] for r in runs]
    dev = np.mean([r["dev_auroc"] for r in runs])
    lines.append(
        f"| {task} | {variant} | {ablation} | {dev:.3f} | "
        f"{', '.join(f'{m:.1f}' for m in mccs)} | "
        f"{np.mean(mccs):.1f} | {', '.join(str(r['dead_fusion_units']) for r in runs)} "
        f"of {runs[0]['fusion_units']} | {sum(r['collapsed'] for r in runs)} of {len(runs)}"
        f"{_restarts(runs)} |")
  return "\n".join(lines) + "\n"


def _groups(results: dict) -> dict[tuple, list]:
  groups: dict[tuple, list] = {}
  for run in results["runs"]:
    groups.setdefault((run["task"], run["variant"], run["ablation"]), []).append(run)
  return groups


def _dev_markdown(results: dict) -> str:
  lines = ["# Fusion designs on dev (issue 22's sweep)", "", common.machine_lines(results),
           "Recipe of the accuracy suite (AdamW 2e-3, cosine, warm-up 50, early "
           "stopping 4), each design a change of the flatten design (`VARIANTS` in "
           "`benchmarks/fusion.py`: `relu` is it unchanged, a flatten head and a ReLU "
           "fusion layer, the default preset until 2026-12-05; "
           "`wide_maxavg_gelu` the preset `global`). MCC x100 on "
           "the **dev** split at the dev-chosen threshold, for the models and the "
           "regressions alike: the sweep chooses on dev; test scores are kept in the "
           "JSON and used for nothing here. Dead units: ReLU units that never fire on "
           "dev; gated units that never change; GELU units: on mouse, counted before "
           "the rule changed, units never positive, on tf/0 and prom_300_tata units "
           "that never change (the rule from 2026-12-05 to 2026-12-07, which "
           "undercounts: on tf/0 it found 10 of the default's 96 units dead where 79 "
           "were never positive), in runs with a `dead_rule` units never positive. "
           "The table "
           "grew over several invocations with `--resume`, each naming its tasks and "
           "variants; the command above is the last."]
  refitted = {task for refit in results.get("regressions_refit", []) for task in refit["tasks"]}
  if set(results.get("baselines", {})) - refitted:
    lines.append(
        "The k-mer regression's C grid grew with the sweep (down to 0.001 for mouse, "
        "tf/0 and prom_300_tata, 1e-5 for tf/1, 1e-7 after); `kmer_regression.md` fits "
        "every task down to 1e-7. Before 2026-12-06 the feature regression fitted raw, "
        "unstandardised features.")
  for refit in results.get("regressions_refit", []):
    lines.append(f"Regressions fitted again on {refit['date']}, every run kept: "
                 f"{', '.join(refit['tasks'])} (the feature regression on standardised "
                 "features, C from 0.01 to 10; the k-mer regression with C from 1e-7 "
                 "to 1, as in `kmer_regression.md`; C and threshold chosen on dev by "
                 "`benchmarks.baselines.logistic_on_dev`).")
  for merged in results.get("merged", []):
    lines.append(f"Runs merged from `{merged['path']}` ({merged['date']}; its last "
                 f"command: `{merged['command']}`).")
  lines += ["",
           "| task | design | ablation | dev MCC x100 (per seed) | mean ± sd | dev AUROC | "
           "dead units | collapsed |", "|---|---|---|---|---:|---:|---|---:|"]
  for task, found in results.get("baselines", {}).items():
    for name, label in (("features_lr", "logistic regression, the model's features"),
                        ("kmer_lr", "logistic regression, k-mers k <= 6")):
      lines.append(f"| {task} | {label} | - | {100 * found[name]['dev_mcc']:.1f} | "
                   f"{100 * found[name]['dev_mcc']:.1f} | - | - | - |")
  for (task, variant, ablation), runs in _groups(results).items():
    mccs = [100 * r["dev_mcc"] for r in runs]
    spread = f" ± {np.std(mccs, ddof=1):.1f}" if len(mccs) > 1 else ""
    lines.append(
        f"| {task} | {variant} | {ablation} | {', '.join(f'{m:.1f}' for m in mccs)} | "
        f"{np.mean(mccs):.1f}{spread} | {np.mean([r['dev_auroc'] for r in runs]):.3f} | "
        f"{', '.join(str(r['dead_fusion_units']) for r in runs)} of "
        f"{runs[0]['fusion_units']} | {sum(r['collapsed'] for r in runs)} of {len(runs)}"
        f"{_restarts(runs)} |")
  return "\n".join(lines) + "\n"


if __name__ == "__main__":
  common.run(main)
