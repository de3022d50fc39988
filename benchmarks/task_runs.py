"""One benchmark task, end to end: build its dataset, train the dual-input model and
its ablations, score them with the threshold chosen on dev, fit the regressions on
the same features; what `benchmarks.accuracy`'s suites and the other accuracy
benchmarks (fusion, species, label efficiency, coding transfer) share."""

from __future__ import annotations

import dataclasses
import json
import os
import sys
import time
from typing import Any

import numpy as np

from benchmarks.run_scores import (  # noqa: F401  (importers find them here too)
    _binary_scores, both_strands, decisions, score_run)

COMPUTED = ["gc_content", "cpg_oe", "kmer:k=3", "kmer:k=4:canonical=true", "entropy",
            "fickett", "orf_fraction", "dinucleotide:scale=stacking_energy",
            "dinucleotide:scale=deformability", "dinucleotide:scale=nn_free_energy"]
ABLATIONS = ("both", "sequence", "features", "scratch")
# Tasks whose windows have no strand (TF binding, mouse ChIP): trained with
# reverse-complement augmentation by default, and scored on both strands averaged
# too (`run_scores.both_strands`) beside the forward strand.
RC_TASKS = ("tf/", "mouse/")


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
  recalibrate_norms: bool = False
  design: str = ""
  init_from: str | None = None
  compare_scratch: bool = False
  aux_weight: float = 0.0
  isolate_branches: bool = False
  # Train's trunk schedule, for the models whose trunk starts from init_from.
  freeze_trunk_steps: int = 0
  trunk_learning_rate_multiplier: float = 1.0
  # Each binary run's test labels and decisions kept in the results (--keep_predictions),
  # for benchmarks.bootstrap's resampling of the test sequences.
  keep_predictions: bool = False


def pair_recipe(**changes) -> Settings:
  """The accuracy suite's recipe (its defaults) for one dual-input run a seed, as
  the diagnostics that train its runs again use it."""
  return Settings(preset="default", epochs=15, patience=4, batch_size=64,
                  learning_rate=2e-3, seeds=1, ablation_seeds=1, rc_tasks=RC_TASKS,
                  ablations=("both",), workers=0, **changes)


# --------------------------------------------------------------------------
# One model


def train_one(data_dir: str, model_dir: str, settings: Settings, ablation: str, seed: int,
              reverse_complement: bool) -> dict[str, Any]:
  """One training. With --init_from every model but `scratch` (the dual-input model
  from random weights, for --compare_scratch) starts its trunk from the source."""
  from gslm_keras.data.dataset_info import DatasetInfo
  from gslm_keras.training.config import TrainConfig
  from gslm_keras.training.trainer import train

  init_from = None if ablation == "scratch" else settings.init_from
  # The scratch pair's trunk is not started; the features-only model has none.
  trunk = ({"freeze_trunk_steps": settings.freeze_trunk_steps,
            "trunk_learning_rate_multiplier": settings.trunk_learning_rate_multiplier}
           if init_from and ablation != "features" else {})
  config = TrainConfig.create(
      data_dir=data_dir, model_dir=model_dir, model=model_of(settings).replace(
          ablation="both" if ablation == "scratch" else ablation),
      init_from=init_from, **trunk,
      model_preset=settings.preset, epochs=settings.epochs,
      batch_size=settings.batch_size, optimizer="adamw",
      learning_rate=settings.learning_rate, weight_decay=1e-4, lr_schedule="cosine",
      warmup_steps=50, early_stopping_patience=settings.patience, seed=seed,
      aux_weight=settings.aux_weight, isolate_branches=settings.isolate_branches,
      reverse_complement=reverse_complement, evaluate_splits=("dev", "test"),
      overwrite=True, verbose=0)
  start = time.time()
  result = train(config)
  seconds = time.time() - start
  info = DatasetInfo.load(data_dir, verify="none")
  scores = score_run(model_dir, info, settings.keep_predictions)
  if reverse_complement and info.task == "binary":
    scores["both_strands"] = both_strands(model_dir, info, settings.keep_predictions)
  scores.update({"ablation": ablation, "seed": seed, "train_seconds": seconds,
                 "steps": result.steps, "best_dev": result.best.get("best"),
                 "restarts": len(result.restarts)})
  # Every model has a fusion layer, a one-branch model over its one branch. (Until
  # 2026-12-07 the sequence-only ablation was skipped, on the false belief that it had
  # none: its dead units went uncounted.)
  scores.update(fusion_health(model_dir, data_dir))
  return scores


