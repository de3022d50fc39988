"""Training configuration: frozen, validated dataclasses, nested by concern.

`TrainConfig` holds four parts that identify a run (a killed run resumes only
with the same `data`, `model`, `optim` and `runtime`), and top-level fields that
only say where the run lives and what it reports (changing them never changes
the weights).
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any, ClassVar

from gslm_keras.errors import ConfigError
from gslm_keras.models.config import HEAD_FIELDS, PRESETS, ModelConfig, preset
from gslm_keras.training.defaults import RECIPE

OPTIMIZERS = ("adam", "adamw", "sgd")
LR_SCHEDULES = ("constant", "cosine", "exponential")
STRATEGIES = ("default", "mirrored", "multi_worker", "tpu")
PRECISIONS = ("auto", "float32", "mixed_float16", "mixed_bfloat16")


def _choice(name: str, value: Any, allowed: tuple) -> None:
  if value not in allowed:
    raise ConfigError(f"{name}={value!r}: expected one of {', '.join(allowed)}")


@dataclasses.dataclass(frozen=True)
class DataConfig:
  """What the model is fed.

  Attributes:
    data_dir: dataset directory (built by build_dataset).
    batch_size: global batch size (split across replicas).
    reverse_complement: augment training with random reverse complements.
    max_shift: augment training with random shifts up to this many bases.
  """

  data_dir: str = ""
  batch_size: int = 64
  reverse_complement: bool = False
  max_shift: int = 0

  def __post_init__(self):
    if not self.data_dir:
      raise ConfigError("data_dir is required")
    if self.batch_size < 1:
      raise ConfigError(f"batch_size={self.batch_size}: expected >= 1")
    if self.max_shift < 0:
      raise ConfigError(f"max_shift={self.max_shift}: expected >= 0")


@dataclasses.dataclass(frozen=True)
class OptimConfig:
  """How the weights are fitted and the model selected.

  Attributes:
    epochs: passes over the training split.
    steps_per_epoch: optimizer steps per epoch; ceil(train records / batch) when
      None.
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
    init_from: start the sequence backbone from the weights of a language model
      or a trained model (a directory or a preset name), loaded by layer name.
    freeze_trunk_steps: with init_from, keep the sequence backbone's weights fixed
      for this many optimizer steps (the new parts learn first).
    trunk_learning_rate_multiplier: with init_from, the backbone learns at this
      times the learning rate after the freeze (see trunk_rate.py).
    aux_weight: in training, an output layer over each branch of a dual-input
      model (its pooled positions, its feature block), each trained on the labels
      with this times the main loss (training/aux_heads.py; 0: none). The saved
      model has one output either way; nothing with one branch.
    isolate_branches: with aux_weight, each branch learns from its own head only
      and the fusion (and the wide path) from the main output only: the main
      loss's gradient stops where the branches enter the fusion (uni-modal
      learning; benchmarks/results/aux_isolated.md).
  """

  CHOICES: ClassVar[dict[str, tuple[str, ...]]] = {"optimizer": OPTIMIZERS,
                                                   "lr_schedule": LR_SCHEDULES}

  epochs: int = RECIPE["epochs"]
  steps_per_epoch: int | None = None
  optimizer: str = RECIPE["optimizer"]
  learning_rate: float = RECIPE["learning_rate"]
  lr_schedule: str = RECIPE["lr_schedule"]
  warmup_steps: int = RECIPE["warmup_steps"]
  weight_decay: float = RECIPE["weight_decay"]
  clipnorm: float = RECIPE["clipnorm"]
  early_stopping_patience: int = RECIPE["early_stopping_patience"]
  monitor: str = "auto"
  class_weights: str = "none"
  init_from: str | None = None
  freeze_trunk_steps: int = 0
  trunk_learning_rate_multiplier: float = 1.0
  aux_weight: float = 0.0
  isolate_branches: bool = False

  def __post_init__(self):
    if self.epochs < 1:
      raise ConfigError(f"epochs={self.epochs}: expected >= 1")
    if self.steps_per_epoch is not None and self.steps_per_epoch < 1:
      raise ConfigError(f"steps_per_epoch={self.steps_per_epoch}: expected >= 1")
    if self.learning_rate <= 0:
      raise ConfigError(f"learning_rate={self.learning_rate}: expected > 0")
    _choice("optimizer", self.optimizer, OPTIMIZERS)
    _choice("lr_schedule", self.lr_schedule, LR_SCHEDULES)
    if min(self.warmup_steps, self.weight_decay, self.clipnorm) < 0:
      raise ConfigError("warmup_steps, weight_decay and clipnorm must be >= 0")
    if self.early_stopping_patience < 0:
      raise ConfigError(
          f"early_stopping_patience={self.early_stopping_patience}: expected >= 0")
    if self.freeze_trunk_steps < 0 or self.trunk_learning_rate_multiplier < 0:
      raise ConfigError("freeze_trunk_steps and trunk_learning_rate_multiplier must be "
                        ">= 0")
    if (self.freeze_trunk_steps or self.trunk_learning_rate_multiplier != 1.0
        ) and not self.init_from:
      raise ConfigError("freeze_trunk_steps and trunk_learning_rate_multiplier tune "
                        "fine-tuning; they need init_from (a trunk to start from)")
    if self.aux_weight < 0:
      raise ConfigError(f"aux_weight={self.aux_weight}: expected >= 0 (0: no "
                        "auxiliary heads)")
    if self.isolate_branches and not self.aux_weight:
      raise ConfigError("isolate_branches trains each branch by its own head: give "
                        "--aux_weight > 0 too (with 0 nothing would train the branches)")
    if self.class_weights not in ("none", "balanced"):
      try:
        weights = [float(w) for w in self.class_weights.split(",")]
      except ValueError:
        raise ConfigError(f"class_weights={self.class_weights!r}: expected none, "
                          "balanced or comma-separated numbers") from None
      if any(w <= 0 for w in weights):
        raise ConfigError(f"class_weights={self.class_weights!r}: weights must be > 0")


@dataclasses.dataclass(frozen=True)
class RuntimeConfig:
  """Where and how the steps run, and what makes them reproducible.

  Attributes:
    seed: seed of weights, shuffling and augmentation.
    deterministic: also make TensorFlow ops deterministic (slower): two runs with
      the same seed give identical metrics.
    checkpoint_every: steps between backups that a killed run resumes from; one
      epoch when None.
    distribution_strategy: "default", "mirrored", "multi_worker" or "tpu".
    mixed_precision: "auto" (float16 on GPU, bfloat16 on TPU, float32 on CPU),
      "float32", "mixed_float16" or "mixed_bfloat16".
    tpu: TPU address for the tpu strategy ("" or "local" on a TPU VM).
  """

  CHOICES: ClassVar[dict[str, tuple[str, ...]]] = {
      "distribution_strategy": STRATEGIES, "mixed_precision": PRECISIONS}

  seed: int = 0
  deterministic: bool = False
  checkpoint_every: int | None = None
  distribution_strategy: str = "default"
  mixed_precision: str = "auto"
  tpu: str | None = None

  def __post_init__(self):
    if self.checkpoint_every is not None and self.checkpoint_every < 1:
      raise ConfigError(f"checkpoint_every={self.checkpoint_every}: expected >= 1")
    _choice("distribution_strategy", self.distribution_strategy, STRATEGIES)
    _choice("mixed_precision", self.mixed_precision, PRECISIONS)


def model_from_preset(top: dict[str, Any]) -> ModelConfig:
  """The architecture a run's model flags start from: its `model_preset`."""
  return preset(top.get("model_preset", "default"))


