"""Batch-norm statistics measured again on the model as it predicts.

A batch norm keeps moving averages of its input's mean and variance for inference.
Two things make them wrong for the model that is kept:
- the averages lag: they start at mean 0 and variance 1 and follow the weights a
  few steps behind, so a run of few steps keeps averages that have not converged
  (on the UCI promoters, 30 steps a run, the default's stem batch norm keeps a
  moving variance a median 5.9 times that of its input, 4.8 to 24 over 30 runs;
  the other batch norms' medians are within 11%:
  `benchmarks/results/norm_statistics_uci.md`);
- dropout before a batch norm (the residual blocks' dropout before the next
  block's norm) changes the variance its averages see in training, and inference
  runs without dropout ("variance shift", Li et al. 2019, "Understanding the
  disharmony between dropout and batch normalization").
`recalibrate` replaces them with the statistics of a fixed set of training
batches passed through the model with its weights as they are and its dropout
off (the remedy of Li et al., and the "precise BN" of Wu & Johnson 2021).
"""

from __future__ import annotations

import numpy as np

# The sample the statistics come from: a few thousand examples, as "precise BN"
# found enough, and at most 2**24 one-hot values (4,096 windows of 1 kb; fewer of
# longer windows) held in memory for the whole run.
EXAMPLES = 4096
MAX_VALUES = 2 ** 24
BATCH_SIZE = 256


def _layers(model):
  return list(model._flatten_layers(include_self=False, recursive=True))  # noqa: SLF001


def batch_norms(model) -> list:
  """Every batch norm of `model`, nested models included."""
  import keras

  return [layer for layer in _layers(model)
          if isinstance(layer, keras.layers.BatchNormalization)]


def _dropouts(model) -> list:
  """Every layer with a dropout `rate` (Keras' dropouts, ModalityDropout)."""
  return [layer for layer in _layers(model)
          if isinstance(getattr(layer, "rate", None), float)]


def recalibrate(model, batches) -> int:
  """Sets every batch norm's moving mean and variance to the population statistics
  of its input over `batches` (inputs, or (inputs, labels) pairs), with every dropout
  off and the batch norms normalising by their batch, as in training. Weights are
  not changed. Returns the number of examples read (0: nothing changed).

  Each batch's mean and variance are read per layer; the population variance is
  the mean of (variance + mean^2) less the squared mean, weighted by batch size.
  """
  import keras

  norms = batch_norms(model)
  if not norms:
    return 0
  dropouts = _dropouts(model)
  saved = ([(n.momentum, n.trainable) for n in norms], [d.rate for d in dropouts])
  before = [(np.asarray(n.moving_mean).copy(), np.asarray(n.moving_variance).copy())
            for n in norms]
  sums = [[0.0, 0.0] for _ in norms]
  seen = 0
  try:
    for layer in norms:
      layer.momentum, layer.trainable = 0.0, True  # The batch's own statistics.
    for layer in dropouts:
      layer.rate = 0.0
    for batch in batches:
      inputs = batch[0] if isinstance(batch, tuple) else batch
      model(inputs, training=True)
      size = int(np.shape(keras.tree.flatten(inputs)[0])[0])
      for total, layer in zip(sums, norms):
        mean = np.asarray(layer.moving_mean, np.float64)
        total[0] = total[0] + size * mean
        total[1] = total[1] + size * (np.asarray(layer.moving_variance, np.float64)
                                      + mean ** 2)
      seen += size
  except BaseException:
    seen = 0
    raise
  finally:
    for layer, (momentum, trainable) in zip(norms, saved[0]):
      layer.momentum, layer.trainable = momentum, trainable
    for layer, rate in zip(dropouts, saved[1]):
      layer.rate = rate
    if not seen:  # Nothing read, or a failure midway: the statistics as they were.
      for layer, (mean, variance) in zip(norms, before):
        layer.moving_mean.assign(mean)
        layer.moving_variance.assign(variance)
  if seen:
    for (first, second), layer in zip(sums, norms):
      mean = first / seen
      layer.moving_mean.assign(mean.astype(np.float32))
      layer.moving_variance.assign(np.maximum(second / seen - mean ** 2, 0.0)
                                   .astype(np.float32))
  return seen


def training_sample(data_dir: str, info, seed: int) -> list:
  """A fixed sample of the training split of `data_dir` (its DatasetInfo `info`), as
  batches of model inputs: drawn with a shuffle over the whole split (up to 200,000
  records: a sorted file does not give the first records' labels only), without
  augmentation, read once and kept."""
  from gslm_keras.data.pipeline import make_dataset

  # Batches of at most a quarter of the values kept (long windows: smaller batches).
  batch_size = max(1, min(BATCH_SIZE, MAX_VALUES // (16 * info.length_rule.length)))
  dataset = make_dataset(data_dir, "train", "train", batch_size, seed=seed,
                         shuffle_buffer=max(1, min(info.num_records("train"), 200_000)),
                         verify="none")
  batches, examples, values = [], 0, 0
  for inputs, _ in dataset:
    batches.append(inputs)
    examples += int(inputs["sequence"].shape[0])
    values += int(np.prod(inputs["sequence"].shape))
    if examples >= EXAMPLES or values >= MAX_VALUES:
      break
  return batches


def run_sample(config, info) -> list | None:
  """The sample a run recalibrates with (`training_sample` of its training split
  and seed), or None when its model does not recalibrate (`recalibrate_norms`; a
  collapse restart changes only branch_norm, `collapse.after_restarts`). A kind of
  run that does not use the field holds its field default, False (a language model
  pretrained from the preset `default`: `TrainConfig._reset_unused`)."""
  if not config.model.recalibrate_norms:
    return None
  return training_sample(config.data.data_dir, info, config.runtime.seed)
