"""Per-branch auxiliary heads (`--aux_weight`): a loss of its own for each branch.

A dual-input network learns the easier modality first and under-trains the other
(Wang et al. 2020, "What makes training multi-modal classification networks
hard?"; their remedy, gradient blending, gives each modality a head and a loss of
its own). Here, in training only, an output layer of the task's kind is put over
each branch of a model with both: one over the sequence branch's pooled positions,
one over the feature branch's last block. The training loss is the main output's
loss plus `aux_weight` times each head's loss (same labels, same class weights).
Every weight of the model is shared with the training model, whose first output
is the model's own; the heads are dropped when the model is saved, so a trained
model has one output, as without them. Measured on GUE dev before it was built in:
benchmarks/results/aux_heads.md.
"""

from __future__ import annotations

import keras

from gslm_keras.models.builder import HEAD_NAME, branch_outputs
from gslm_keras.tasks.supervised import task_type

HEADS = ("sequence", "features")


class AuxTrainer(keras.Model):
  """The training model: outputs [B, 3K], the model's K outputs, then the sequence
  head's and the feature head's. Its loss is the main loss plus `aux_weight` times
  each head's in training, the main loss alone in evaluation (so that `val_loss`
  is the saved model's); its metrics are the main output's (the same names as
  without heads). Build it with `training_model`."""

  def __init__(self, inputs, outputs, task: str, n_outputs: int, aux_weight: float,
               **kwargs):
    super().__init__(inputs, outputs, **kwargs)
    self.n_outputs = n_outputs
    self.aux_weight = aux_weight
    self.aux_loss = task_type(task).loss()

  def split(self, predictions) -> list:
    """[main, sequence head, feature head] of the concatenated outputs."""
    k = self.n_outputs
    return [predictions[:, i * k:(i + 1) * k] for i in range(3)]

  def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None,
                   training=True):
    main, *heads = self.split(y_pred)
    loss = super().compute_loss(x, y, main, sample_weight, training=training)
    if training:
      for head in heads:
        loss = loss + self.aux_weight * self.aux_loss(y, head, sample_weight)
    return loss

  def compute_metrics(self, x, y, y_pred, sample_weight=None):
    return super().compute_metrics(x, y, self.split(y_pred)[0], sample_weight)

  def per_example_loss(self, loss_fn, labels, predictions):
    """The training loss of each example, for a custom loop (`loss_fn` gives one
    value per example: the multi-worker loop's)."""
    main, *heads = self.split(predictions)
    loss = loss_fn(labels, main)
    for head in heads:
      loss = loss + self.aux_weight * loss_fn(labels, head)
    return loss


class StopGradient(keras.layers.Layer):
  """The identity forward, no gradient backward (isolated branches)."""

  def call(self, x):
    return keras.ops.stop_gradient(x)


def _isolated(head: keras.Model, names: tuple[str, str]):
  """A function of the head's inputs giving (its main output, its two branches),
  where the rest of the head (fusion, deep logits, wide path) reads the branches
  through `StopGradient`: the main loss trains that rest only, the heads on the
  branches train the branches."""
  from gslm_keras.errors import ConfigError

  parts = [head.get_layer(n).output for n in names]
  layers = {layer.name for layer in head.layers}
  # The wide path also reads the normalised features (no weights to train).
  extra = ([head.get_layer("feature_normalization").output]
           if "wide_linear" in layers and "feature_normalization" not in names else [])
  try:
    rest = keras.Model(parts + extra, head.output, name="head_from_branches")
  except ValueError as error:
    raise ConfigError(f"isolate_branches: this head's fusion reads more than its two "
                      f"branches ({error}); train it without --isolate_branches") from None
  upto = keras.Model(head.input, parts + extra, name="head_to_branches")
  dtype = head.get_layer(names[0]).dtype_policy
  stops = [StopGradient(name=f"isolate_{n}", dtype=dtype) for n in HEADS]

  def main_and_parts(inputs):
    found = upto(inputs)
    branches = found[:2]
    return rest([s(p) for s, p in zip(stops, branches)] + found[2:]), branches

  return main_and_parts


def training_model(model: keras.Model, task: str, aux_weight: float,
                   isolate: bool = False):
  """`model` itself (no weight, or one branch), or an `AuxTrainer` over its layers;
  with `isolate`, each branch learns from its own head only (`_isolated`).

  Build it in the strategy scope of the model: the heads are new variables.
  """
  from gslm_keras.models.backbone import find_backbone
  from gslm_keras.models.layers import ReverseComplement

  head = model.get_layer(HEAD_NAME)
  names = branch_outputs(head)
  if not aux_weight or names is None:
    return model
  if isolate:
    main_and_parts = _isolated(head, names)
  else:
    inner = keras.Model(head.input, [head.output] + [head.get_layer(n).output
                                                     for n in names])

    def main_and_parts(inputs):
      main, *parts = inner(inputs)
      return main, parts
  n_outputs = head.output.shape[-1]
  activation = task_type(task).activation
  heads = [keras.layers.Dense(n_outputs, activation=activation, name=f"aux_{name}",
                              dtype="float32") for name in HEADS]
  backbone = find_backbone(model)
  sequence, features = model.input["sequence"], model.input["features"]

  def strand(one_hot):
    main, parts = main_and_parts({"positions": backbone(one_hot), "features": features})
    return [main] + [h(p) for h, p in zip(heads, parts)]

  outputs = strand(sequence)
  if any(layer.name == "strand_average" for layer in model.layers):
    reverse = strand(ReverseComplement(name="aux_reverse_complement")(sequence))
    outputs = [keras.layers.Average(name=f"aux_average_{i}", dtype="float32")([a, b])
               for i, (a, b) in enumerate(zip(outputs, reverse))]
  joined = keras.layers.Concatenate(name="aux_outputs", dtype="float32")(outputs)
  return AuxTrainer({"sequence": sequence, "features": features}, joined, task,
                    n_outputs, aux_weight, name="gslm_aux_trainer")
