"""The dual-input model: a Conv1D branch over one-hot DNA, a Dense branch over
per-sequence features, fused into a task head."""

from __future__ import annotations

import keras
import numpy as np

from gslm_keras.errors import ConfigError
from gslm_keras.models.config import ModelConfig
from gslm_keras.models.layers import (AttentionPooling, DilatedResidualBlock,
                                      ReverseComplement)

TASKS = ("binary", "multiclass", "multilabel", "regression")
# Keras' default 0.99 lags far behind the batch statistics on small datasets
# (a few hundred steps), which wrecks inference-mode predictions; 0.9 converges
# within tens of steps.
BN_MOMENTUM = 0.9
_ACTIVATIONS = {"binary": "sigmoid", "multiclass": "softmax", "multilabel": "sigmoid",
                "regression": "linear"}


def output_width(task: str, n_classes: int, n_targets: int = 1) -> int:
  """Units of the head: 1 for binary, classes for (multi)class, targets otherwise."""
  if task == "binary":
    return 1
  if task in ("multiclass", "multilabel"):
    return n_classes
  return n_targets


def _sequence_branch(config: ModelConfig, sequence, dtype, synchronized):
  stems = [keras.layers.Conv1D(config.stem_filters, width, padding="same",
                               activation="relu", name=f"stem_conv_w{width}",
                               dtype=dtype)(sequence)
           for width in config.stem_widths]
  x = stems[0] if len(stems) == 1 else keras.layers.Concatenate(
      name="stem_concat", dtype=dtype)(stems)
  x = keras.layers.BatchNormalization(momentum=BN_MOMENTUM, synchronized=synchronized,
                                      name="stem_norm", dtype=dtype)(x)
  if config.stem_pool > 1:
    x = keras.layers.MaxPooling1D(config.stem_pool, padding="same", name="stem_pool",
                                  dtype=dtype)(x)
  x = keras.layers.Conv1D(config.tower_filters, 1, name="tower_project", dtype=dtype)(x)
  for block in range(config.tower_blocks):
    x = DilatedResidualBlock(config.tower_filters, config.tower_kernel,
                             dilation_rate=config.dilation_base**block,
                             dropout=config.dropout, momentum=BN_MOMENTUM,
                             synchronized=synchronized, name=f"tower_block_{block}",
                             dtype=dtype)(x)
  x = keras.layers.BatchNormalization(momentum=BN_MOMENTUM, synchronized=synchronized,
                                      name="tower_norm", dtype=dtype)(x)
  x = keras.layers.Activation("relu", name="tower_relu", dtype=dtype)(x)
  if config.pooling == "attention":
    return AttentionPooling(name="attention_pool", dtype=dtype)(x)
  if config.pooling == "flatten":
    return keras.layers.Flatten(name="flatten_positions", dtype=dtype)(x)
  return keras.layers.Concatenate(name="pool_concat", dtype=dtype)([
      keras.layers.GlobalMaxPooling1D(name="global_max_pool", dtype=dtype)(x),
      keras.layers.GlobalAveragePooling1D(name="global_avg_pool", dtype=dtype)(x)])


def _feature_branch(config: ModelConfig, features, mean, std, dtype):
  f = keras.layers.Normalization(mean=mean, variance=np.square(std),
                                 name="feature_normalization", dtype=dtype)(features)
  for i, units in enumerate(config.feature_units):
    f = keras.layers.Dense(units, activation="relu", name=f"feature_dense_{i}",
                           dtype=dtype)(f)
    f = keras.layers.Dropout(config.dropout, name=f"feature_dropout_{i}", dtype=dtype)(f)
  return f


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
      "mixed_bfloat16"); the head always computes in float32.
    synchronized_batch_norm: batch statistics over all replicas (for training
      under a distribution strategy with several replicas).
    name: model name.

  Returns:
    A `keras.Model` with inputs {"sequence": float [B, L, 4], "features": float
    [B, F]} and one float32 output [B, n_outputs]: probabilities for classifiers,
    values for regression.
  """
  if task not in TASKS:
    raise ConfigError(f"task={task!r}: expected one of {', '.join(TASKS)}")
  if config.ablation in ("both", "features") and n_features == 0:
    raise ConfigError(
        f"ablation={config.ablation!r} needs features, but the dataset has none; "
        "build it with --computed_features/--provided_features or use "
        "--ablation=sequence")
  if feature_mean is None:
    feature_mean = np.zeros(n_features, np.float32)
  if feature_std is None:
    feature_std = np.ones(n_features, np.float32)
  if len(feature_mean) != n_features or len(feature_std) != n_features:
    raise ConfigError(f"normalisation statistics have {len(feature_mean)} values, the "
                      f"features {n_features}")

  # === Inputs ===
  sequence = keras.Input(shape=(length, 4), name="sequence", dtype="float32")
  features = keras.Input(shape=(n_features,), name="features", dtype="float32")
  inputs = {"sequence": sequence, "features": features}

  # === Core: branches, fusion and head ===
  parts = []
  if config.ablation in ("both", "sequence"):
    parts.append(_sequence_branch(config, sequence, dtype, synchronized_batch_norm))
  if config.ablation in ("both", "features"):
    parts.append(_feature_branch(config, features, feature_mean, feature_std, dtype))
  x = parts[0] if len(parts) == 1 else keras.layers.Concatenate(
      name="fusion_concat", dtype=dtype)(parts)
  # With fusion_norm the ReLU moves after the batch norm (which makes the bias redundant).
  x = keras.layers.Dense(config.fusion_units, use_bias=not config.fusion_norm,
                         activation=None if config.fusion_norm else "relu",
                         name="fusion_dense", dtype=dtype)(x)
  if config.fusion_norm:
    x = keras.layers.BatchNormalization(momentum=BN_MOMENTUM,
                                        synchronized=synchronized_batch_norm,
                                        name="fusion_norm", dtype=dtype)(x)
    x = keras.layers.Activation("relu", name="fusion_relu", dtype=dtype)(x)
  x = keras.layers.Dropout(config.dropout, name="fusion_dropout", dtype=dtype)(x)
  head = keras.layers.Dense(n_outputs, activation=_ACTIVATIONS[task],
                            name="head" if config.rc_average else "output",
                            dtype="float32")(x)
  if not config.rc_average:
    return keras.Model(inputs, head, name=name)

  # === Reverse-complement averaging: one core, both strands ===
  core = keras.Model(inputs, head, name=f"{name}_core")
  reverse = ReverseComplement(name="reverse_complement")(sequence)
  forward_out = core({"sequence": sequence, "features": features})
  reverse_out = core({"sequence": reverse, "features": features})
  output = keras.layers.Average(name="output", dtype="float32")([forward_out, reverse_out])
  return keras.Model(inputs, output, name=name)
