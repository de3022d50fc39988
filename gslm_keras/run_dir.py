"""The model directory a training run leaves: one place that names every file.

```
<model_dir>/
  config.json          resolved training config (what the run was)
  train.flags          flagfile that re-runs it
  dataset_info.json    the manifest of the dataset it was trained on
  model.keras          the selected model (best on dev)
  history.json         per-segment training and dev metrics
  restarts.json        collapses that restarted the run from a new seed, if any
  checkpoints/         backup (resume after a kill), best.keras, monitor state
  logs/                TensorBoard
  metrics/<split>.json, predictions/<split>.tsv, plots/
  MODEL_CARD.md, yardsticks.npz   language models (pretrain)
```
"""

from __future__ import annotations

import dataclasses
import os

CONFIG = "config.json"
FLAGFILE = "train.flags"
MANIFEST = "dataset_info.json"
MODEL = "model.keras"
HISTORY = "history.json"
RESTARTS = "restarts.json"
# Everything a run writes at its top level, removed when a run is replaced.
RUN_ENTRIES = (CONFIG, FLAGFILE, HISTORY, MODEL, MANIFEST, RESTARTS, "checkpoints",
               "logs", "metrics", "plots", "predictions", "MODEL_CARD.md",
               "yardsticks.npz")


@dataclasses.dataclass(frozen=True)
class RunDir:
  """Paths inside one model directory.

  Attributes:
    path: the model directory.
  """

  path: str

  def join(self, *parts: str) -> str:
    return os.path.join(self.path, *parts)

  @property
  def config(self) -> str:
    return self.join(CONFIG)

  @property
  def flagfile(self) -> str:
    return self.join(FLAGFILE)

  @property
  def manifest(self) -> str:
    return self.join(MANIFEST)

  @property
  def model(self) -> str:
    return self.join(MODEL)

  @property
  def history(self) -> str:
    return self.join(HISTORY)

  @property
  def restarts(self) -> str:
    return self.join(RESTARTS)

  @property
  def checkpoints(self) -> str:
    return self.join("checkpoints")

  @property
  def backup(self) -> str:
    """Keras BackupAndRestore state of an unfinished run."""
    return self.join("checkpoints", "backup")

  @property
  def step_checkpoints(self) -> str:
    """Step checkpoints of an unfinished multi-worker run."""
    return self.join("checkpoints", "steps")

  @property
  def best_model(self) -> str:
    return self.join("checkpoints", "best.keras")

  @property
  def monitor_state(self) -> str:
    return self.join("checkpoints", "monitor_state.json")

  @property
  def logs(self) -> str:
    return self.join("logs")

  @property
  def plots(self) -> str:
    return self.join("plots")

  def metrics(self, split: str) -> str:
    return self.join("metrics", f"{split}.json")

  def predictions(self, split: str) -> str:
    return self.join("predictions", f"{split}.tsv")

  def is_run(self) -> bool:
    """Whether this looks like a finished training run."""
    return os.path.exists(self.model) and os.path.exists(self.manifest)


def data_dir_of(config: dict) -> str | None:
  """The dataset a run's config.json names (nested since 0.2, flat before)."""
  return config.get("data", config).get("data_dir")


@dataclasses.dataclass(frozen=True)
class Resolved:
  """What a run settled that its config leaves open: config.json's `resolved`
  record, written by `train`, `pretrain` and multi-worker training alike and read
  back by model cards and loaded models.

  Attributes:
    precision: the dtype policy the run used ("float32", "mixed_float16" ...).
    plan: the step plan (replicas, steps_per_epoch, segment_steps,
      segments_per_epoch, total_steps).
    objective: what the model was trained for: "supervised" or
      "masked_nucleotide".
    seed: the seed the run used (a collapse restart's new one), or None.
    restarts: the collapse restarts, each as the guard recorded it.
    model: the architecture a restart moved to (ModelConfig JSON), or None when it
      is the config's.
    init_from: where the initial weights came from (source, path, sha256, the
      parts copied), or None for a random start.
  """

  precision: str
  plan: dict
  objective: str = "supervised"
  seed: int | None = None
  restarts: tuple = ()
  model: dict | None = None
  init_from: dict | None = None

  def to_json(self) -> dict:
    data = dataclasses.asdict(self)
    data["restarts"] = list(self.restarts)
    return data

  @classmethod
  def from_json(cls, data: dict) -> "Resolved":
    """The record of a config.json; a field this version does not know is an error
    (a newer gslm_keras wrote it)."""
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - known)
    if unknown:
      from gslm_keras.errors import DatasetError

      raise DatasetError(f"config.json 'resolved' has unknown field(s) {unknown}: "
                         "written by a newer gslm_keras; read it with that version")
    return cls(**{**data, "restarts": tuple(data.get("restarts", ()))})

  @classmethod
  def of(cls, config: dict) -> "Resolved | None":
    """The record of a loaded config.json dict, or None when it has none."""
    data = config.get("resolved")
    return cls.from_json(data) if data else None
