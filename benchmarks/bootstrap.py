"""How much of a comparison is the test set's luck: a paired bootstrap over the test
sequences of issue 22's bar.

GUE's test splits are small (239 sequences on mouse/3, 613 on prom_300_tata, 1,000 on
the tf tasks): a second draw of the same size from the same source would move every
model's MCC by a few points, and the seeds of one suite share that draw. This module
resamples the test sequences with replacement, the same resample for every model
(paired), and recomputes each model's MCC at the threshold it chose on dev from the
decisions `benchmarks.accuracy --keep_predictions` keeps
(`task_runs.decisions`): the bar margin's spread over resamples is what the test
set's size alone allows one to say, with the models held fixed (the spread over
seeds is reported beside it, not folded in).

  from benchmarks.bootstrap import bar_interval
  bar_interval(pair_runs, {"sequence": runs, "k-mer regression": [entry]}, 2000)
"""

from __future__ import annotations

import numpy as np

LEVEL = 95  # Percent: the interval reported.
BAR = 1.0  # MCC points: issue 22's bar.


class MissingPredictions(ValueError):
  """A run or regression of the comparison without its kept test decisions."""


def _arrays(runs: list[dict]) -> tuple[np.ndarray, np.ndarray]:
  """(labels [n] bool, decisions [runs, n] bool), checked to hold one test order: the
  labels of every run equal (each run's stored MCC is checked in
  `resampled_margins`)."""
  labels = {r.get("test_labels") for r in runs}
  if None in labels or any(r.get("test_predicted") is None for r in runs):
    raise MissingPredictions("a run without test decisions (benchmarks.accuracy "
                             "--keep_predictions)")
  if len(labels) != 1:
    raise ValueError("the runs' test labels differ: not one test split in one order")
  truth = np.frombuffer(labels.pop().encode(), np.uint8) == ord("1")
  decided = np.stack([np.frombuffer(r["test_predicted"].encode(), np.uint8) == ord("1")
                      for r in runs])
  return truth, decided


def mcc_resampled(truth: np.ndarray, decided: np.ndarray, weights: np.ndarray) -> np.ndarray:
  """MCC x100 [resamples, runs] of each run's decisions [runs, n] on each resample,
  given as how many times it draws each sequence (weights [resamples, n]); 0 where a
  count of the confusion table's margins is 0, as scikit-learn's."""
  w = weights.astype(np.float64)
  t = truth.astype(np.float64)
  d = decided.astype(np.float64).T  # [n, runs]
  tp = w @ (d * t[:, None])
  fp = w @ (d * (1 - t)[:, None])
  positives = (w @ t)[:, None]
  total = w.sum(axis=1, keepdims=True)
  fn, tn = positives - tp, total - positives - fp
  denominator = np.sqrt((tp + fp) * (tp + fn) * (tn + fp) * (tn + fn))
  with np.errstate(invalid="ignore", divide="ignore"):
    mcc = np.where(denominator > 0, (tp * tn - fp * fn) / denominator, 0.0)
  return 100 * mcc


def resampled_margins(candidate: list[dict], rivals: dict[str, list[dict]],
                      resamples: int = 2000, seed: int = 0,
                      resample_seeds: bool = False) -> dict:
  """The bar margin (the candidate's mean MCC over its runs minus the best rival's
  mean over its runs, x100) and each rival's gap, on the test set as drawn (element
  0) and on each resample of its sequences after it: {"margin": [1 + resamples],
  "gaps": {rival: [1 + resamples]}, "n": test sequences}.

  With `resample_seeds`, each resample also draws each model's runs (its training
  seeds) with replacement, as many as it has, on its own: the interval then holds
  the spread of another set of seeds as well as that of another test set. The
  test resamples are the same either way.
  Raises MissingPredictions where a run kept no decisions."""
  names = list(rivals)
  groups = [candidate] + [rivals[name] for name in names]
  runs = [run for group in groups for run in group]
  truth, decided = _arrays(runs)
  weights = np.random.default_rng(seed).multinomial(
      len(truth), np.full(len(truth), 1 / len(truth)), size=resamples)
  scores = mcc_resampled(truth, decided,
                         np.concatenate([np.ones((1, len(truth)), int), weights]))
  for run, observed in zip(runs, scores[0] / 100):
    if abs(observed - run["mcc"]) > 1e-9:
      raise ValueError(f"a run's decisions give MCC {observed:.6f}, its record "
                       f"{run['mcc']:.6f}: not the run's own decisions")
  means, start = [], 0
  draw = np.random.default_rng([seed, 1])  # Apart from the test resamples' stream.
  for group in groups:
    group_scores = scores[:, start:start + len(group)]
    if resample_seeds:
      picked = np.concatenate([np.arange(len(group))[None, :],
                               draw.integers(0, len(group), (resamples, len(group)))])
      group_scores = np.take_along_axis(group_scores, picked, axis=1)
    means.append(group_scores.mean(axis=1))
    start += len(group)
  pair, rival_means = means[0], np.stack(means[1:])
  return {"margin": pair - rival_means.max(axis=0), "n": int(len(truth)),
          "gaps": {name: pair - values for name, values in zip(names, rival_means)}}


def summarise(margins: dict) -> dict:
  """`resampled_margins`' arrays as the observed values with their LEVEL% percentile
  intervals: {"margin", "low", "high", "met": the fraction of resamples where the
  margin reaches BAR, "behind": the fraction where it is below 0, "gaps": {rival:
  {"gap", "low", "high"}}, "resamples"}."""
  tail = (100 - LEVEL) / 2

  def interval(values):
    low, high = np.percentile(values[1:], [tail, 100 - tail])
    return float(low), float(high)

  margin = margins["margin"]
  out = {"margin": float(margin[0]), "resamples": len(margin) - 1,
         "met": float((margin[1:] >= BAR).mean()), "behind": float((margin[1:] < 0).mean())}
  out["low"], out["high"] = interval(margin)
  out["gaps"] = {}
  for name, values in margins["gaps"].items():
    low, high = interval(values)
    out["gaps"][name] = {"gap": float(values[0]), "low": low, "high": high}
  return out


def bar_interval(candidate: list[dict], rivals: dict[str, list[dict]],
                 resamples: int = 2000, seed: int = 0) -> dict:
  """The bar margin and each rival's gap with their intervals over resamples of one
  task's test sequences (`summarise`'s keys, and "n": the test sequences).
  Raises MissingPredictions where a run kept no decisions."""
  margins = resampled_margins(candidate, rivals, resamples, seed)
  return {**summarise(margins), "n": margins["n"]}


def pooled_interval(tasks: list[dict]) -> dict:
  """The mean over tasks of `resampled_margins`' arrays (one per task, each task's
  test set resampled on its own, as many times each): how far the candidate is
  ahead of its best rival on an average task, with the interval the tasks' test
  sets allow together. The rivals' gaps are pooled over the rivals every task has.
  Returns `summarise`'s keys, and "tasks": how many were pooled."""
  shared = [name for name in tasks[0]["gaps"] if all(name in t["gaps"] for t in tasks)]
  pooled = {"margin": np.mean([t["margin"] for t in tasks], axis=0),
            "gaps": {name: np.mean([t["gaps"][name] for t in tasks], axis=0)
                     for name in shared}}
  return {**summarise(pooled), "tasks": len(tasks)}
