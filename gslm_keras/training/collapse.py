"""A training run that collapsed to a constant model: detected, said, restarted.

A collapse, checked once after the first epoch on up to 512 dev examples, is
either of:
- outputs that no longer depend on the input (spread below 1e-4), or every fusion
  unit dead (a ReLU or GELU unit never positive on any example; a tanh or gated
  unit constant): the model predicts one constant;
- at least 90% of the fusion units dead and the dev metric at chance (AUROC within
  0.05 of 0.5; multi-class accuracy no better than the largest class; regression
  |Pearson r| below 0.05). Seen on GUE mouse/0, sequence only: 95 of 96 units dead,
  dev AUROC 0.50 after the first epoch, and never better.
The fit path and the multi-worker loop then restart the run from a new seed with `branch_norm` on (each
branch layer-normalised before the fusion layer, which removes the cause: see
`ModelConfig.branch_norm`), at most twice, and records each restart in the run's
`restarts.json` and `config.json` (`resolved.model` is the architecture trained).
A run that collapses a third time is kept, with a warning.

Why not `branch_norm` from the start: on GUE mouse/0 (benchmarks/results/fusion.md)
the default fusion layer, whose units mostly die, selects better on dev (AUROC
0.847 against 0.822, 3 seeds); the dying acts as a capacity limit. But the same
default collapsed in 2 of 3 sequence-only runs, which `branch_norm` never did.
"""

from __future__ import annotations

import keras
import numpy as np
from absl import logging

from gslm_keras.models.backbone import BACKBONE_NAME
from gslm_keras.models.builder import HEAD_NAME
from gslm_keras.training import recipe

SPREAD = 1e-4
DEAD_FRACTION = 0.9
CHANCE_MARGIN = 0.05
# How `diagnose` counts a dead unit, recorded beside the count in results (runs
# without it were counted before 2026-12-07, when a GELU unit was dead only if its
# output never changed).
DEAD_RULE = "never positive (ReLU, GELU); never changes (tanh, gated)"
MAX_RESTARTS = 2
RESTART_SEED_STEP = 1000


def after_restarts(model, restarts: list[dict]):
  """The architecture an attempt trains: the configured one, or after a collapse
  the same with `branch_norm`."""
  return model.replace(branch_norm=True) if restarts else model


def resolved(configured, seed: int, restarts: list[dict], architecture) -> dict:
  """What an attempt resolved, for config.json (`run_dir.Resolved`): its seed, the
  restarts before it, and the architecture when a restart changed it."""
  out = {"seed": seed, "restarts": restarts}
  if architecture != configured:
    out["model"] = architecture.to_json()
  return out


def probe_batches(data_dir: str, info) -> list:
  """The batches the diagnosis reads: 512 dev examples (train without a dev split)."""
  from gslm_keras.data.pipeline import make_dataset

  split = "dev" if "dev" in info.splits else "train"
  return list(make_dataset(data_dir, split, batch_size=128, limit=512))


def attempt_seed(runtime, restarts: list[dict]) -> int:
  """The seed of the attempt after `restarts` (the configured one at first); after
  a restart the global seeds are set to it."""
  seed = runtime.seed + RESTART_SEED_STEP * len(restarts)
  if restarts:
    recipe.set_seeds(seed, runtime.deterministic)
  return seed


def record_restart(restarts: list[dict], seed: int, diagnosis: dict) -> None:
  """Adds the collapsed attempt to `restarts` and says so."""
  restarts.append({"seed": seed, "reason": restart_reason(diagnosis), **diagnosis})
  logging.warning("The run collapsed after epoch 1 (%s); restarting from seed %d with "
                  "the branches layer-normalised before the fusion layer (restart %d of "
                  "at most %d)", restart_reason(diagnosis), seed + RESTART_SEED_STEP,
                  len(restarts), MAX_RESTARTS)


def restart_reason(diagnosis: dict) -> str:
  if diagnosis.get("dead_fusion_units") is None:
    # A worker that is not the chief: it knows the verdict, not the numbers.
    return "the chief worker's diagnosis; its numbers are in the chief's run"
  dead = (f"{diagnosis['dead_fusion_units']} of {diagnosis['fusion_units']} fusion units "
          "dead")
  if diagnosis["output_spread"] < SPREAD:
    return f"the outputs do not vary (spread {diagnosis['output_spread']:.1e}); {dead}"
  return dead + (", dev metric at chance" if diagnosis["dev_at_chance"] else "")


