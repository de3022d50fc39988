"""A decision threshold chosen on a model's own dev split, never on test.

`dev_threshold` is the one rule for it (the accuracy benchmarks use it too): the
cut with the best MCC among the 1st to 99th percentiles of the scores and 0.5,
ties going to the cut closest to 0.5. `element_threshold` applies it to one
output column of a trained model (scan's elements).
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from gslm_keras.errors import ConfigError


def dev_threshold(truth: np.ndarray, score: np.ndarray) -> float:
  """The cut of `score` that maximises the MCC against 0/1 `truth`."""
  from sklearn import metrics as skm

  candidates = np.unique(np.concatenate([np.quantile(score, np.linspace(0.01, 0.99, 99)),
                                         [0.5]]))
  scores = [(skm.matthews_corrcoef(truth, (score >= t).astype(int)), -abs(t - 0.5), t)
            for t in candidates]
  return float(max(scores)[2])


def element_threshold(model, column: int, split: str = "dev", batch_size: int = 256
                      ) -> dict[str, Any]:
  """`dev_threshold` of output column `column` of a `LoadedModel` on its training
  dataset's `split`, the column's class (or label) being the positive.

  Returns:
    {"threshold", "mcc", "records", "split", "data_dir"}.

  Raises:
    ConfigError: a regression model, or a dataset that is not there any more (pass
      the threshold instead).
  """
  from sklearn import metrics as skm

  from gslm_keras.data.dataset_info import DatasetInfo
  from gslm_keras.evaluation.evaluator import predict_split
  from gslm_keras.run_dir import data_dir_of

  if not model.task.probabilities:
    raise ConfigError(f"{model.path} is a regression model: give the value that makes "
                      "an element (--threshold)")
  data_dir = data_dir_of(model.config)
  if not data_dir or not os.path.isdir(data_dir):
    raise ConfigError(f"the threshold is chosen on the model's {split} split, but its "
                      f"dataset ({data_dir or 'not recorded'}) is not there; pass "
                      "--threshold, or put the dataset back")
  info = DatasetInfo.load(data_dir, splits=[split])
  model.check_dataset(info)
  _, labels, columns, _ = predict_split(model, info, split, batch_size)
  truth = (np.asarray(labels)[:, column] if labels.ndim == 2
           else (np.asarray(labels) == column)).astype(int)
  score = columns[:, column]
  threshold = dev_threshold(truth, score)
  return {"threshold": threshold, "split": split, "records": int(len(truth)),
          "mcc": float(skm.matthews_corrcoef(truth, (score >= threshold).astype(int))),
          "data_dir": os.path.realpath(data_dir)}
