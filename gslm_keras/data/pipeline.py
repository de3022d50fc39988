"""`make_dataset`: the tf.data input pipeline over a dataset directory.

`batched_pipeline` is the skeleton every task's pipeline shares (a labelled
dataset's here, a corpus's masked windows in `corpus_pipeline`): the split's
records, shard-parallel and shuffled in training or in manifest order, batched,
numbered (each batch's augmentation is seeded by its index, so a resumed run
skips batches and continues the same stream), transformed by the task's
per-batch function, prefetched."""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from gslm_keras.data.dataset_info import CLASS_TASKS, DatasetInfo
from gslm_keras.dna import ops
from gslm_keras.encoding.encoder import SequenceEncoder

MODES = ("train", "eval")


def _serialized(info: DatasetInfo, split: str, training: bool, deterministic: bool,
                seed: int | None, limit: int | None, shard) -> tf.data.Dataset:
  """The split's serialized records: shard-parallel in training, in order in eval."""
  files = info.shard_paths(split)
  if training:
    dataset = tf.data.Dataset.from_tensor_slices(files)
    dataset = dataset.shuffle(len(files), seed=seed)
    dataset = dataset.interleave(
        lambda path: tf.data.TFRecordDataset(path, info.compression),
        cycle_length=min(len(files), 8), num_parallel_calls=tf.data.AUTOTUNE,
        deterministic=deterministic)
  else:
    # When evaluating, read shards one after another: the order is the manifest's.
    dataset = tf.data.TFRecordDataset(files, info.compression)
  # The manifest's count: tf.data then knows the length (Keras needs no guess),
  # and a shard holding another number of records fails the read.
  dataset = dataset.apply(
      tf.data.experimental.assert_cardinality(info.num_records(split)))
  if limit is not None:
    dataset = dataset.take(limit)
  if shard is not None:
    dataset = dataset.shard(*shard)
  return dataset


def batched_pipeline(info: DatasetInfo, split: str, transform, *, training: bool,
                     deterministic: bool, batch_size: int, seed: int | None,
                     repeat: bool, shuffle_buffer: int, drop_remainder: bool,
                     limit: int | None, shard, skip_batches: int) -> tf.data.Dataset:
  """`transform(batch_index, serialized batch)` over the split's records."""
  dataset = _serialized(info, split, training, deterministic, seed, limit, shard)
  if training:
    dataset = dataset.shuffle(shuffle_buffer, seed=seed, reshuffle_each_iteration=True)
    if repeat:
      dataset = dataset.repeat()
  dataset = dataset.batch(batch_size, drop_remainder=drop_remainder).enumerate()
  if skip_batches:
    # Skipped before parsing: only the serialized records are read past.
    dataset = dataset.skip(skip_batches)
  dataset = dataset.map(transform, num_parallel_calls=tf.data.AUTOTUNE,
                        deterministic=deterministic)
  return dataset.prefetch(tf.data.AUTOTUNE)


def _transform(info: DatasetInfo, encoder: SequenceEncoder, *, normalize: bool,
               reverse_complement: bool, max_shift: int, seed: int, with_ids: bool,
               reverse_strand: bool = False):
  """The per-batch function: parse, window, augment, encode."""
  parse_spec = info.parse_spec(with_ids=with_ids)

  def transform(batch_index, serialized):
    parsed = tf.io.parse_example(serialized, parse_spec)
    sequences = parsed["sequence"]
    batch = tf.shape(sequences)[0]
    shift = None
    if max_shift > 0:
      shift = tf.random.stateless_uniform(
          [batch], seed=[seed, batch_index * 2], minval=-max_shift,
          maxval=max_shift + 1, dtype=tf.int32)
    windows = encoder.windows(sequences, shift=shift, max_shift=max_shift)
    if reverse_complement:
      flip = tf.random.stateless_uniform([batch], seed=[seed, batch_index * 2 + 1]) < 0.5
      windows = tf.where(flip[:, None], ops.reverse_complement_bytes(windows), windows)
    if reverse_strand:
      windows = ops.reverse_complement_bytes(windows)
    one_hot, computed = encoder.encode_windows(windows)
    features = encoder.features(computed, parsed.get("provided_features"))
    if normalize:
      features = encoder.normalize(features)
    label = parsed["label"]
    if info.task in CLASS_TASKS:
      label = tf.cast(label, tf.int32)
    inputs = {"sequence": one_hot, "features": features}
    if with_ids:
      return inputs, label, parsed["id"]
    return inputs, label

  return transform


