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
import csv
import dataclasses
import json
import os
import sys
import tempfile
import time
from typing import Any

import numpy as np

from benchmarks import common, published, transfer

COMPUTED = ["gc_content", "cpg_oe", "kmer:k=3", "kmer:k=4:canonical=true", "entropy",
            "fickett", "orf_fraction", "dinucleotide:scale=stacking_energy",
            "dinucleotide:scale=deformability", "dinucleotide:scale=nn_free_energy"]
ABLATIONS = ("both", "sequence", "features", "scratch")


@dataclasses.dataclass
class Settings:
  preset: str
  epochs: int
  patience: int
  batch_size: int
  learning_rate: float
  seeds: int
  ablation_seeds: int
  rc_tasks: tuple[str, ...]
  ablations: tuple[str, ...]
  workers: int
  fusion_norm: bool = False
  design: str = ""
  init_from: str | None = None
  compare_scratch: bool = False


# --------------------------------------------------------------------------
# One model


def _binary_scores(truth: np.ndarray, prob: np.ndarray, threshold: float) -> dict:
  from sklearn import metrics as skm

  predicted = (prob >= threshold).astype(int)
  tp = int(((truth == 1) & (predicted == 1)).sum())
  tn = int(((truth == 0) & (predicted == 0)).sum())
  return {"mcc": float(skm.matthews_corrcoef(truth, predicted)),
          "accuracy": float((predicted == truth).mean()),
          "auroc": float(skm.roc_auc_score(truth, prob)),
          "sensitivity": tp / max(int((truth == 1).sum()), 1),
          "specificity": tn / max(int((truth == 0).sum()), 1)}


def dev_threshold(truth: np.ndarray, prob: np.ndarray) -> float:
  """The probability cut that maximises dev MCC (ties: closest to 0.5)."""
  from sklearn import metrics as skm

  candidates = np.unique(np.concatenate([np.quantile(prob, np.linspace(0.01, 0.99, 99)),
                                         [0.5]]))
  scores = [(skm.matthews_corrcoef(truth, (prob >= t).astype(int)), -abs(t - 0.5), t)
            for t in candidates]
  return float(max(scores)[2])


def score_run(model_dir: str, info) -> dict[str, Any]:
  """Test scores of a finished run; binary tasks also at the dev-chosen threshold.
  `dev_mcc`: the dev split's MCC at that threshold (binary) or of the argmax."""
  out: dict[str, Any] = {}
  if info.task == "binary":
    positive = info.classes[1]
    probs = {}
    for split in ("dev", "test"):
      path = os.path.join(model_dir, "predictions", f"{split}.tsv")
      if not os.path.exists(path):
        continue
      with open(path, newline="") as handle:
        rows = list(csv.DictReader(handle, delimiter="\t"))
      probs[split] = (np.array([r["label"] == positive for r in rows], int),
                      np.array([float(r[f"prob_{positive}"]) for r in rows]))
    threshold = dev_threshold(*probs["dev"]) if "dev" in probs else 0.5
    out.update(_binary_scores(*probs["test"], threshold))
    out["threshold"] = threshold
    out["mcc_at_0.5"] = _binary_scores(*probs["test"], 0.5)["mcc"]
    if "dev" in probs:
      out["dev_mcc"] = _binary_scores(*probs["dev"], threshold)["mcc"]
    return out
  import json

  with open(os.path.join(model_dir, "metrics", "test.json")) as handle:
    metrics = json.load(handle)
  out.update({k: metrics.get(k) for k in ("mcc", "accuracy", "auroc_macro")})
  dev = os.path.join(model_dir, "metrics", "dev.json")
  if os.path.exists(dev):
    with open(dev) as handle:
      out["dev_mcc"] = json.load(handle).get("mcc")
  return out


