"""Training configuration: a frozen, validated dataclass."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from gslm_keras.errors import ConfigError
from gslm_keras.models.config import ModelConfig

OPTIMIZERS = ("adam", "adamw", "sgd")
LR_SCHEDULES = ("constant", "cosine", "exponential")
STRATEGIES = ("default", "mirrored", "multi_worker", "tpu")
PRECISIONS = ("auto", "float32", "mixed_float16", "mixed_bfloat16")


@dataclasses.dataclass(frozen=True)
class TrainConfig:
  """Everything `train` needs.

  Attributes:
    data_dir: dataset directory (built by build_dataset).
    model_dir: where checkpoints, logs, the model, metrics and plots go.
    model: architecture.
    model_preset: name of the preset the architecture started from.
    dataset_flagfile: build flagfile used to create `data_dir` when it holds no
      dataset yet (the quickstart); None to require a built dataset.
    batch_size: global batch size (split across replicas).
    epochs: passes over the training split.
    steps_per_epoch: optimizer steps per epoch; ceil(train records / batch) when
      None.
    checkpoint_every: steps between backups that a killed run resumes from; one
      epoch when None.
    optimizer: "adam", "adamw" or "sgd" (momentum 0.9).
    learning_rate: peak learning rate.
    lr_schedule: "constant", "cosine" (to 0 over training) or "exponential"
      (halved every epoch).
    warmup_steps: linear warm-up steps (cosine schedule).
    weight_decay: decoupled weight decay (adamw).
    clipnorm: clip each gradient to this norm (0: no clipping). Guards against a
      first large update killing every ReLU of a layer (a collapse to a constant
      output, seen once in three seeds on GUE mouse/0 without it).
    early_stopping_patience: epochs without dev improvement before stopping (0:
      never stop early). The best dev model is kept either way.
    monitor: dev metric for model selection, e.g. "val_auroc"; "auto" picks
      val_auroc (binary, multilabel), val_accuracy (multiclass), val_loss
      (regression).
    class_weights: "none", "balanced" (inverse train frequency) or one weight per
      class, comma-separated.
    reverse_complement: augment training with random reverse complements.
    max_shift: augment training with random shifts up to this many bases.
    seed: seed of weights, shuffling and augmentation.
    deterministic: also make TensorFlow ops deterministic (slower): two runs with
      the same seed give identical metrics.
    distribution_strategy: "default", "mirrored", "multi_worker" or "tpu".
    mixed_precision: "auto" (float16 on GPU, bfloat16 on TPU, float32 on CPU),
      "float32", "mixed_float16" or "mixed_bfloat16".
    tpu: TPU address for the tpu strategy ("" or "local" on a TPU VM).
    evaluate_splits: splits evaluated with the final model.
    overwrite: replace a finished run in model_dir (a run with a backup always
      resumes instead).
    verbose: Keras fit verbosity (0, 1 or 2).
  """

  data_dir: str
  model_dir: str
  model: ModelConfig = ModelConfig()
  model_preset: str = "default"
  dataset_flagfile: str | None = None
  batch_size: int = 64
  epochs: int = 10
  steps_per_epoch: int | None = None
  checkpoint_every: int | None = None
  optimizer: str = "adam"
  learning_rate: float = 1e-3
  lr_schedule: str = "constant"
  warmup_steps: int = 0
  weight_decay: float = 0.0
  clipnorm: float = 1.0
  early_stopping_patience: int = 0
  monitor: str = "auto"
  class_weights: str = "none"
  reverse_complement: bool = False
  max_shift: int = 0
  seed: int = 0
  deterministic: bool = False
  distribution_strategy: str = "default"
  mixed_precision: str = "auto"
  tpu: str | None = None
  evaluate_splits: tuple[str, ...] = ("dev", "test")
  overwrite: bool = False
  verbose: int = 2

  def __post_init__(self):
    for name in ("batch_size", "epochs"):
      if getattr(self, name) < 1:
        raise ConfigError(f"{name}={getattr(self, name)}: expected >= 1")
    for name in ("steps_per_epoch", "checkpoint_every"):
      value = getattr(self, name)
      if value is not None and value < 1:
        raise ConfigError(f"{name}={value}: expected >= 1")
    if self.learning_rate <= 0:
      raise ConfigError(f"learning_rate={self.learning_rate}: expected > 0")
    choices = (("optimizer", OPTIMIZERS), ("lr_schedule", LR_SCHEDULES),
               ("distribution_strategy", STRATEGIES), ("mixed_precision", PRECISIONS))
    for name, allowed in choices:
      if getattr(self, name) not in allowed:
        raise ConfigError(f"{name}={getattr(self, name)!r}: expected one of "
                          f"{', '.join(allowed)}")
    if min(self.max_shift, self.warmup_steps, self.weight_decay, self.clipnorm) < 0:
      raise ConfigError("max_shift, warmup_steps, weight_decay and clipnorm must be >= 0")
    if self.early_stopping_patience < 0:
      raise ConfigError(
          f"early_stopping_patience={self.early_stopping_patience}: expected >= 0")
    if self.class_weights not in ("none", "balanced"):
      try:
        weights = [float(w) for w in self.class_weights.split(",")]
      except ValueError:
        raise ConfigError(f"class_weights={self.class_weights!r}: expected none, "
                          "balanced or comma-separated numbers") from None
      if any(w <= 0 for w in weights):
        raise ConfigError(f"class_weights={self.class_weights!r}: weights must be > 0")
    if not self.data_dir:
      raise ConfigError("data_dir is required")
    if not self.model_dir:
      raise ConfigError("model_dir is required")

  def replace(self, **changes) -> "TrainConfig":
    return dataclasses.replace(self, **changes)

  def to_json(self) -> dict[str, Any]:
    data = dataclasses.asdict(self)
    data["model"] = self.model.to_json()
    return data

  @classmethod
  def from_json(cls, data: dict[str, Any]) -> "TrainConfig":
    data = dict(data)
    data["model"] = ModelConfig.from_json(data["model"])
    data["evaluate_splits"] = tuple(data.get("evaluate_splits", ()))
    return cls(**data)

  def save(self, path: str) -> None:
    from gslm_keras.data.manifest import write_json_atomic

    write_json_atomic(path, self.to_json())

  @classmethod
  def load(cls, path: str) -> "TrainConfig":
    with open(path, encoding="utf-8") as handle:
      return cls.from_json(json.load(handle))