def fusion_health(model_dir: str, data_dir: str) -> dict[str, Any]:
  """Dead fusion units of the kept model on the whole dev split (a ReLU or GELU unit
  never positive on dev, a tanh or gated one that never changes; see
  gslm_keras/training/collapse.py), and the rule that counted them."""
  import keras

  from gslm_keras.data.dataset_info import DatasetInfo
  from gslm_keras.data.pipeline import make_dataset
  from gslm_keras.training.collapse import diagnose

  info = DatasetInfo.load(data_dir, verify="none")
  model = keras.models.load_model(os.path.join(model_dir, "model.keras"), compile=False)
  batches = make_dataset(data_dir, "dev", batch_size=256, verify="none")
  found = diagnose(model, batches, info.task)
  return {key: found[key]
          for key in ("dead_fusion_units", "fusion_units", "dead_rule", "collapsed")}


def logistic_regression(data_dir: str, keep_predictions: bool = False) -> dict[str, Any]:
  """The reference for the features-only branch: a logistic regression on the same
  computed features, standardised with the train split's statistics (as the model's
  own first feature layer does), C chosen on dev; `keep_predictions` as in
  `score_run`."""
  from benchmarks.baselines import logistic_on_dev
  from gslm_keras import make_dataset
  from gslm_keras.data.dataset_info import DatasetInfo

  info = DatasetInfo.load(data_dir, verify="none")

  def arrays(split):
    xs, ys = [], []
    # Standardised: raw features span orders of magnitude (counts beside
    # fractions), and one penalty for all of them would favour the large ones.
    for inputs, labels in make_dataset(data_dir, split, "eval", 1024, verify="none",
                                       normalize=True):
      xs.append(inputs["features"].numpy())
      ys.append(labels.numpy())
    return np.concatenate(xs), np.concatenate(ys)

  x_train, y_train = arrays("train")
  x_dev, y_dev = arrays("dev")
  x_test, y_test = arrays("test")
  binary = info.task == "binary"
  found = logistic_on_dev({"train": x_train, "dev": x_dev}, {"train": y_train, "dev": y_dev},
                          (0.01, 0.1, 1.0, 10.0), binary=binary)
  model, c = found["model"], found["C"]
  if binary:
    test = model.predict_proba(x_test)[:, 1]
    out = _binary_scores(y_test, test, found["threshold"])
    if keep_predictions:
      out.update(decisions(y_test, test, found["threshold"]))
  else:
    from sklearn import metrics as skm

    predicted = model.predict(x_test)
    out = {"accuracy": float((predicted == y_test).mean()),
           "mcc": float(skm.matthews_corrcoef(y_test, predicted))}
  out["C"] = c
  out["dev_mcc" if binary else "dev_accuracy"] = found["dev_score"]
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
      "logistic_regression": logistic_regression(data_dir, settings.keep_predictions),
      "wall_seconds_both_per_seed": _mean_or_none(
          [r["train_seconds"] for r in runs if r["ablation"] == "both"]),
  }


def _mean_or_none(values: list[float]) -> float | None:
  """The mean, or None where nothing ran (a suite of one-branch ablations only)."""
  return float(np.mean(values)) if values else None


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