def train_one(data_dir: str, model_dir: str, settings: Settings, ablation: str, seed: int,
              reverse_complement: bool) -> dict[str, Any]:
  """One training. With --init_from every model but `scratch` (the dual-input model
  from random weights, for --compare_scratch) starts its trunk from the source."""
  from gslm_keras.data.dataset_info import DatasetInfo
  from gslm_keras.training.config import TrainConfig
  from gslm_keras.training.trainer import train

  config = TrainConfig.create(
      data_dir=data_dir, model_dir=model_dir, model=model_of(settings).replace(
          ablation="both" if ablation == "scratch" else ablation,
          fusion_norm=settings.fusion_norm or None),
      init_from=None if ablation == "scratch" else settings.init_from,
      model_preset=settings.preset, epochs=settings.epochs,
      batch_size=settings.batch_size, optimizer="adamw",
      learning_rate=settings.learning_rate, weight_decay=1e-4, lr_schedule="cosine",
      warmup_steps=50, early_stopping_patience=settings.patience, seed=seed,
      reverse_complement=reverse_complement, evaluate_splits=("dev", "test"),
      overwrite=True, verbose=0)
  start = time.time()
  result = train(config)
  seconds = time.time() - start
  scores = score_run(model_dir, DatasetInfo.load(data_dir, verify="none"))
  scores.update({"ablation": ablation, "seed": seed, "train_seconds": seconds,
                 "steps": result.steps, "best_dev": result.best.get("best"),
                 "restarts": len(result.restarts)})
  if ablation != "sequence":  # A sequence-only model has no fusion layer to probe.
    scores.update(fusion_health(model_dir, data_dir))
  return scores


def fusion_health(model_dir: str, data_dir: str) -> dict[str, Any]:
  """Dead fusion units of the kept model on the whole dev split (a ReLU unit that is
  zero on every dev example, a GELU, tanh or gated one that never changes; see
  gslm_keras/training/collapse.py)."""
  import keras

  from gslm_keras.data.dataset_info import DatasetInfo
  from gslm_keras.data.pipeline import make_dataset
  from gslm_keras.training.collapse import diagnose

  info = DatasetInfo.load(data_dir, verify="none")
  model = keras.models.load_model(os.path.join(model_dir, "model.keras"), compile=False)
  batches = make_dataset(data_dir, "dev", batch_size=256, verify="none")
  found = diagnose(model, batches, info.task)
  return {key: found[key] for key in ("dead_fusion_units", "fusion_units", "collapsed")}


def logistic_regression(data_dir: str) -> dict[str, Any]:
  """The reference for the features-only branch: a logistic regression on the same
  computed features, C chosen on dev."""
  from sklearn.linear_model import LogisticRegression

  from gslm_keras import make_dataset
  from gslm_keras.data.dataset_info import DatasetInfo

  info = DatasetInfo.load(data_dir, verify="none")

  def arrays(split):
    xs, ys = [], []
    for inputs, labels in make_dataset(data_dir, split, "eval", 1024, verify="none"):
      xs.append(inputs["features"].numpy())
      ys.append(labels.numpy())
    return np.concatenate(xs), np.concatenate(ys)

  x_train, y_train = arrays("train")
  x_dev, y_dev = arrays("dev")
  x_test, y_test = arrays("test")
  best = None
  for c in (0.01, 0.1, 1.0, 10.0):
    model = LogisticRegression(C=c, max_iter=3000).fit(x_train, y_train)
    if info.task == "binary":
      prob = model.predict_proba(x_dev)[:, 1]
      score = _binary_scores(y_dev, prob, dev_threshold(y_dev, prob))["mcc"]
    else:
      score = float((model.predict(x_dev) == y_dev).mean())
    if best is None or score > best[0]:
      best = (score, c, model)
  dev_score, c, model = best
  if info.task == "binary":
    threshold = dev_threshold(y_dev, model.predict_proba(x_dev)[:, 1])
    out = _binary_scores(y_test, model.predict_proba(x_test)[:, 1], threshold)
  else:
    from sklearn import metrics as skm

    predicted = model.predict(x_test)
    out = {"accuracy": float((predicted == y_test).mean()),
           "mcc": float(skm.matthews_corrcoef(y_test, predicted))}
  out["C"] = c
  out["dev_mcc" if info.task == "binary" else "dev_accuracy"] = dev_score
  return out


# --------------------------------------------------------------------------
# One task


def summarise(runs: list[dict]) -> dict[str, dict]:
  summary = {}
  for ablation in ABLATIONS:
    chosen = [r for r in runs if r["ablation"] == ablation]
    if not chosen:
      continue
    entry = {"n_seeds": len(chosen)}
    for key in ("mcc", "accuracy", "auroc", "auroc_macro", "sensitivity", "specificity",
                "train_seconds"):
      values = [r[key] for r in chosen if r.get(key) is not None]
      if values:
        entry[f"{key}_mean"] = float(np.mean(values))
        entry[f"{key}_sd"] = float(np.std(values, ddof=1)) if len(values) > 1 else 0.0
    summary[ablation] = entry
  return summary


def jobs(settings: Settings) -> list[tuple[str, int]]:
  """(ablation, seed) of every training of a task, in the order they run; with
  --compare_scratch each seed's fine-tuned and from-scratch models run side by side."""
  out = []
  for ablation in settings.ablations:
    seeds = settings.seeds if ablation == "both" else settings.ablation_seeds
    for seed in range(seeds):
      out.append((ablation, seed))
      if ablation == "both" and settings.compare_scratch:
        out.append(("scratch", seed))
  return out


