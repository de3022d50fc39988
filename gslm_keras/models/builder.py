"""The dual-input model: the sequence backbone over one-hot DNA and a Dense branch
over per-sequence features, fused into a task head.

The model is three named parts, so that a consumer can run them apart (variant
scoring runs the backbone once per distinct window and the head per
combination; a language model shares the backbone):

- `sequence_backbone` (see `backbone.py`): one-hot [B, L, 4] -> [B, L', C];
- `task_head`: backbone output and features -> outputs: global pooling of the
  positions, the feature branch (in-model normalisation, Dense blocks), fusion
  and the output layer;
- the model itself wires them, and with `rc_average` runs backbone and head on
  both strands and averages.
"""

from __future__ import annotations

import keras
import numpy as np

from gslm_keras.errors import ConfigError
from gslm_keras.models.backbone import BN_MOMENTUM, build_backbone
from gslm_keras.models.config import ModelConfig
from gslm_keras.models.layers import AttentionPooling, ModalityDropout, ReverseComplement
from gslm_keras.tasks.supervised import task_type

HEAD_NAME = "task_head"


def output_width(task: str, n_classes: int, n_targets: int = 1) -> int:
  """Units of the head (see `TaskType.output_width`)."""
  return task_type(task).output_width(n_classes, n_targets)