def make_dataset(data_dir: str, split: str, mode: str = "eval", batch_size: int = 64,
                 *, normalize: bool = False, reverse_complement: bool = False,
                 reverse_strand: bool = False, max_shift: int = 0,
                 drop_remainder: bool = False,
                 shuffle_buffer: int = 10000, seed: int | None = None,
                 repeat: bool = False, verify: str = "checksum",
                 with_ids: bool = False, limit: int | None = None,
                 skip_batches: int = 0,
                 shard: tuple[int, int] | None = None) -> tf.data.Dataset:
  """A batched `tf.data.Dataset` of `({"sequence", "features"}, label)`.

  Reading is shard-parallel and shuffled in train mode; in eval mode records come
  in manifest order (shards in order, records in order) so predictions line up
  with the input. Each batch is parsed with one `parse_example`, then windowed,
  one-hot encoded and featurised by the dataset's `SequenceEncoder`.

  Args:
    data_dir: a dataset directory built by `build_dataset`.
    split: "train", "dev" or "test".
    mode: "train" (shuffle, augmentation) or "eval" (ordered, no augmentation).
    batch_size: examples per batch.
    normalize: standardise features with the manifest's train statistics. The
      default (False) is what gslm_keras models take: they normalise inside
      (their first feature layer holds the same statistics), so normalising here
      too would do it twice. For models of your own without that layer, pass True.
    reverse_complement: train mode: reverse-complement each example with p=0.5.
    reverse_strand: eval mode: read every window on its reverse complement
      (computed features too), in the same order: a strand-averaged evaluation
      averages this with the forward pass.
    max_shift: train mode: move each window by a random shift in
      [-max_shift, max_shift] along its sequence (bases beyond it become N).
    drop_remainder: drop the last partial batch (static shapes, e.g. for TPU).
    shuffle_buffer: records in the shuffle buffer (train mode).
    seed: makes shuffling, interleaving and augmentation reproducible.
    repeat: repeat forever (train mode).
    verify: manifest check on open: "checksum", "full" or "none".
    with_ids: also yield the record ids, as `(inputs, label, ids)`; for
      iteration and prediction, not for `fit` (which would take them as weights).
    limit: read only the first `limit` records of the split (before shuffling).
    skip_batches: start after this many batches of the (seeded) stream, with the
      augmentation they would have had: how resumed training continues the
      uninterrupted run's data order.
    shard: (count, index): keep every count-th record starting at index, so that
      each of `count` workers reads its own part.

  Returns:
    Elements `({"sequence": float32 [B, L, 4], "features": float32 [B, F]},
    label)`, label int32 [B] for binary/multiclass, float32 [B, K] otherwise.

  Raises:
    DatasetError: the directory has no manifest, or a shard is missing or its
      size, checksum or record count disagrees with the manifest.
  """
  if mode not in MODES:
    raise ValueError(f"mode={mode!r}: expected one of {', '.join(MODES)}")
  if batch_size < 1:
    raise ValueError(f"batch_size={batch_size}: expected >= 1")
  if max_shift < 0:
    raise ValueError(f"max_shift={max_shift}: expected >= 0")
  if reverse_strand and mode == "train":
    raise ValueError("reverse_strand reads an eval split on its other strand; train "
                     "mode augments with reverse_complement")
  info = DatasetInfo.load(data_dir, verify=verify, splits=[split])
  training = mode == "train"
  # When evaluating, keep the input order: predictions line up with the records.
  deterministic = not training or seed is not None
  transform = _transform(
      info, SequenceEncoder.from_info(info), normalize=normalize,
      reverse_complement=training and reverse_complement,
      max_shift=max_shift if training else 0,
      seed=seed if seed is not None else int(np.random.SeedSequence().entropy % 2**31),
      with_ids=with_ids, reverse_strand=reverse_strand)
  return batched_pipeline(
      info, split, transform, training=training, deterministic=deterministic,
      batch_size=batch_size, seed=seed, repeat=repeat, shuffle_buffer=shuffle_buffer,
      drop_remainder=drop_remainder, limit=limit, shard=shard,
      skip_batches=skip_batches)


def split_sequences(info: DatasetInfo, split: str, batch_size: int = 1024):
  """The raw sequences of a split (str), in manifest order, as stored."""
  from gslm_keras.encoding.schema import parse_spec

  spec = {"sequence": parse_spec(info.n_provided)["sequence"]}
  dataset = tf.data.TFRecordDataset(info.shard_paths(split), info.compression)
  for batch in dataset.batch(batch_size):
    for sequence in tf.io.parse_example(batch, spec)["sequence"].numpy():
      yield sequence.decode()
