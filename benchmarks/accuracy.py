r"""Accuracy of gslm_keras on real labelled data, next to published results.

One command per suite; each writes a JSON file and a markdown table beside it:

  python -m benchmarks.accuracy --suite=tasks --data_root=../shared/data/gue \
      --tasks=all --output=benchmarks/results/gue.json
  python -m benchmarks.accuracy --suite=statlog \
      --data=../shared/data/uci/splice_statlog_dna.csv --output=benchmarks/results/statlog.json
  python -m benchmarks.accuracy --suite=cnnprom --data_root=../shared/data/cnnprom \
      --output=benchmarks/results/cnnprom.json
  python -m benchmarks.accuracy --suite=uci_promoters \
      --data=../shared/data/uci/promoters.data --output=benchmarks/results/uci_promoters.json

`tasks` takes any directory whose task folders hold train.csv, dev.csv and test.csv
(sequence,label); `--tasks` is `all` or a comma-separated list of task folders
relative to --data_root. For every task: build the dataset, train the dual-input
model (model selection and the decision threshold on dev only), evaluate on test;
repeat for --seeds seeds; train the sequence-only and features-only ablations; fit a
logistic regression on the same computed features; count duplicates and train/test
overlaps (no test row is dropped). Training wall time and the machine are recorded.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import tempfile
import time

import numpy as np

from benchmarks import common, published
from benchmarks.accuracy_report import markdown
from benchmarks.task_runs import (COMPUTED, RC_TASKS, Settings, build, find_tasks, model_of,
                                  recorded_model, run_task)
from gslm_keras.training.config import OptimConfig


def suite_tasks(args, settings, tmp, report) -> None:
  from benchmarks.baselines import kmer_regression

  for name in find_tasks(args.data_root, args.tasks):
    if name in args.done:
      continue
    print(f"task {name}", flush=True)
    folder = os.path.join(args.data_root, name)
    data_dir = os.path.join(tmp, name, "data")
    build(data_dir, settings.workers, train=[os.path.join(folder, "train.csv")],
          dev=[os.path.join(folder, "dev.csv")], test=[os.path.join(folder, "test.csv")])
    entry = run_task(name, data_dir, os.path.join(tmp, name), settings,
                     done=args.partial.get(name, []),
                     progress=lambda runs, name=name: report(name, runs, partial=True))
    entry["published"] = dict(zip(("dnabert2", "nt", "cnn_floor", "best"),
                                  published.GUE.get(name, (None,) * 4)))
    entry["kmer_regression"] = kmer_regression(folder,
                                               keep_predictions=settings.keep_predictions)
    report(name, entry)


def suite_statlog(args, settings, tmp, report) -> None:
  data_dir = os.path.join(tmp, "statlog", "data")
  build(data_dir, settings.workers, input=[args.data], split_column="statlog_split",
        dev_fraction=0.1, seed=0)
  result = run_task("statlog", data_dir, os.path.join(tmp, "statlog"), settings,
                    done=args.partial.get("statlog", []))
  result["published"] = published.STATLOG
  report("statlog", result)


CNNPROM_SETS = {
    "ecoli": ("Ecoli_prom.fa", "Ecoli_non_prom.fa"),
    "bsubtilis": ("Bacillus_prom.fa", "Bacillus_non_prom.fa"),
    "arabidopsis_tata": ("Arabidopsis_tata.fa", "Arabidopsis_non_prom.fa"),
    "arabidopsis_non_tata": ("Arabidopsis_non_tata.fa", "Arabidopsis_non_prom_big.fa"),
    "mouse_tata": ("Mouse_tata.fa", "Mouse_nonprom.fa"),
}


def suite_cnnprom(args, settings, tmp, report) -> None:
  names = list(CNNPROM_SETS) if args.tasks == "all" else args.tasks.split(",")
  for name in names:
    if name in args.done:
      continue
    positive, negative = CNNPROM_SETS[name]
    print(f"task {name}", flush=True)
    data_dir = os.path.join(tmp, name, "data")
    # The paper gives no split: a seeded 80/10/10 split, stratified by class.
    build(data_dir, settings.workers,
          input=[f"{os.path.join(args.data_root, positive)}:label=promoter",
                 f"{os.path.join(args.data_root, negative)}:label=non_promoter"],
          split_fractions=(0.8, 0.1, 0.1), seed=args.split_seed,
          classes=("non_promoter", "promoter"), fasta_ids="position")
    entry = run_task(name, data_dir, os.path.join(tmp, name), settings,
                     done=args.partial.get(name, []))
    reference = published.CNNPROM.get(name)
    entry["published"] = (dict(zip(("sensitivity", "specificity", "cc"), reference))
                          if reference else None)
    report(name, entry)


def uci_folds(path: str, split_seed: int) -> tuple[list, np.ndarray]:
  """(records (class, name, sequence), each record's fold of 10, stratified)."""
  with open(path) as handle:
    rows = [line.strip().split(",") for line in handle if line.strip()]
  records = [(cls.strip(), name.strip(), seq.strip().upper()) for cls, name, seq in rows]
  rng = np.random.default_rng(split_seed)
  folds = np.zeros(len(records), int)
  for cls in ("+", "-"):
    members = [i for i, r in enumerate(records) if r[0] == cls]
    for rank, i in enumerate(rng.permutation(members)):
      folds[i] = rank % 10
  return records, folds


def uci_fold_dataset(folder: str, records: list, folds: np.ndarray, fold: int) -> str:
  """The dataset of one fold under `folder`: the fold is its test split, 15% of the
  others its dev split."""
  os.makedirs(folder)
  for split, keep in (("train", folds != fold), ("test", folds == fold)):
    with open(os.path.join(folder, f"{split}.csv"), "w") as handle:
      handle.write("id,sequence,label\n")
      for i in np.flatnonzero(keep):
        cls, name, seq = records[i]
        handle.write(f"{name},{seq},{'promoter' if cls == '+' else 'other'}\n")
  data_dir = os.path.join(folder, "data")
  build(data_dir, 1, train=[os.path.join(folder, "train.csv")],
        test=[os.path.join(folder, "test.csv")], id_column="id", dev_fraction=0.15,
        seed=fold, classes=("other", "promoter"))
  return data_dir


def suite_uci_promoters(args, settings, tmp, report) -> None:
  """Stratified 10-fold cross-validation; errors counted over all 106 rows."""
  records, folds = uci_folds(args.data, args.split_seed)
  errors = {a: [0] * settings.seeds for a in settings.ablations
            + (("scratch",) if settings.compare_scratch else ())}
  lr_errors = 0
  per_fold = []
  for fold in range(10):
    print(f"fold {fold}", flush=True)
    folder = os.path.join(tmp, f"fold{fold}")
    data_dir = uci_fold_dataset(folder, records, folds, fold)
    earlier = args.partial.get("uci_promoters", [])
    fold_result = run_task("uci", data_dir, folder, settings,
                           done=earlier[fold] if fold < len(earlier) else [])
    for run in fold_result["runs"]:
      n_test = int((folds == fold).sum())
      errors[run["ablation"]][run["seed"]] += round((1 - run["accuracy"]) * n_test)
    lr_errors += round((1 - fold_result["logistic_regression"]["accuracy"])
                       * int((folds == fold).sum()))
    per_fold.append(fold_result)
  report("uci_promoters", {
      "protocol": "stratified 10-fold cross-validation, dev 15% of each training fold, "
                  f"fold seed {args.split_seed}",
      "errors_out_of_106": {a: e[: settings.seeds if a in ("both", "scratch")
                                 else settings.ablation_seeds]
                            for a, e in errors.items()},
      "logistic_regression_errors": lr_errors, "folds": per_fold,
      "published_loo_errors": published.UCI_PROMOTERS})


SUITES = {"tasks": suite_tasks, "statlog": suite_statlog, "cnnprom": suite_cnnprom,
          "uci_promoters": suite_uci_promoters}


# --------------------------------------------------------------------------
# Report


def resume_from(path: str, results: dict) -> dict:
  """The earlier results in `path`, checked to come from the same suite, settings and
  model (a preset's design can change between releases)."""
  with open(path) as handle:
    previous = json.load(handle)
  defaults = {f.name: f.default for f in dataclasses.fields(Settings)
              if f.default is not dataclasses.MISSING}
  previous["settings"] = {**defaults, **previous.get("settings", {})}
  # Files written before the model was recorded: the preset's design of their date.
  previous["model"] = recorded_model(previous, previous["settings"]["preset"],
                                     previous["settings"]["design"])
  for key in ("suite", "source", "settings", "model", "computed_features"):
    now = json.loads(json.dumps(results[key]))
    if previous.get(key) != now:
      sys.exit(f"error: --resume: {path} was made with another {key} "
               f"({previous.get(key)!r}, now {now!r}); rerun without --resume")
  return previous


def refit(args, results: dict) -> None:
  """--refit_regressions: every finished task goes back to `partial` with its runs,
  so that the suite rebuilds its data, keeps the runs and fits the regressions
  again."""
  if not args.resume or not results["tasks"]:
    sys.exit(f"error: --refit_regressions refits the regressions of the tasks in "
             f"{args.output}: give --resume and a results file with finished tasks")
  for name, entry in results.pop("tasks").items():
    results["partial"][name] = ([fold["runs"] for fold in entry["folds"]]
                                if "folds" in entry else entry["runs"])
  results["tasks"] = {}
  results["regressions_refit"] = results["date"]


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
  parser.add_argument("--suite", choices=sorted(SUITES), default="tasks")
  parser.add_argument("--data_root", help="tasks / cnnprom: the folder of tasks or FASTA")
  parser.add_argument("--data", help="statlog / uci_promoters: the data file")
  parser.add_argument("--tasks", default="all", help="all, or a comma-separated list")
  parser.add_argument("--output", required=True, help="JSON path; .md written beside it")
  parser.add_argument("--preset", default="default")
  parser.add_argument("--epochs", type=int, default=15)
  parser.add_argument("--patience", type=int, default=4)
  parser.add_argument("--batch_size", type=int, default=64)
  parser.add_argument("--learning_rate", type=float, default=2e-3)
  parser.add_argument("--seeds", type=int, default=3)
  parser.add_argument("--ablation_seeds", type=int, default=1)
  parser.add_argument("--ablations", default="both,sequence,features")
  parser.add_argument("--rc_tasks", default=",".join(RC_TASKS),
                      help="task-name prefixes trained with reverse-complement "
                           "augmentation (strand-symmetric signals such as TF binding)")
  parser.add_argument("--split_seed", type=int, default=0)
  parser.add_argument("--workers", type=int, default=0)
  parser.add_argument("--fusion_norm", action="store_true",
                      help="batch-normalise the preset's fusion layer before its activation")
  parser.add_argument("--recalibrate_norms", action="store_true",
                      help="train with the model's recalibrate_norms: every batch norm's "
                           "inference statistics measured again on training data with "
                           "dropout off before each dev evaluation (the preset default "
                           "has it since 2026-12-07; this adds it to another preset or "
                           "design)")
  parser.add_argument("--design", default="",
                      help="a design of benchmarks.fusion.VARIANTS (a change of the "
                           "flatten design) instead of --preset")
  parser.add_argument("--init_from", default=None,
                      help="start every model's sequence trunk from this language model, "
                           "trained model or preset (train --init_from)")
  parser.add_argument("--compare_scratch", action="store_true",
                      help="with --init_from: also train the dual-input model from "
                           "random weights, same seeds and settings, and report the gain")
  parser.add_argument("--aux_weight", type=float, default=0.0,
                      help="train --aux_weight: a head and loss of its own for each "
                           "branch, in training only (models with both branches)")
  parser.add_argument("--isolate_branches", action="store_true",
                      help="with --aux_weight: train --isolate_branches (each branch by "
                           "its own head only, the fusion by the main output only)")
  parser.add_argument("--freeze_trunk_steps", type=int, default=0,
                      help="with --init_from: train --freeze_trunk_steps (the trunk "
                           "fixed for the first N steps) in every model with a trunk")
  parser.add_argument("--trunk_learning_rate_multiplier", type=float, default=1.0,
                      help="with --init_from: train --trunk_learning_rate_multiplier "
                           "(the trunk's learning rate times this) in every model with "
                           "a trunk")
  parser.add_argument("--keep_predictions", action="store_true",
                      help="keep each binary run's and regression's test decisions in "
                           "--output, for python -m benchmarks.compare_suites --bootstrap")
  parser.add_argument("--resume", action="store_true",
                      help="keep the tasks already in --output (same suite and settings) "
                           "and run only the others")
  parser.add_argument("--refit_regressions", action="store_true",
                      help="with --resume: keep every trained model's scores in --output "
                           "and fit the regressions and the report again (nothing is "
                           "trained that was trained before)")
  args = parser.parse_args(argv)
  from benchmarks.fusion import refuse_unknown_design

  refuse_unknown_design(args.design)
  needs_root = args.suite in ("tasks", "cnnprom")
  source = args.data_root if needs_root else args.data
  if not source or not os.path.exists(source):
    sys.exit(f"error: suite {args.suite} needs --{'data_root' if needs_root else 'data'} "
             f"(got {source!r})")
  os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
  settings = Settings(
      preset=args.preset, epochs=args.epochs, patience=args.patience,
      batch_size=args.batch_size, learning_rate=args.learning_rate, seeds=args.seeds,
      ablation_seeds=args.ablation_seeds,
      rc_tasks=tuple(p for p in args.rc_tasks.split(",") if p),
      ablations=tuple(a for a in args.ablations.split(",") if a), workers=args.workers,
      fusion_norm=args.fusion_norm, recalibrate_norms=args.recalibrate_norms,
      design=args.design, init_from=args.init_from,
      compare_scratch=args.compare_scratch, aux_weight=args.aux_weight,
      isolate_branches=args.isolate_branches, keep_predictions=args.keep_predictions,
      freeze_trunk_steps=args.freeze_trunk_steps,
      trunk_learning_rate_multiplier=args.trunk_learning_rate_multiplier)
  # The trainer's own checks (isolation needs the heads, the trunk's schedule a trunk
  # to start), before any work.
  OptimConfig(aux_weight=args.aux_weight, isolate_branches=args.isolate_branches,
              freeze_trunk_steps=args.freeze_trunk_steps,
              trunk_learning_rate_multiplier=args.trunk_learning_rate_multiplier,
              init_from=args.init_from)
  if args.compare_scratch and not args.init_from:
    sys.exit("error: --compare_scratch compares against --init_from; give both")
  results = common.header("benchmarks.accuracy")
  if args.init_from:
    from gslm_keras.errors import GslmError
    from gslm_keras.training.init_from import describe

    try:
      results["init_from"] = describe(args.init_from)
    except GslmError as error:
      sys.exit(f"error: {error}")
  results.update({"suite": args.suite, "source": source,
                  "settings": dataclasses.asdict(settings),
                  "model": model_of(settings).to_json(),
                  "computed_features": COMPUTED})
  start = time.time()
  results["tasks"] = {}
  results["partial"] = {}
  results["complete"] = False
  previous_seconds = 0.0
  if args.resume and os.path.exists(args.output):
    previous = resume_from(args.output, results)
    results["tasks"] = previous["tasks"]
    results["partial"] = previous.get("partial", {})
    previous_seconds = previous.get("total_seconds", 0.0)
    results["resumed"] = previous.get("resumed", []) + [
        {"date": previous["date"], "tasks": sorted(previous["tasks"])}]
    for key in ("seeded_from", "regressions_refit"):  # Provenance that still holds.
      if key in previous:
        results[key] = previous[key]
  if args.refit_regressions:
    refit(args, results)
  args.done = set(results["tasks"])
  args.partial = results["partial"]

  def report(name, entry, partial=False):
    # Written after every run, so a long suite killed midway loses at most one run.
    if partial:
      results["partial"][name] = entry
    else:
      results["tasks"][name] = entry
      results["partial"].pop(name, None)
    results["total_seconds"] = previous_seconds + time.time() - start
    common.write_results(args.output, results, markdown(results))

  with tempfile.TemporaryDirectory() as tmp:
    SUITES[args.suite](args, settings, tmp, report)
  results["complete"] = True
  results["total_seconds"] = previous_seconds + time.time() - start
  common.write_results(args.output, results, markdown(results))
  print(markdown(results))
  return results


if __name__ == "__main__":
  common.run(main)
