"""A finished benchmark run's scores: binary tasks at the threshold chosen on dev,
its test decisions for the bootstrap, and both strands averaged for a model trained
with reverse-complement augmentation (`benchmarks.task_runs` trains the runs)."""

from __future__ import annotations

import csv
import json
import os
from typing import Any

import numpy as np

from gslm_keras.evaluation.threshold import dev_threshold


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


def decisions(truth: np.ndarray, prob: np.ndarray, threshold: float) -> dict[str, str]:
  """A binary model's test labels and decisions at its threshold, one character per
  test sequence in the split's order ("0110..."): what benchmarks.bootstrap resamples."""
  truth, prob = np.ravel(truth), np.ravel(prob)
  return {"test_labels": "".join("01"[int(v)] for v in truth),
          "test_predicted": "".join("01"[int(v)] for v in prob >= threshold)}


def score_run(model_dir: str, info, keep_predictions: bool = False) -> dict[str, Any]:
  """Test scores of a finished run; binary tasks also at the dev-chosen threshold.
  `dev_mcc`: the dev split's MCC at that threshold (binary) or of the argmax;
  `keep_predictions`: a binary run's test decisions too (`decisions`)."""
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
    if keep_predictions:
      out.update(decisions(*probs["test"], threshold))
    return out
  with open(os.path.join(model_dir, "metrics", "test.json")) as handle:
    metrics = json.load(handle)
  out.update({k: metrics.get(k) for k in ("mcc", "accuracy", "auroc_macro")})
  dev = os.path.join(model_dir, "metrics", "dev.json")
  if os.path.exists(dev):
    with open(dev) as handle:
      out["dev_mcc"] = json.load(handle).get("mcc")
  return out


def on_both_strands(run: dict) -> dict:
  """A suite's run read on both strands: its `both_strands` scores (every score and
  its test decisions) in place of the forward ones, marked "strands": "both"; a run
  that did not record them is returned as it is."""
  if not run.get("both_strands"):
    return run
  return {**run, **run["both_strands"], "strands": "both"}


def both_strands(model_dir: str, info, keep_predictions: bool) -> dict[str, Any]:
  """`score_run`'s scores with each prediction the mean of both strands' (evaluate
  --rc_average), its own threshold chosen on dev: how a model trained with
  reverse-complement augmentation is read at its best (the run's forward
  predictions are replaced; `score_run` reads them first)."""
  from gslm_keras.evaluation.evaluator import evaluate_model
  from gslm_keras.inference.model import LoadedModel

  model = LoadedModel(model_dir)  # Loaded once for both splits.
  for split in ("dev", "test"):
    evaluate_model(model_dir, split=split, model=model, rc_average=True)
  return score_run(model_dir, info, keep_predictions)
