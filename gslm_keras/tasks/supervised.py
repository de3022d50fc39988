"""The four supervised task types as one table: what differs between them is a
row here, not a branch in every module.

Each row says the output activation and width, the loss (one definition, with
the reduction a caller asks for: Keras `fit` averages over the batch, a custom
loop over the global batch), the metrics `fit` tracks, the dev metric that
selects a model by default, and the kinds of output (classes, probabilities)
that decide what evaluation, prediction, variant scoring and attribution do.
Keras loads only when a loss or metric is asked for.
"""

from __future__ import annotations

import dataclasses
from typing import ClassVar

from gslm_keras.errors import ConfigError

SUPERVISED = "supervised"


@dataclasses.dataclass(frozen=True)
class TaskType:
  """One supervised task type.

  Attributes:
    name: "binary", "multiclass", "multilabel" or "regression".
    objective: "supervised" (a language model's task says "masked_nucleotide").
    activation: of the output layer: sigmoid (an independent probability per
      output), softmax (one distribution over the classes) or linear (values).
    monitor: the dev metric that selects a model when `--monitor=auto`.
    classes: exclusive classes are predicted (binary, multiclass): class weights,
      a confusion matrix, a predicted class per row.
    probabilities: the outputs are probabilities (all but regression): their logs
      and log odds are meaningful (variant scores, attribution targets).
  """

  name: str
  activation: str
  monitor: str
  classes: bool
  probabilities: bool
  objective: ClassVar[str] = SUPERVISED

  @property
  def independent(self) -> bool:
    """Each output is its own Bernoulli probability (binary, multilabel)."""
    return self.activation == "sigmoid"

  def output_width(self, n_classes: int, n_targets: int = 1) -> int:
    """Units of the head: 1 for binary, the classes for (multi)class or labels, the
    targets for regression."""
    if self.name == "binary":
      return 1
    return n_classes if self.probabilities else n_targets

  def loss(self, reduction: str | None = "sum_over_batch_size"):
    """The loss; `reduction=None` gives one value per example (custom loops)."""
    import keras

    kinds = {"sigmoid": keras.losses.BinaryCrossentropy,
             "softmax": keras.losses.SparseCategoricalCrossentropy,
             "linear": keras.losses.MeanSquaredError}
    return kinds[self.activation](reduction=reduction)

  def metrics(self, n_outputs: int) -> list:
    """What `fit` tracks; the names are stable (accuracy, auroc, auprc, mae)."""
    import keras

    if self.name == "binary":
      return [keras.metrics.BinaryAccuracy(name="accuracy"),
              keras.metrics.AUC(name="auroc"), keras.metrics.AUC(curve="PR", name="auprc")]
    if self.name == "multiclass":
      return [keras.metrics.SparseCategoricalAccuracy(name="accuracy")]
    if self.name == "multilabel":
      return [keras.metrics.BinaryAccuracy(name="accuracy"),
              keras.metrics.AUC(multi_label=True, num_labels=n_outputs, name="auroc")]
    return [keras.metrics.MeanAbsoluteError(name="mae")]


TASK_TYPES = {t.name: t for t in (
    TaskType("binary", "sigmoid", "val_auroc", classes=True, probabilities=True),
    TaskType("multiclass", "softmax", "val_accuracy", classes=True, probabilities=True),
    TaskType("multilabel", "sigmoid", "val_auroc", classes=False, probabilities=True),
    TaskType("regression", "linear", "val_loss", classes=False, probabilities=False),
)}
TASKS = tuple(TASK_TYPES)


def task_type(name: str) -> TaskType:
  """The row of a task type; ConfigError for an unknown name."""
  if name not in TASK_TYPES:
    raise ConfigError(f"task {name!r}: expected one of {', '.join(TASKS)}")
  return TASK_TYPES[name]
