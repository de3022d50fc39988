"""A training run that collapsed to a constant model: detected, said, restarted.

A collapse is a model whose fusion units have all died (every one outputs zero on
every dev example) or whose outputs no longer depend on the input (their spread
over the dev examples is below 1e-4): whatever it is trained on, it predicts one
constant. `CollapseGuard` checks once, after the first epoch; the fit path then
restarts the run from a new seed, at most twice, and records each restart in the
run's `restarts.json` and `config.json`.
"""

from __future__ import annotations

import keras
import numpy as np

from gslm_keras.models.backbone import BACKBONE_NAME
from gslm_keras.models.builder import HEAD_NAME

SPREAD = 1e-4
MAX_RESTARTS = 2
RESTART_SEED_STEP = 1000


def fusion_probe(model: keras.Model):
  """f(inputs) -> (fusion activations [B, units], outputs [B, K]) of a gslm_keras
  model (the forward strand, for an rc-average one)."""
  layers = {layer.name: layer for layer in model.layers}
  head, backbone = layers[HEAD_NAME], layers.get(BACKBONE_NAME)
  names = [layer.name for layer in head.layers]
  last = next((n for n in ("fusion_relu", "fusion_gelu") if n in names), "fusion_dense")
  inner = keras.Model(head.input, [head.get_layer(last).output, head.output])

  def probe(inputs):
    head_inputs = {"features": inputs["features"]}
    if backbone is not None:
      head_inputs["positions"] = backbone(inputs["sequence"], training=False)
    activations, outputs = inner(head_inputs, training=False)
    return np.asarray(activations), np.asarray(outputs)

  return probe


def diagnose(model: keras.Model, batches) -> dict:
  """Dead fusion units and output spread over `batches` of model inputs."""
  probe = fusion_probe(model)
  fired, outputs = None, []
  for inputs in batches:
    activations, out = probe(inputs)
    active = (activations > 0).any(axis=0)
    fired = active if fired is None else fired | active
    outputs.append(out)
  outputs = np.concatenate(outputs)
  spread = float((outputs.max(axis=0) - outputs.min(axis=0)).max())
  dead = int((~fired).sum())
  return {"dead_fusion_units": dead, "fusion_units": int(fired.size),
          "output_spread": spread,
          "collapsed": bool(dead == fired.size or spread < SPREAD)}


class CollapseGuard(keras.callbacks.Callback):
  """After `check_segment` segments, stops a run that collapsed (see `diagnose`).

  Args:
    check_segment: the segment (0-based Keras epoch) after which to check.
    batches: a few batches of dev (or train) inputs, a list of input dicts.
  """

  def __init__(self, check_segment: int, batches):
    super().__init__()
    self.check_segment = check_segment
    self.batches = batches
    self.diagnosis: dict | None = None

  def on_epoch_end(self, epoch, logs=None):
    if epoch != self.check_segment:
      return
    self.diagnosis = diagnose(self.model, self.batches)
    self.diagnosis["segment"] = epoch
    if self.diagnosis["collapsed"]:
      self.model.stop_training = True

  @property
  def collapsed(self) -> bool:
    return bool(self.diagnosis and self.diagnosis["collapsed"])
