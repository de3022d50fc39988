"""The sequence backbone: one-hot DNA to per-position features, on any length.

The same backbone (same layer names, same shapes) is the sequence branch of the
dual-input model and the trunk of the language model, so weights move between
them by construction. It stops before any global pooling: the output keeps one
vector per position (after the stem pooling), [batch, ceil(L / stem_pool),
tower_filters].
"""

from __future__ import annotations

import keras

from gslm_keras.models.config import ModelConfig
from gslm_keras.models.layers import DilatedResidualBlock

BACKBONE_NAME = "sequence_backbone"
# Keras' default 0.99 lags far behind the batch statistics on small datasets
# (a few hundred steps), which wrecks inference-mode predictions; 0.9 converges
# within tens of steps.
BN_MOMENTUM = 0.9


def build_backbone(config: ModelConfig, dtype: str = "float32",
                   synchronized_batch_norm: bool = False,
                   length: int | None = None, name: str = BACKBONE_NAME) -> keras.Model:
  """The backbone as a Keras model: float [B, L, 4] -> float [B, L', tower_filters].

  Args:
    config: architecture (its stem and tower fields).
    dtype: Keras dtype policy of the layers.
    synchronized_batch_norm: batch statistics over all replicas.
    length: window length, or None for any length.
    name: model name.
  """
  sequence = keras.Input(shape=(length, 4), name="sequence", dtype="float32")
  stems = [keras.layers.Conv1D(config.stem_filters, width, padding="same",
                               activation="relu", name=f"stem_conv_w{width}",
                               dtype=dtype)(sequence)
           for width in config.stem_widths]
  x = stems[0] if len(stems) == 1 else keras.layers.Concatenate(
      name="stem_concat", dtype=dtype)(stems)
  x = keras.layers.BatchNormalization(momentum=BN_MOMENTUM,
                                      synchronized=synchronized_batch_norm,
                                      name="stem_norm", dtype=dtype)(x)
  if config.stem_pool > 1:
    x = keras.layers.MaxPooling1D(config.stem_pool, padding="same", name="stem_pool",
                                  dtype=dtype)(x)
  x = keras.layers.Conv1D(config.tower_filters, 1, name="tower_project", dtype=dtype)(x)
  for block in range(config.tower_blocks):
    x = DilatedResidualBlock(config.tower_filters, config.tower_kernel,
                             dilation_rate=config.dilation_base**block,
                             dropout=config.dropout, momentum=BN_MOMENTUM,
                             synchronized=synchronized_batch_norm,
                             name=f"tower_block_{block}", dtype=dtype)(x)
  x = keras.layers.BatchNormalization(momentum=BN_MOMENTUM,
                                      synchronized=synchronized_batch_norm,
                                      name="tower_norm", dtype=dtype)(x)
  x = keras.layers.Activation("relu", name="tower_relu", dtype=dtype)(x)
  return keras.Model(sequence, x, name=name)


def find_backbone(model: keras.Model) -> keras.Model | None:
  """The backbone inside a gslm_keras model (also inside an rc-average core)."""
  for layer in model.layers:
    if layer.name == BACKBONE_NAME:
      return layer
  for layer in model.layers:
    if isinstance(layer, keras.Model):
      found = find_backbone(layer)
      if found is not None:
        return found
  return None
