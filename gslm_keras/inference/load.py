"""`load(model)`: any gslm_keras model as the loaded object of its task.

A training or pretraining run, an export of one, or a shipped preset's name:
its manifest says the task it was trained for (`inference.manifest`), and the
object that comes back carries it as `.task`: `LoadedModel` for a supervised
task, `LanguageModel` for the masked language model.
"""

from __future__ import annotations

import os

from gslm_keras.inference.language import LanguageModel
from gslm_keras.inference.manifest import objective_of
from gslm_keras.inference.model import LoadedModel
from gslm_keras.tasks.language import MASKED_NUCLEOTIDE


def load(model):
  """The loaded model of `model` (a path or preset name; a loaded model is returned
  as it is): a `LoadedModel` or a `LanguageModel`, with `.task`.

  Raises:
    ConfigError: an unknown preset name.
    DatasetError: not a gslm_keras run or export.
  """
  if not isinstance(model, (str, os.PathLike)):
    return model
  from gslm_keras import presets

  path = presets.resolve(os.fspath(model))
  if objective_of(path) == MASKED_NUCLEOTIDE.objective:
    return LanguageModel(path)
  return LoadedModel(path)