def run_task(name: str, data_dir: str, work: str, settings: Settings,
             done: list[dict] = (), progress=None) -> dict[str, Any]:
  """Every training of a task; `done` holds runs finished by an earlier, killed
  invocation (kept, not rerun); `progress(runs)` is called after each run."""
  from gslm_keras.data.dataset_info import DatasetInfo

  info = DatasetInfo.load(data_dir)
  reverse_complement = any(name.startswith(p) for p in settings.rc_tasks)
  finished = {(r["ablation"], r["seed"]): r for r in done}
  runs = []
  for ablation, seed in jobs(settings):
    if (ablation, seed) not in finished:
      print(f"  {name}: {ablation}, seed {seed}", flush=True)
      finished[ablation, seed] = train_one(
          data_dir, os.path.join(work, f"{ablation}_{seed}"), settings, ablation, seed,
          reverse_complement)
    runs.append(finished[ablation, seed])
    if progress is not None:
      progress(runs)
  return {
      "data": {split: info.num_records(split) for split in info.splits}
      | {"sequence_overlaps": info.data["sequence_overlaps"],
         "reverse_complement_augmentation": reverse_complement},
      "runs": runs, "summary": summarise(runs),
      "logistic_regression": logistic_regression(data_dir),
      "wall_seconds_both_per_seed": float(np.mean(
          [r["train_seconds"] for r in runs if r["ablation"] == "both"])),
  }


def build(output_dir: str, workers: int, **kwargs):
  from gslm_keras.data.builder.builder import BuildConfig, build_dataset
  from gslm_keras.data.readers import InputSpec
  from gslm_keras.features import parse_specs

  for key in ("train", "dev", "test", "input"):
    if key in kwargs:
      kwargs[key] = tuple(InputSpec.parse(str(p)) for p in kwargs[key])
  return build_dataset(BuildConfig(
      output_dir=output_dir, computed_features=parse_specs(COMPUTED),
      num_workers=workers, progress_seconds=1e9, **kwargs))


# --------------------------------------------------------------------------
# Suites


def find_tasks(root: str, tasks: str) -> list[str]:
  found = sorted(os.path.relpath(d, root) for d, _, files in os.walk(root)
                 if {"train.csv", "dev.csv", "test.csv"} <= set(files))
  if tasks == "all":
    return found
  wanted = [t.strip().strip("/") for t in tasks.split(",") if t.strip()]
  missing = [t for t in wanted if t not in found]
  if missing:
    sys.exit(f"error: no task folder {missing[0]!r} with train/dev/test.csv under {root}; "
             f"found: {', '.join(found) or 'none'}")
  return wanted


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
    entry["kmer_regression"] = kmer_regression(folder)
    report(name, entry)


def suite_statlog(args, settings, tmp, report) -> None:
  data_dir = os.path.join(tmp, "statlog", "data")
  build(data_dir, settings.workers, input=[args.data], split_column="statlog_split",
        dev_fraction=0.1, seed=0)
  result = run_task("statlog", data_dir, os.path.join(tmp, "statlog"), settings)
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
    entry = run_task(name, data_dir, os.path.join(tmp, name), settings)
    reference = published.CNNPROM.get(name)
    entry["published"] = (dict(zip(("sensitivity", "specificity", "cc"), reference))
                          if reference else None)
    report(name, entry)


def suite_uci_promoters(args, settings, tmp, report) -> None:
  """Stratified 10-fold cross-validation; errors counted over all 106 rows."""
  with open(args.data) as handle:
    rows = [line.strip().split(",") for line in handle if line.strip()]
  records = [(cls.strip(), name.strip(), seq.strip().upper()) for cls, name, seq in rows]
  rng = np.random.default_rng(args.split_seed)
  folds = np.zeros(len(records), int)
  for cls in ("+", "-"):
    members = [i for i, r in enumerate(records) if r[0] == cls]
    for rank, i in enumerate(rng.permutation(members)):
      folds[i] = rank % 10
  errors = {a: [0] * settings.seeds for a in settings.ablations
            + (("scratch",) if settings.compare_scratch else ())}
  lr_errors = 0
  per_fold = []
  for fold in range(10):
    print(f"fold {fold}", flush=True)
    folder = os.path.join(tmp, f"fold{fold}")
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
    fold_result = run_task("uci", data_dir, folder, settings)
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