def fusion_probe(model: keras.Model):
  """f(inputs) -> (fusion activations [B, units], outputs [B, K]) of a gslm_keras
  model (the forward strand, for an rc-average one)."""
  layers = {layer.name: layer for layer in model.layers}
  head, backbone = layers[HEAD_NAME], layers.get(BACKBONE_NAME)
  names = [layer.name for layer in head.layers]
  last = next((n for n in ("fusion_relu", "fusion_gelu", "fusion_gated") if n in names),
              "fusion_dense")
  inner = keras.Model(head.input, [head.get_layer(last).output, head.output])

  def probe(inputs):
    head_inputs = {"features": inputs["features"]}
    if backbone is not None:
      head_inputs["positions"] = backbone(inputs["sequence"], training=False)
    activations, outputs = inner(head_inputs, training=False)
    return np.asarray(activations), np.asarray(outputs)

  # A ReLU or GELU unit is dead when it is never positive on the examples: a ReLU
  # unit is then 0 everywhere and passes no gradient; a GELU unit stays inside its
  # negative dip, whose whole range is 0.17 (and below -3 within 0.004 of zero, with
  # a slope under 0.012), where a live unit spans tens. A tanh or gated unit, with
  # no such side, is dead when its output never changes. (Until 2026-12-07 a GELU
  # unit counted as dead only when its output never changed by 1e-6: on GUE tf/0
  # that rule found 10 of the default's 96 units dead, where 79 were never positive
  # and 54 never above -3.)
  activation = getattr(head.get_layer(last), "activation", None)
  probe.one_sided = last in ("fusion_relu", "fusion_gelu") or activation in (
      keras.activations.relu, keras.activations.gelu)
  return probe


def at_chance(task: str, labels: np.ndarray, outputs: np.ndarray) -> bool:
  """Whether the outputs carry no information about the labels."""
  from scipy import stats
  from sklearn import metrics as skm

  labels = np.asarray(labels)
  if task == "multiclass":
    largest = np.bincount(labels.astype(int), minlength=outputs.shape[1]).max()
    return (outputs.argmax(axis=1) == labels).mean() <= largest / len(labels) + 1e-9
  if task == "regression":
    columns = [stats.pearsonr(labels[:, k], outputs[:, k])[0]
               for k in range(outputs.shape[1]) if np.std(outputs[:, k]) > 0]
    return not columns or max(abs(np.nan_to_num(r)) for r in columns) < CHANCE_MARGIN
  labels = labels.reshape(len(labels), -1)
  aurocs = [skm.roc_auc_score(labels[:, k], outputs[:, k])
            for k in range(outputs.shape[1]) if len(np.unique(labels[:, k])) == 2]
  return not aurocs or max(abs(a - 0.5) for a in aurocs) < CHANCE_MARGIN


def diagnose(model: keras.Model, batches, task: str) -> dict:
  """Dead fusion units, output spread and chance on `batches` of (inputs, labels)."""
  probe = fusion_probe(model)
  fired, first, outputs, labels = None, None, [], []
  for inputs, label in batches:
    activations, out = probe(inputs)
    if probe.one_sided:
      active = (activations > 0).any(axis=0)
    else:
      first = activations[0] if first is None else first
      active = (np.abs(activations - first) > 1e-6).any(axis=0)
    fired = active if fired is None else fired | active
    outputs.append(out)
    labels.append(np.asarray(label))
  outputs, labels = np.concatenate(outputs), np.concatenate(labels)
  spread = float((outputs.max(axis=0) - outputs.min(axis=0)).max())
  dead = int((~fired).sum())
  chance = bool(at_chance(task, labels, outputs))
  collapsed = (spread < SPREAD or dead == fired.size
               or (dead >= DEAD_FRACTION * fired.size and chance))
  return {"dead_fusion_units": dead, "fusion_units": int(fired.size),
          "dead_rule": DEAD_RULE, "output_spread": spread, "dev_at_chance": chance,
          "collapsed": bool(collapsed)}


class CollapseGuard(keras.callbacks.Callback):
  """After `check_segment` segments, stops a run that collapsed (see `diagnose`).

  Args:
    check_segment: the segment (0-based Keras epoch) after which to check.
    batches: a few (inputs, labels) batches of dev (or train).
    task: the dataset's task type.
    target: the model diagnosed, when it is not the one trained (the model inside
      a training model with auxiliary heads); the trained one when None.
  """

  def __init__(self, check_segment: int, batches, task: str, target=None):
    super().__init__()
    self.check_segment = check_segment
    self.batches = batches
    self.task = task
    self.target = target
    self.diagnosis: dict | None = None

  def on_epoch_end(self, epoch, logs=None):
    if epoch != self.check_segment:
      return
    self.diagnosis = diagnose(self.model if self.target is None else self.target,
                              self.batches, self.task)
    self.diagnosis["segment"] = epoch
    if self.diagnosis["collapsed"]:
      self.model.stop_training = True

  @property
  def collapsed(self) -> bool:
    return bool(self.diagnosis and self.diagnosis["collapsed"])
