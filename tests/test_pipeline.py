"""make_dataset: shapes, order, values, augmentation and verification."""

from __future__ import annotations

import gzip
import os
import shutil

import numpy as np
import pytest
import tensorflow as tf
from Bio.Seq import reverse_complement
from Bio.SeqUtils import gc_fraction

from gslm_keras import make_dataset
from gslm_keras.data.dataset_info import MANIFEST, DatasetInfo
from gslm_keras.errors import DatasetError

from conftest import PROM_DIR, read_column
from helpers import build, read_records, write_table
import oracles
from test_features import ref_fickett

FEATURES = ["gc_content", "kmer:k=3:canonical=true", "fickett"]


@pytest.fixture(scope="module")
def prom(tmp_path_factory):
  out = tmp_path_factory.mktemp("prom") / "ds"
  return build(out, train=[PROM_DIR / "dev.csv"], test=[PROM_DIR / "test.csv"],
               computed_features=FEATURES, records_per_shard=150)


def _all(dataset):
  xs, ys = [], []
  for x, y in dataset:
    xs.append({k: v.numpy() for k, v in x.items()})
    ys.append(y.numpy())
  return ({k: np.concatenate([x[k] for x in xs]) for k in xs[0]}, np.concatenate(ys))


def test_eval_mode_yields_input_order_and_exact_encoding(prom):
  x, y = _all(make_dataset(prom.directory, "test", "eval", batch_size=64,
                           normalize=False))
  sequences = read_column(PROM_DIR / "test.csv")
  labels = read_column(PROM_DIR / "test.csv", "label")
  assert x["sequence"].shape == (613, 300, 4) and x["sequence"].dtype == np.float32
  assert x["features"].shape == (613, prom.n_features)
  np.testing.assert_array_equal(y, [int(v) for v in labels])
  for i in (0, 1, 300, 612):
    np.testing.assert_array_equal(x["sequence"][i], oracles.one_hot(sequences[i]))
  np.testing.assert_allclose(x["features"][:, 0], [gc_fraction(s) for s in sequences],
                             atol=1e-5)


def test_normalize_uses_train_statistics(prom):
  raw, _ = _all(make_dataset(prom.directory, "test", normalize=False))
  normalized, _ = _all(make_dataset(prom.directory, "test", normalize=True))
  mean, std = prom.normalization()
  np.testing.assert_allclose(normalized["features"], (raw["features"] - mean) / std,
                             rtol=1e-5, atol=1e-5)
  train, _ = _all(make_dataset(prom.directory, "train", normalize=True))
  np.testing.assert_allclose(train["features"].mean(axis=0), 0.0, atol=1e-4)


def test_train_mode_shuffles_reproducibly(prom):
  def ids(seed):
    dataset = make_dataset(prom.directory, "train", "train", batch_size=50, seed=seed,
                           with_ids=True)
    return [i.decode() for _, _, batch in dataset for i in batch.numpy()]

  first, second, other = ids(1), ids(1), ids(2)
  eval_ids = [r["id"] for r in read_records(prom, "train")]
  assert sorted(first) == sorted(eval_ids) and first != eval_ids
  assert first == second
  assert first != other


def test_reverse_complement_augmentation(prom):
  dataset = make_dataset(prom.directory, "train", "train", batch_size=613, seed=0,
                         reverse_complement=True, normalize=False, with_ids=True)
  x, _, ids = next(iter(dataset))
  by_id = {r["id"]: r["sequence"] for r in read_records(prom, "train")}
  flipped = 0
  for seq_one_hot, features, record_id in zip(x["sequence"].numpy(), x["features"].numpy(),
                                              ids.numpy()):
    forward = oracles.one_hot(by_id[record_id.decode()])
    if np.array_equal(seq_one_hot, forward):
      continue
    np.testing.assert_array_equal(seq_one_hot, forward[::-1, ::-1])
    # Features come from the same (flipped) window: the Fickett score, which is
    # not strand-symmetric, is the reverse complement's.
    sequence = by_id[record_id.decode()]
    assert features[-1] == pytest.approx(ref_fickett(reverse_complement(sequence)),
                                         abs=1e-5)
    flipped += 1
  assert 0.4 < flipped / 613 < 0.6


def test_shift_augmentation_stays_within_bound(prom):
  dataset = make_dataset(prom.directory, "train", "train", batch_size=200, seed=0,
                         max_shift=3, normalize=False, with_ids=True)
  x, _, ids = next(iter(dataset))
  by_id = {r["id"]: r["sequence"] for r in read_records(prom, "train")}
  shifts = set()
  for one_hot, record_id in zip(x["sequence"].numpy(), ids.numpy()):
    seq = by_id[record_id.decode()]
    matches = [s for s in range(-3, 4)
               if np.array_equal(one_hot, oracles.one_hot(
                   oracles.fit_length(seq, 300, "center", s)))]
    assert matches, "window is not any shift within the bound"
    shifts.add(matches[0])
  assert len(shifts) >= 5


def test_drop_remainder_gives_static_batches(prom):
  dataset = make_dataset(prom.directory, "test", batch_size=100, drop_remainder=True)
  assert dataset.element_spec[0]["sequence"].shape == (100, 300, 4)
  assert sum(1 for _ in dataset) == 6