def _fmt(mean, sd=None, scale=100.0, digits=1):
  if mean is None:
    return "-"
  text = f"{mean * scale:.{digits}f}"
  return text + (f" ± {sd * scale:.{digits}f}" if sd else "")


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
    seq = s.get("sequence", {}).get("mcc_mean")
    feat = s.get("features", {}).get("mcc_mean")
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
    auroc = both.get("auroc_mean", both.get("auroc_macro_mean"))
    lines.append(
        f"| {name} | {sizes} | {_fmt(both.get('mcc_mean'), both.get('mcc_sd'))} | "
        f"{_fmt(auroc, scale=1, digits=3)} | {_fmt(seq)} | {_fmt(feat)} | "
        f"{_fmt(entry['logistic_regression'].get('mcc'))} | "
        f"{_fmt(entry.get('kmer_regression', {}).get('mcc'))} | {reference} | "
        f"{entry['wall_seconds_both_per_seed']:.0f} | {goal} |")
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
  margins = {name: margin(entry) for name, entry in tasks.items()}
  margins = {name: m for name, m in margins.items() if m is not None}
  if margins:
    ahead = [name for name, m in margins.items() if m >= 1.0]
    lines += ["", "Issue 22's bar (mean MCC at least 1 point above the best single "
              "branch, the feature regression and the k-mer regression): "
              f"{len(ahead)} of {len(margins)} task(s); margin over the strongest of "
              "them: " + ", ".join(f"{name} {m:+.1f}" for name, m in margins.items())
              + "."]
  return "\n".join(lines + [""])


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
  return (f"pooling {pooling}, {model['fusion_activation']} fusion"
          + (", wide path" if model.get("wide") else ""))


def model_of(settings) -> Any:
  """The ModelConfig a suite trains (before each run's ablation)."""
  from benchmarks.fusion import design
  from gslm_keras.models import preset

  return design(settings.design) if settings.design else preset(settings.preset)


def resume_from(path: str, results: dict) -> dict:
  """The earlier results in `path`, checked to come from the same suite, settings and
  model (a preset's design can change between releases)."""
  with open(path) as handle:
    previous = json.load(handle)
  defaults = {f.name: f.default for f in dataclasses.fields(Settings)
              if f.default is not dataclasses.MISSING}
  previous["settings"] = {**defaults, **previous.get("settings", {})}
  if "model" not in previous:
    # Written before the model was recorded: the presets of then, whose default
    # was the flatten design (ModelConfig's field defaults) until 2026-12-05.
    from benchmarks.fusion import design
    from gslm_keras.models import ModelConfig, preset

    name, chosen = previous["settings"]["preset"], previous["settings"]["design"]
    previous["model"] = (design(chosen) if chosen else ModelConfig() if name == "default"
                         else preset(name)).to_json()
  previous["model"] = json.loads(json.dumps(previous["model"]))
  for key in ("suite", "source", "settings", "model", "computed_features"):
    now = json.loads(json.dumps(results[key]))
    if previous.get(key) != now:
      sys.exit(f"error: --resume: {path} was made with another {key} "
               f"({previous.get(key)!r}, now {now!r}); rerun without --resume")
  return previous


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
  parser.add_argument("--rc_tasks", default="tf/,mouse/",
                      help="task-name prefixes trained with reverse-complement "
                           "augmentation (strand-symmetric signals such as TF binding)")
  parser.add_argument("--split_seed", type=int, default=0)
  parser.add_argument("--workers", type=int, default=0)
  parser.add_argument("--fusion_norm", action="store_true",
                      help="batch-normalise the preset's fusion layer before its activation")
  parser.add_argument("--design", default="",
                      help="a design of benchmarks.fusion.VARIANTS (a change of the "
                           "flatten design) instead of --preset")
  parser.add_argument("--init_from", default=None,
                      help="start every model's sequence trunk from this language model, "
                           "trained model or preset (train --init_from)")
  parser.add_argument("--compare_scratch", action="store_true",
                      help="with --init_from: also train the dual-input model from "
                           "random weights, same seeds and settings, and report the gain")
  parser.add_argument("--resume", action="store_true",
                      help="keep the tasks already in --output (same suite and settings) "
                           "and run only the others")
  args = parser.parse_args(argv)
  if args.design:
    from benchmarks.fusion import VARIANTS

    if args.design not in VARIANTS:
      sys.exit(f"error: --design={args.design}: expected one of {', '.join(VARIANTS)}")
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
      fusion_norm=args.fusion_norm, design=args.design, init_from=args.init_from,
      compare_scratch=args.compare_scratch)
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