PARTS = {"data": DataConfig, "model": ModelConfig, "optim": OptimConfig,
         "runtime": RuntimeConfig}


@dataclasses.dataclass(frozen=True)
class TrainConfig:
  """Everything `train` needs.

  Attributes:
    data, model, optim, runtime: the parts that identify the run.
    model_dir: where checkpoints, logs, the model, metrics and plots go.
    model_preset: name of the preset the architecture started from.
    dataset_flagfile: build flagfile the entry point uses to create the dataset
      when data_dir holds none yet (the quickstart); recorded, not used here.
    evaluate_splits: splits evaluated with the final model.
    overwrite: replace a finished run in model_dir (a run with a backup always
      resumes instead).
    verbose: Keras fit verbosity (0, 1 or 2).
  """

  # The parts of this kind of run, and the program its flagfile re-runs.
  PARTS: ClassVar[dict] = PARTS
  PROGRAM: ClassVar[str] = "gslm_keras.train"
  CHOICES: ClassVar[dict[str, tuple[str, ...]]] = {"model_preset": tuple(PRESETS)}
  # Fields of the parts this kind of run does not use (part -> names): its command
  # refuses their flags and its flagfile leaves them out.
  UNUSED: ClassVar[dict[str, tuple[str, ...]]] = {}

  data: DataConfig
  model_dir: str
  model: ModelConfig = ModelConfig()
  optim: OptimConfig = OptimConfig()
  runtime: RuntimeConfig = RuntimeConfig()
  model_preset: str = "default"
  dataset_flagfile: str | None = None
  evaluate_splits: tuple[str, ...] = ("dev", "test")
  overwrite: bool = False
  verbose: int = 2

  def __post_init__(self):
    if not self.model_dir:
      raise ConfigError("model_dir is required")
    if isinstance(self.evaluate_splits, str):  # One split named, not its letters.
      object.__setattr__(self, "evaluate_splits", (self.evaluate_splits,))
    self._reset_unused()

  def _reset_unused(self):
    """The fields this kind of run does not use (`UNUSED`) set back to their field
    defaults, so that no code can read one: a language model pretrained from the
    preset `default` holds none of its head's settings (`recalibrate_norms` among
    them), whatever the preset or the caller gave it."""
    for part, names in self.UNUSED.items():
      value = getattr(self, part)
      reset = {f.name: f.default for f in dataclasses.fields(value)
               if f.name in names and f.default is not dataclasses.MISSING
               and getattr(value, f.name) != f.default}
      if reset:
        object.__setattr__(self, part, dataclasses.replace(value, **reset))

  @classmethod
  def create(cls, **fields) -> "TrainConfig":
    """A config from flat field names (as on the command line), each routed to its
    part: `TrainConfig.create(data_dir=..., model_dir=..., epochs=2, seed=1)`."""
    parts: dict[str, dict[str, Any]] = {part: {} for part in cls.PARTS}
    owner = {f.name: part for part, kind in cls.PARTS.items()
             for f in dataclasses.fields(kind)}
    top = {}
    for key, value in fields.items():
      if key in cls.PARTS:
        top[key] = value
      elif key in owner:
        parts[owner[key]][key] = value
      else:
        top[key] = value
    for part, kind in cls.PARTS.items():
      if part not in top:
        top[part] = kind(**parts[part])
      elif parts[part]:
        top[part] = dataclasses.replace(top[part], **parts[part])
    return cls(**top)

  def replace(self, **changes) -> "TrainConfig":
    """A copy with top-level fields or parts replaced; `part__field=value` changes
    one field of a part (e.g. `optim__epochs=2`)."""
    nested: dict[str, dict[str, Any]] = {}
    top = {}
    for key, value in changes.items():
      part, sep, field = key.partition("__")
      if sep:
        nested.setdefault(part, {})[field] = value
      else:
        top[key] = value
    for part, fields in nested.items():
      top[part] = dataclasses.replace(top.get(part, getattr(self, part)), **fields)
    return dataclasses.replace(self, **top)

  def identity(self) -> dict[str, Any]:
    """The parts a resumed run must share with the run it resumes (JSON values)."""
    data = self.to_json()
    return {part: data[part] for part in self.PARTS}

  def to_json(self) -> dict[str, Any]:
    """JSON values (tuples become lists, as in the file), without the fields this
    kind of run does not use (`UNUSED`: a language model has no head)."""
    data = json.loads(json.dumps(dataclasses.asdict(self)))
    for part, names in self.UNUSED.items():
      for name in names:
        data[part].pop(name, None)
    return data

  @classmethod
  def from_json(cls, data: dict[str, Any]) -> "TrainConfig":
    data = dict(data)
    data.pop("resolved", None)
    data["model"] = ModelConfig.from_json(data["model"])
    for part, kind in cls.PARTS.items():
      if part != "model" and part in data:
        data[part] = kind(**data[part])
    data["evaluate_splits"] = tuple(data.get("evaluate_splits", ()))
    return cls(**data)

  @classmethod
  def load(cls, path: str) -> "TrainConfig":
    with open(path, encoding="utf-8") as handle:
      return cls.from_json(json.load(handle))