def test_missing_provided_values_filled_with_train_mean(tmp_path):
  rows = read_column(PROM_DIR / "dev.csv", limit=40)
  table = write_table(tmp_path / "t.csv", "sequence,label,signal",
                      (f"{seq},{i % 2},{'' if i % 4 == 0 else i}"
                       for i, seq in enumerate(rows)))
  info = build(tmp_path / "ds", train=[table], provided_features=("signal",),
               missing_values="fill_mean")
  x, _ = _all(make_dataset(info.directory, "train", normalize=False))
  signal = np.array([np.nan if i % 4 == 0 else i for i in range(40)])
  expected = np.where(np.isnan(signal), np.nanmean(signal), signal)
  np.testing.assert_allclose(x["features"][:, 0], expected, rtol=1e-6)
  np.testing.assert_array_equal(x["features"][:, 1], np.isnan(signal).astype(float))
  normalized, _ = _all(make_dataset(info.directory, "train", normalize=True))
  assert np.isfinite(normalized["features"]).all()
  np.testing.assert_allclose(normalized["features"][np.isnan(signal), 0], 0.0, atol=1e-6)


def test_refuses_directory_without_manifest(prom, tmp_path):
  copy = tmp_path / "copy"
  shutil.copytree(prom.directory, copy)
  os.remove(copy / MANIFEST)
  with pytest.raises(DatasetError, match="has no dataset_info.json"):
    make_dataset(str(copy), "train")


def test_refuses_truncated_and_corrupted_shards(prom, tmp_path):
  copy = tmp_path / "copy"
  shutil.copytree(prom.directory, copy)
  info = DatasetInfo.load(str(copy), verify="none")
  shard = info.shard_paths("train")[1]
  data = open(shard, "rb").read()
  with open(shard, "wb") as handle:
    handle.write(data[:-40])
  with pytest.raises(DatasetError, match=f"{os.path.basename(shard)}.*bytes.*truncated"):
    make_dataset(str(copy), "train")
  with open(shard, "wb") as handle:
    handle.write(data[:100] + bytes([data[100] ^ 0xFF]) + data[101:])
  with pytest.raises(DatasetError, match="checksum .* differs"):
    make_dataset(str(copy), "train")
  # Without verification, TensorFlow's own reader still refuses the damage.
  with pytest.raises((tf.errors.DataLossError, tf.errors.InvalidArgumentError)):
    _all(make_dataset(str(copy), "train", verify="none"))


def test_full_verification_counts_records(prom, tmp_path):
  copy = tmp_path / "copy"
  shutil.copytree(prom.directory, copy)
  info = DatasetInfo.load(str(copy), verify="none")
  info.data["splits"]["test"]["shards"][0]["num_records"] += 1
  import json

  with open(copy / MANIFEST, "w") as handle:
    json.dump(info.data, handle)
  # The manifest contradicts itself: refused as soon as it is read.
  with pytest.raises(DatasetError, match="splits.test.num_records is 613, its shards "
                                         "hold 614"):
    DatasetInfo.load(str(copy), verify="none")
  info.data["splits"]["test"]["num_records"] += 1
  with open(copy / MANIFEST, "w") as handle:
    json.dump(info.data, handle)
  DatasetInfo.load(str(copy), verify="checksum")  # sizes and hashes still agree
  with pytest.raises(DatasetError, match="holds 150 records, dataset_info.json says 151"):
    DatasetInfo.load(str(copy), verify="full")


def test_unknown_split_is_named(prom):
  with pytest.raises(DatasetError, match="no split 'dev'; it has train, test"):
    make_dataset(prom.directory, "dev")


def test_gzip_shards_are_real_gzip(prom):
  with gzip.open(prom.shard_paths("test")[0], "rb") as handle:
    assert len(handle.read(16)) == 16


def test_the_default_feeds_a_gslm_model_once_normalised(prom):
  # What a user writes: make_dataset with its defaults, straight into a model
  # built for the dataset. The model normalises inside, so the features must
  # arrive raw: the predictions equal those on the encoder's raw features.
  from gslm_keras.encoding.encoder import SequenceEncoder
  from gslm_keras.models import build_model, preset

  info = DatasetInfo.load(prom.directory)
  mean, std = info.normalization()
  model = build_model(preset("tiny"), length=300, n_features=info.n_features,
                      task="binary", n_outputs=1, feature_mean=mean, feature_std=std)
  inputs, _ = next(iter(make_dataset(prom.directory, "test", batch_size=32)))
  sequences = [r["sequence"] for r in read_records(info, "test")[:32]]
  raw = SequenceEncoder.from_info(info)(tf.constant(sequences))
  np.testing.assert_allclose(inputs["features"], raw["features"], rtol=1e-6)
  np.testing.assert_allclose(model(inputs, training=False), model(raw, training=False),
                             rtol=1e-5)
  twice = SequenceEncoder.from_info(info)(tf.constant(sequences), normalize=True)
  assert not np.allclose(model(twice, training=False), model(raw, training=False),
                         rtol=1e-3)
