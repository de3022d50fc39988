"""DilatedResidualBlock layer."""

from __future__ import annotations

import keras


@keras.saving.register_keras_serializable(package="gslm_keras")
class DilatedResidualBlock(keras.layers.Layer):
  """Pre-activation residual block of dilated Conv1D: longer-range grammar.

  x + Dropout(Conv1D_1(ReLU(BN(Conv1D_k,dilated(ReLU(BN(x))))))). Stacking
  blocks with dilation 1, 2, 4 ... grows the receptive field exponentially at a
  linear cost. The input must already have `filters` channels.

  Args:
    filters: channels in and out.
    kernel_size: width of the dilated convolution.
    dilation_rate: dilation of that convolution.
    dropout: dropout rate on the residual branch.
    momentum: momentum of the batch-normalisation moving statistics.
    synchronized: batch statistics over all replicas of a distribution strategy,
      so that every replica keeps the same moving statistics.
    **kwargs: base Layer arguments (name, dtype ...).
  """

  def __init__(self, filters: int, kernel_size: int = 3, dilation_rate: int = 1,
               dropout: float = 0.0, momentum: float = 0.99,
               synchronized: bool = False, **kwargs):
    super().__init__(**kwargs)
    self.filters = filters
    self.kernel_size = kernel_size
    self.dilation_rate = dilation_rate
    self.dropout = dropout
    self.momentum = momentum
    self.synchronized = synchronized
    policy = self.dtype_policy
    self.norm_1 = keras.layers.BatchNormalization(
        momentum=momentum, synchronized=synchronized, name="norm_1", dtype=policy)
    self.conv_1 = keras.layers.Conv1D(filters, kernel_size, padding="same",
                                      dilation_rate=dilation_rate, name="conv_1",
                                      dtype=policy)
    self.norm_2 = keras.layers.BatchNormalization(
        momentum=momentum, synchronized=synchronized, name="norm_2", dtype=policy)
    self.conv_2 = keras.layers.Conv1D(filters, 1, name="conv_2", dtype=policy)
    self.drop = keras.layers.Dropout(dropout, name="dropout", dtype=policy)

  def build(self, input_shape):
    if input_shape[-1] != self.filters:
      raise ValueError(
          f"{self.name}: input has {input_shape[-1]} channels, the block expects "
          f"{self.filters}")
    self.norm_1.build(input_shape)
    self.conv_1.build(input_shape)
    self.norm_2.build(input_shape)
    self.conv_2.build(input_shape)
    self.built = True

  def call(self, inputs, training=None):
    x = keras.ops.relu(self.norm_1(inputs, training=training))
    x = self.conv_1(x)
    x = keras.ops.relu(self.norm_2(x, training=training))
    x = self.conv_2(x)
    return inputs + self.drop(x, training=training)

  def compute_output_shape(self, input_shape):
    return input_shape

  def get_config(self):
    config = super().get_config()
    config.update({"filters": self.filters, "kernel_size": self.kernel_size,
                   "dilation_rate": self.dilation_rate, "dropout": self.dropout,
                   "momentum": self.momentum, "synchronized": self.synchronized})
    return config