def _pool(config: ModelConfig, x, dtype):
  if config.pooling == "attention":
    return AttentionPooling(name="attention_pool", dtype=dtype)(x)
  if config.pooling == "flatten":
    if config.flatten_channels:
      x = keras.layers.Conv1D(config.flatten_channels, 1, name="position_project",
                              dtype=dtype)(x)
    return keras.layers.Flatten(name="flatten_positions", dtype=dtype)(x)
  pooled = [keras.layers.GlobalMaxPooling1D(name="global_max_pool", dtype=dtype)(x),
            keras.layers.GlobalAveragePooling1D(name="global_avg_pool", dtype=dtype)(x)]
  if config.pooling == "maxavg_bins":
    size = -(-x.shape[1] // config.pool_bins)  # ceil: at most pool_bins stretches.
    binned = keras.layers.MaxPooling1D(size, strides=size, padding="same",
                                       name="bin_max_pool", dtype=dtype)(x)
    pooled.append(keras.layers.Flatten(name="flatten_bins", dtype=dtype)(binned))
  if config.pooling == "maxavg_positions":
    projected = keras.layers.Conv1D(config.flatten_channels or 8, 1,
                                    name="position_project", dtype=dtype)(x)
    flat = keras.layers.Flatten(name="flatten_positions", dtype=dtype)(projected)
    if config.position_dropout:
      flat = keras.layers.Dropout(config.position_dropout, name="position_dropout",
                                  dtype=dtype)(flat)
    pooled.append(flat)
  return keras.layers.Concatenate(name="pool_concat", dtype=dtype)(pooled)


def _feature_branch(config: ModelConfig, features, mean, std, dtype):
  """(the normalised features, the branch's output)."""
  normalised = f = keras.layers.Normalization(
      mean=mean, variance=np.square(std), name="feature_normalization", dtype=dtype)(
          features)
  for i, units in enumerate(config.feature_units):
    f = keras.layers.Dense(units, activation="relu", name=f"feature_dense_{i}",
                           dtype=dtype)(f)
    f = keras.layers.Dropout(config.dropout, name=f"feature_dropout_{i}", dtype=dtype)(f)
  return normalised, f


def build_head(config: ModelConfig, *, positions: tuple | None, n_features: int,
               task: str, n_outputs: int, feature_mean, feature_std, dtype: str,
               synchronized_batch_norm: bool) -> keras.Model:
  """The task head: {"positions": [B, L', C], "features": [B, F]} -> outputs.

  Args:
    positions: (L', C), the backbone output shape; None without a sequence branch.
  """
  features = keras.Input(shape=(n_features,), name="features", dtype="float32")
  inputs = {"features": features}
  has_features = config.ablation in ("both", "features")
  normalised = branch = None
  # (The feature branch is built first only when FiLM needs it before pooling: the
  # order of building is the order of the seeded initial weights.)
  film = config.film and has_features and positions is not None
  if film:
    normalised, branch = _feature_branch(config, features, feature_mean, feature_std,
                                         dtype)
  parts = []
  if positions is not None:
    compute_dtype = keras.DTypePolicy(dtype).compute_dtype
    inputs["positions"] = keras.Input(shape=positions, name="positions",
                                      dtype=compute_dtype)
    x = inputs["positions"]
    if film:
      x = _film(x, branch, positions[-1], dtype)
    parts.append(_pool(config, x, dtype))
  if has_features and branch is None:
    normalised, branch = _feature_branch(config, features, feature_mean, feature_std,
                                         dtype)
  if branch is not None:
    parts.append(branch)
  if config.branch_norm:
    names = (["sequence"] if positions is not None else []) + (
        ["features"] if branch is not None else [])
    parts = [keras.layers.LayerNormalization(name=f"{name}_branch_norm", dtype=dtype)(p)
             for name, p in zip(names, parts)]
  if config.modality_dropout and len(parts) == 2:
    parts = ModalityDropout(config.modality_dropout, name="modality_dropout",
                            dtype=dtype)(parts)
  if config.fusion == "gated" and len(parts) == 2:
    x = _gated_fusion(config, parts, dtype)
  elif config.fusion == "gated":
    # One branch: what the gated unit is without the other one, the branch's own
    # tanh projection.
    x = keras.layers.Dense(config.fusion_units, activation="tanh", name="fusion_dense",
                           dtype=dtype)(parts[0])
  else:
    x = _dense_fusion(config, parts, dtype, synchronized_batch_norm)
  x = keras.layers.Dropout(config.dropout, name="fusion_dropout", dtype=dtype)(x)
  return keras.Model(inputs, _output(config, x, normalised, task, n_outputs),
                     name=HEAD_NAME)


def branch_outputs(head: keras.Model) -> tuple[str, str] | None:
  """The names of the layers whose outputs are the two branches as they enter the
  fusion (the pooled positions, the feature branch's last block; layer-normalised
  with `branch_norm`), or None for a head with one branch."""
  names = [layer.name for layer in head.layers]
  if "features_branch_norm" in names and "sequence_branch_norm" in names:
    return "sequence_branch_norm", "features_branch_norm"
  pooled = next((n for n in ("pool_concat", "flatten_positions", "attention_pool")
                 if n in names), None)
  # The feature branch without Dense blocks (feature_units=()) is its normalisation.
  branch = [n for n in names if n.startswith("feature_dropout_")
            or n == "feature_normalization"]
  if pooled is None or not branch:
    return None
  return pooled, branch[-1]


def _film(positions, branch, channels: int, dtype):
  """FiLM: the feature branch scales and shifts every channel of the sequence
  branch, at every position: x * (1 + scale(f)) + shift(f). Both start at zero, so
  the untrained layer passes the positions unchanged."""
  def project(name):
    y = keras.layers.Dense(channels, kernel_initializer="zeros", name=f"film_{name}",
                           dtype=dtype)(branch)
    return keras.layers.Reshape((1, channels), name=f"film_{name}_per_position",
                                dtype=dtype)(y)

  scale, shift = project("scale"), project("shift")
  scaled = keras.layers.Multiply(name="film_multiply", dtype=dtype)([positions, scale])
  return keras.layers.Add(name="film", dtype=dtype)([positions, scaled, shift])


def _gated_fusion(config: ModelConfig, parts, dtype):
  """A gated multimodal unit (Arevalo et al. 2017): each branch projected (tanh),
  and a gate from both choosing, unit by unit, how much of each: z * s + (1 - z) * f."""
  sequence, features = parts
  units = config.fusion_units
  s = keras.layers.Dense(units, activation="tanh", name="fusion_sequence",
                         dtype=dtype)(sequence)
  f = keras.layers.Dense(units, activation="tanh", name="fusion_features",
                         dtype=dtype)(features)
  both = keras.layers.Concatenate(name="fusion_concat", dtype=dtype)(parts)
  z = keras.layers.Dense(units, activation="sigmoid", name="fusion_gate",
                         dtype=dtype)(both)
  gated_s = keras.layers.Multiply(name="fusion_gate_sequence", dtype=dtype)([z, s])
  gated_f = keras.layers.Multiply(name="fusion_gate_features", dtype=dtype)([z, f])
  added = keras.layers.Add(name="fusion_gate_add", dtype=dtype)([gated_s, f])
  return keras.layers.Subtract(name="fusion_gated", dtype=dtype)([added, gated_f])


def _dense_fusion(config: ModelConfig, parts, dtype, synchronized_batch_norm: bool):
  x = parts[0] if len(parts) == 1 else keras.layers.Concatenate(
      name="fusion_concat", dtype=dtype)(parts)
  # With fusion_norm the activation moves after the batch norm (which makes the
  # bias redundant).
  x = keras.layers.Dense(config.fusion_units, use_bias=not config.fusion_norm,
                         activation=None if config.fusion_norm else config.fusion_activation,
                         name="fusion_dense", dtype=dtype)(x)
  if config.fusion_norm:
    x = keras.layers.BatchNormalization(momentum=BN_MOMENTUM,
                                        synchronized=synchronized_batch_norm,
                                        name="fusion_norm", dtype=dtype)(x)
    x = keras.layers.Activation(config.fusion_activation,
                                name=f"fusion_{config.fusion_activation}", dtype=dtype)(x)
  return x


def _output(config: ModelConfig, x, normalised, task: str, n_outputs: int):
  """The output layer (float32); with `wide`, the logits of a linear layer over the
  normalised features are added before the activation."""
  activation = task_type(task).activation
  if not config.wide or normalised is None:
    return keras.layers.Dense(n_outputs, activation=activation, name="output",
                              dtype="float32")(x)
  deep = keras.layers.Dense(n_outputs, name="deep_logits", dtype="float32")(x)
  wide = keras.layers.Dense(n_outputs, name="wide_linear", dtype="float32")(normalised)
  logits = keras.layers.Add(name="wide_deep_sum", dtype="float32")([deep, wide])
  return keras.layers.Activation(activation, name="output", dtype="float32")(logits)


def _check(config: ModelConfig, task: str, n_features: int, feature_mean, feature_std):
  task_type(task)  # A known task type.
  if config.ablation in ("both", "features") and n_features == 0:
    raise ConfigError(
        f"ablation={config.ablation!r} needs features, but the dataset has none; "
        "build it with --computed_features/--provided_features or use "
        "--ablation=sequence")
  if len(feature_mean) != n_features or len(feature_std) != n_features:
    raise ConfigError(f"normalisation statistics have {len(feature_mean)} values, the "
                      f"features {n_features}")


def build_model(config: ModelConfig, *, length: int, n_features: int, task: str,
                n_outputs: int, feature_mean=None, feature_std=None,
                dtype: str = "float32", synchronized_batch_norm: bool = False,
                name: str = "gslm") -> keras.Model:
  """Builds the dual-input model.

  Args:
    config: architecture.
    length: window length L.
    n_features: width F of the feature vector (0 when the dataset has none).
    task: "binary", "multiclass", "multilabel" or "regression".
    n_outputs: head width (see `output_width`).
    feature_mean, feature_std: float [F] normalisation statistics (from
      `dataset_info.json`); saved inside the model's normalisation layer.
    dtype: Keras dtype policy of the body ("float32", "mixed_float16",
      "mixed_bfloat16"); the output layer always computes in float32.
    synchronized_batch_norm: batch statistics over all replicas (for training
      under a distribution strategy with several replicas).
    name: model name.

  Returns:
    A `keras.Model` with inputs {"sequence": float [B, L, 4], "features": float
    [B, F]} and one float32 output [B, n_outputs]: probabilities for classifiers,
    values for regression.
  """
  feature_mean = np.zeros(n_features, np.float32) if feature_mean is None else feature_mean
  feature_std = np.ones(n_features, np.float32) if feature_std is None else feature_std
  _check(config, task, n_features, feature_mean, feature_std)
  sequence = keras.Input(shape=(length, 4), name="sequence", dtype="float32")
  features = keras.Input(shape=(n_features,), name="features", dtype="float32")
  backbone = None
  if config.ablation in ("both", "sequence"):
    backbone = build_backbone(config, dtype, synchronized_batch_norm)
  positions = None if backbone is None else tuple(
      backbone.compute_output_shape((None, length, 4))[1:])
  head = build_head(config, positions=positions, n_features=n_features, task=task,
                    n_outputs=n_outputs, feature_mean=feature_mean,
                    feature_std=feature_std, dtype=dtype,
                    synchronized_batch_norm=synchronized_batch_norm)

  def strand(one_hot):
    head_inputs = {"features": features}
    if backbone is not None:
      head_inputs["positions"] = backbone(one_hot)
    return head(head_inputs)

  output = strand(sequence)
  if config.rc_average:
    reverse = ReverseComplement(name="reverse_complement")(sequence)
    output = keras.layers.Average(name="strand_average", dtype="float32")(
        [output, strand(reverse)])
  return keras.Model({"sequence": sequence, "features": features}, output, name=name)