def build_task(data_root: str, task: str, tmp: str):
  """(the task's folder, its dataset built under `tmp`, the dataset's info) for a
  task folder with train/dev/test.csv; exits in one line when the files are missing."""
  from gslm_keras.data.dataset_info import DatasetInfo

  folder = os.path.join(data_root, task)
  if not os.path.exists(os.path.join(folder, "train.csv")):
    sys.exit(f"error: {folder}/train.csv not found")
  data_dir = os.path.join(tmp, task.replace("/", "_"))
  build(data_dir, 0, train=[os.path.join(folder, "train.csv")],
        dev=[os.path.join(folder, "dev.csv")], test=[os.path.join(folder, "test.csv")])
  return folder, data_dir, DatasetInfo.load(data_dir, verify="none")


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


def model_of(settings) -> Any:
  """The ModelConfig a suite trains (before each run's ablation)."""
  from benchmarks.fusion import design
  from gslm_keras.models import preset

  chosen = design(settings.design) if settings.design else preset(settings.preset)
  chosen = chosen.replace(fusion_norm=True) if settings.fusion_norm else chosen
  return (chosen.replace(recalibrate_norms=True)
          if settings.recalibrate_norms else chosen)


# When the preset `default` became the positions design (commit 918c0c4): a results
# file that does not record its model and is dated before this trained the flatten
# design (ModelConfig's field defaults) under that name.
DEFAULT_CHANGED = "2026-12-05T18:42:24+00:00"
# When the fusion layer of the default became batch-normalised (issue 22): a file
# dated between the two, without a model, trained the design before it.
FUSION_NORM_DEFAULT = "2026-12-07T05:00:00+00:00"
# When the default began to recalibrate its batch norms (issue 22): a file dated
# between the two, without a model, trained the default without it.
RECALIBRATE_DEFAULT = "2026-12-07T12:00:00+00:00"


def recorded_model(previous: dict, preset_name: str = "default",
                   design_name: str = "") -> dict:
  """The model (ModelConfig JSON) an earlier results file trained: the one it
  records, or for a file written before models were recorded, the preset's (or the
  design's) design of its date."""
  from benchmarks.fusion import design
  from gslm_keras.models import ModelConfig, preset

  if "model" in previous:
    chosen = previous["model"]
  elif design_name:
    chosen = design(design_name).to_json()
  elif preset_name == "default" and previous.get("date", "") < DEFAULT_CHANGED:
    chosen = ModelConfig().to_json()
  elif preset_name == "default" and previous.get("date", "") < FUSION_NORM_DEFAULT:
    chosen = design("wide_maxavgpos_gelu_pdrop5").to_json()
  elif preset_name == "default" and previous.get("date", "") < RECALIBRATE_DEFAULT:
    chosen = preset("default").replace(recalibrate_norms=False).to_json()
  else:
    chosen = preset(preset_name).to_json()
  # Fields added since (recalibrate_norms) take the value every earlier run had:
  # the field's default.
  chosen = json.loads(json.dumps(ModelConfig.from_json(chosen).to_json()))
  if previous.get("settings", {}).get("fusion_norm"):
    # Files before 2026-12-07 recorded the preset's model without the flag's batch norm.
    chosen["fusion_norm"] = True
  return chosen


def refuse_another_model(path: str, previous: dict, now: dict, flag: str,
                         preset_name: str = "default", design_name: str = "") -> None:
  """One `error:` line (and exit) when `previous`, read from `path` for `flag`,
  trained another model than `now` (a preset's design can change between releases)."""
  theirs = recorded_model(previous, preset_name, design_name)
  ours = json.loads(json.dumps(now))
  if theirs != ours:
    changed = sorted(k for k in set(theirs) | set(ours) if theirs.get(k) != ours.get(k))
    sys.exit(f"error: {flag}: {path} was made with another model (it differs in "
             f"{', '.join(changed)}: {', '.join(f'{k}={theirs.get(k)!r}' for k in changed)}"
             f"); give another --output, or rerun without {flag}")
