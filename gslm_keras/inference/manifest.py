"""What a model directory says about itself before it is loaded: its manifest,
and the objective it was trained for (supervised or masked nucleotides).

A verb that does different work per task (evaluate, export, score_variants,
interpret ism) keeps a table keyed by the task's objective and takes its entry
with `for_task`; none asks "is this a language model". `load.load` returns the
loaded object of the task.
"""

from __future__ import annotations

import os

from gslm_keras.data.dataset_info import UNLABELLED
from gslm_keras.errors import ConfigError
from gslm_keras.io.files import read_json
from gslm_keras.run_dir import RunDir
from gslm_keras.tasks.language import MASKED_NUCLEOTIDE
from gslm_keras.tasks.supervised import SUPERVISED

ADVICE = {
    SUPERVISED: "needs a model trained with python -m gslm_keras.train",
    MASKED_NUCLEOTIDE.objective: "needs a nucleotide language model (python -m "
                                 "gslm_keras.pretrain, or a preset)",
}
OFFERS = {
    SUPERVISED: "a classifier gives predictions, metrics, exports, variant effects and "
                "attributions",
    MASKED_NUCLEOTIDE.objective: "language models give zero-shot variant scores "
                                 "(score_variants: llr), LLR maps (interpret ism), bits "
                                 "per base (evaluate --input) and initial weights (train "
                                 "--init_from)",
}


def manifest_path(path: str) -> str | None:
  """The dataset manifest a run or an export keeps, or None."""
  for candidate in (RunDir(path).manifest,
                    os.path.join(path, "assets", "dataset_info.json")):
    if os.path.exists(candidate):
      return candidate
  return None


def objective_of(path: str) -> str | None:
  """"supervised" or "masked_nucleotide" for a model directory or preset name,
  from its manifest, without loading the model; None when it has no readable
  manifest."""
  from gslm_keras import presets

  try:
    path = presets.resolve(path)
  except ConfigError:
    return None
  manifest = manifest_path(path)
  if manifest is None:
    return None
  try:
    task = read_json(manifest).get("task", {}).get("type")
  except (OSError, ValueError):
    return None
  return MASKED_NUCLEOTIDE.objective if task == UNLABELLED else SUPERVISED


def for_task(model: str, table: dict):
  """`table`'s entry for the objective `model` (a path or preset name) was trained
  for, read from its manifest without loading it; a model without a readable
  manifest takes the supervised entry, whose loading says what is missing."""
  return table[objective_of(model) or SUPERVISED]


def describe(objective: str) -> str:
  return ("a nucleotide language model" if objective == MASKED_NUCLEOTIDE.objective
          else "a classifier")


def require(path: str, objective: str, what: str) -> None:
  """One line when the model at `path` was trained for another objective than the
  one `what` (a command or use) needs."""
  found = objective_of(path)
  if found is not None and found != objective:
    raise ConfigError(f"{path} is {describe(found)}, not {describe(objective)}: {what} "
                      f"{ADVICE[objective]}. {OFFERS[found].capitalize()}")
