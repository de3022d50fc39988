"""`make_lm_dataset`: the tf.data pipeline of masked nucleotide modelling.

Reads a corpus (`build_dataset --task=unlabelled`) through the skeleton
`make_dataset` uses (`pipeline.batched_pipeline`: shard-parallel and shuffled
for training, in manifest order for evaluation), one-hot encodes each window and masks it with a
`NucleotideMasker` inside the pipeline. Each batch is masked with the stateless
seed [seed, batch index]: the same seed gives the same masks, so a dev split is
masked the same way at every epoch and every yardstick sees the same positions.
"""

from __future__ import annotations

import tensorflow as tf

from gslm_keras.data.dataset_info import DatasetInfo
from gslm_keras.data.pipeline import batched_pipeline
from gslm_keras.dna import ops
from gslm_keras.encoding.masking import NucleotideMasker
from gslm_keras.errors import DatasetError


def open_corpus(data_dir: str, splits=None, verify: str = "checksum") -> DatasetInfo:
  """A corpus's manifest; a labelled dataset is refused with one line."""
  info = DatasetInfo.load(data_dir, verify=verify, splits=splits)
  if not info.is_corpus:
    raise DatasetError(
        f"{data_dir} is a labelled {info.task} dataset, not a language-model corpus; "
        "build one with python -m gslm_keras.build_dataset --task=unlabelled")
  return info


def make_lm_dataset(data_dir: str, split: str, mode: str = "eval", batch_size: int = 64,
                    *, masker: NucleotideMasker | None = None, repeat_weight: float = 1.0,
                    reverse_complement: bool = False, seed: int = 0,
                    repeat: bool = False, shuffle_buffer: int = 10000,
                    skip_batches: int = 0, limit: int | None = None,
                    shard: tuple[int, int] | None = None, drop_remainder: bool = False,
                    verify: str = "checksum", with_sources: bool = False
                    ) -> tf.data.Dataset:
  """Batches of `(masked one-hot [B, L, 4], y [B, L, 2])` for `model.fit`.

  y[..., 0] is the original base (0-3) at each chosen position and -1 elsewhere;
  y[..., 1] its weight: `repeat_weight` on soft-masked (lower-case) bases, 1 on
  the others, 0 where nothing is predicted.

  Args:
    data_dir: a corpus directory.
    split: "train", "dev" or "test".
    mode: "train" (shuffled, optionally reverse-complemented) or "eval" (ordered).
    batch_size: windows per batch.
    masker: the masking layer (15% single bases, 80/10/10, when None).
    repeat_weight: loss weight of soft-masked bases (GPN uses 0.1).
    reverse_complement: train mode: reverse-complement each window with p=0.5.
    seed: seed of shuffling, augmentation and masks.
    repeat, shuffle_buffer, skip_batches, limit, shard, drop_remainder, verify: as
      in `make_dataset`.
    with_sources: also yield each window's source tag (evaluation per species).
  """
  info = open_corpus(data_dir, splits=[split], verify=verify)
  masker = masker or NucleotideMasker()
  training = mode == "train"
  length = info.length_rule.length
  spec = info.parse_spec()

  def transform(batch_index, serialized):
    parsed = tf.io.parse_example(serialized, spec)
    windows = ops.window_bytes(parsed["sequence"], length, "left")
    soft = tf.io.decode_raw(parsed["soft_mask"], tf.uint8, fixed_length=length)
    if training and reverse_complement:
      flip = tf.random.stateless_uniform(
          [tf.shape(windows)[0]], seed=[seed, batch_index * 2 + 1]) < 0.5
      windows = tf.where(flip[:, None], ops.reverse_complement_bytes(windows), windows)
      soft = tf.where(flip[:, None], tf.reverse(soft, [-1]), soft)
    base_weights = tf.where(soft > 0, repeat_weight, 1.0)
    out = masker(ops.one_hot(windows), seed=tf.stack(
        [tf.cast(seed, tf.int64), batch_index * 2]), base_weights=base_weights)
    y = tf.stack([tf.cast(out["targets"], tf.float32), out["weights"]], axis=-1)
    if with_sources:
      return out["sequence"], y, parsed["source"]
    return out["sequence"], y

  return batched_pipeline(
      info, split, transform, training=training, deterministic=True,
      batch_size=batch_size, seed=seed, repeat=repeat, shuffle_buffer=shuffle_buffer,
      drop_remainder=drop_remainder, limit=limit, shard=shard,
      skip_batches=skip_batches)