@dataclasses.dataclass(frozen=True)
class LmConfig:
  """The masked-nucleotide objective and the language model's head.

  Attributes:
    mask_rate: share of bases chosen per window.
    mask_span: bases per chosen span.
    mask_share: share of the chosen bases set to N.
    random_share: share of the chosen bases set to a random base (the rest of
      them are kept).
    repeat_weight: loss weight of soft-masked (repeat) bases.
    head_units: width of the nucleotide head (see `build_language_model`).
    local_width: kernel of the head's convolution over the input.
    eval_seed: seed of the dev and test masks.
  """

  mask_rate: float = 0.15
  mask_span: int = 1
  mask_share: float = 0.8
  random_share: float = 0.1
  repeat_weight: float = 0.1
  head_units: int = 64
  local_width: int = 5
  eval_seed: int = 1234

  def __post_init__(self):
    if not 0 < self.mask_rate < 1:
      raise ConfigError(f"mask_rate={self.mask_rate}: expected 0 < rate < 1")
    if self.mask_span < 1 or self.head_units < 1 or self.local_width < 1:
      raise ConfigError("mask_span, head_units and local_width must be >= 1")
    if not 0 <= self.repeat_weight <= 1:
      raise ConfigError(f"repeat_weight={self.repeat_weight}: expected 0 to 1")

  def masker(self):
    from gslm_keras.encoding.masking import NucleotideMasker

    return NucleotideMasker(self.mask_rate, self.mask_span, self.mask_share,
                            self.random_share)


@dataclasses.dataclass(frozen=True)
class PretrainConfig(TrainConfig):
  """A `TrainConfig` with the objective (`lm`) as a fifth part of its identity.

  Attributes:
    lm: the objective and the head.
    yardstick_windows: training windows the yardsticks are counted on, the first
      of the train split (0: all of it). Measurement only: not part of the run's
      identity.
  """

  PARTS = {**PARTS, "lm": LmConfig}
  PROGRAM = "gslm_keras.pretrain"
  # A language model has no supervised head or feature branch, no labels (class
  # weights, a dev metric other than its loss) and no later fine-tuning freeze.
  UNUSED = {"model": HEAD_FIELDS, "data": ("max_shift",),
            "optim": ("monitor", "class_weights", "freeze_trunk_steps",
                      "trunk_learning_rate_multiplier", "aux_weight",
                      "isolate_branches")}

  lm: LmConfig = LmConfig()
  yardstick_windows: int = 0
