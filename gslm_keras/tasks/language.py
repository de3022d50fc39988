"""The masked language model's objective as a task, beside the supervised task
types: what a loaded model says it was trained for, so that a verb asks the task
instead of asking "is this a language model"."""

from __future__ import annotations

import dataclasses

OBJECTIVE = "masked_nucleotide"


@dataclasses.dataclass(frozen=True)
class LanguageTask:
  """Predict masked nucleotides of unlabelled windows (python -m gslm_keras.pretrain).

  Attributes:
    name: "masked_nucleotide".
    objective: the same; a supervised task's objective is "supervised".
    probabilities: base probabilities are its outputs.
  """

  name: str = OBJECTIVE
  objective: str = OBJECTIVE
  probabilities: bool = True


MASKED_NUCLEOTIDE = LanguageTask()
