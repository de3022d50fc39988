"""The encoder layer and the record schema: one description, every use agrees."""

from __future__ import annotations

import json
import pathlib

import keras
import numpy as np
import pytest
import tensorflow as tf

from gslm_keras.data.dataset_info import DatasetInfo
from gslm_keras.dna.length import LengthRule
from gslm_keras.encoding import schema
from gslm_keras.encoding.encoder import SequenceEncoder
from gslm_keras.features import parse_specs

import oracles
from conftest import PROM_DIR, read_column
from helpers import build, read_records

SEQS = read_column(PROM_DIR / "test.csv", limit=24)
DATA = pathlib.Path(__file__).parent / "data"


def _encoder():
  return SequenceEncoder(LengthRule(250, "center", "crop", "pad"), "iupac",
                         parse_specs(["gc_content", "kmer:k=2", "fickett"]),
                         provided_mean=[0.5, 2.0], mean=np.arange(20.0),
                         std=np.full(20, 2.0))


def test_config_round_trip_gives_identical_outputs():
  encoder = _encoder()
  config = encoder.get_config()
  json.dumps(config)  # Plain JSON: a dataset or an export can carry it.
  rebuilt = SequenceEncoder.from_config(config)
  assert rebuilt.get_config() == config
  revived = keras.saving.deserialize_keras_object(
      json.loads(json.dumps(keras.saving.serialize_keras_object(encoder))))
  assert isinstance(revived, SequenceEncoder)
  provided = np.array([[1.0, np.nan]] * len(SEQS), np.float32)
  for other in (rebuilt, revived):
    for normalize in (False, True):
      a = encoder(tf.constant(SEQS), provided, normalize=normalize)
      b = other(tf.constant(SEQS), provided, normalize=normalize)
      for key in ("sequence", "features"):
        np.testing.assert_array_equal(a[key].numpy(), b[key].numpy())


def test_outputs_match_the_oracles():
  encoder = _encoder()
  out = encoder(tf.constant(SEQS), np.array([[1.0, np.nan]] * len(SEQS), np.float32))
  for sequence, one_hot in zip(SEQS, out["sequence"].numpy()):
    np.testing.assert_array_equal(
        one_hot, oracles.one_hot(oracles.fit_length(sequence, 250, "center"), "iupac"))
  gc = [oracles.fit_length(s, 250).count("G") + oracles.fit_length(s, 250).count("C")
        for s in SEQS]
  np.testing.assert_allclose(out["features"][:, 0], np.array(gc) / 250, rtol=1e-6)
  # Missing provided values are the train mean.
  np.testing.assert_array_equal(out["features"][:, -2:], [[1.0, 2.0]] * len(SEQS))


def test_maps_over_a_dataset_before_and_after_batching():
  encoder = _encoder()
  provided = np.array([[float(i), 0.0] for i in range(len(SEQS))], np.float32)
  data = tf.data.Dataset.from_tensor_slices((SEQS, provided))
  unbatched = data.map(lambda s, p: encoder(s, p)).batch(8)
  batched = data.batch(8).map(lambda s, p: encoder(s, p))
  for a, b in zip(unbatched, batched):
    assert a["sequence"].shape == (8, 250, 4) and a["features"].shape == (8, 20)
    np.testing.assert_array_equal(a["sequence"], b["sequence"])
    np.testing.assert_allclose(a["features"], b["features"], rtol=1e-6)


def test_a_dataset_describes_its_encoder(tmp_path):
  info = build(tmp_path / "ds", train=[PROM_DIR / "dev.csv"],
               computed_features=["gc_content", "cpg_oe"])
  encoder = SequenceEncoder.from_info(info)
  assert encoder.get_config()["length_rule"] == info.data["sequence"]["length_rule"]
  assert [c["name"] for c in encoder.get_config()["computed"]] == ["gc_content", "cpg_oe"]
  np.testing.assert_allclose(encoder.mean, info.normalization()[0])


def test_record_schema_round_trip():
  record = schema.Record("r1", "ACGTN", 1, [0.5, float("nan")], "chr2", 10, 15, "-")
  serialized = schema.make_example(record, "int").SerializeToString()
  parsed = tf.io.parse_example([serialized], schema.parse_spec(2, "int", with_ids=True))
  assert parsed["sequence"].numpy()[0] == b"ACGTN" and parsed["id"].numpy()[0] == b"r1"
  assert parsed["label"].numpy()[0] == 1
  np.testing.assert_array_equal(parsed["provided_features"].numpy()[0], [0.5, np.nan])
  vector = schema.Record("r2", "AC", [0.0, 2.5])
  parsed = tf.io.parse_example([schema.make_example(vector, "float").SerializeToString()],
                               schema.parse_spec(0, "float", 2))
  np.testing.assert_array_equal(parsed["label"].numpy()[0], [0.0, 2.5])
  with pytest.raises(TypeError):
    schema.make_example(schema.Record("r3", "AC", "not a number"), "int")


def test_the_builder_writes_the_schema(tmp_path):
  # What the shard writers wrote parses with the dataset's own spec.
  info = build(tmp_path / "ds", train=[PROM_DIR / "dev.csv"])
  records = read_records(info, "train")
  loaded = DatasetInfo.load(info.directory)
  raw = next(iter(tf.data.TFRecordDataset(loaded.shard_paths("train"), loaded.compression)))
  parsed = tf.io.parse_example([raw], loaded.parse_spec(with_ids=True))
  assert parsed["sequence"].numpy()[0].decode() == records[0]["sequence"]
  assert parsed["id"].numpy()[0].decode() == records[0]["id"]
  assert int(parsed["label"].numpy()[0]) == records[0]["label"]


def test_a_dataset_built_by_0_1_0_still_opens_and_holds_the_same_records(tmp_path):
  from gslm_keras import make_dataset

  old = DatasetInfo.load(str(DATA / "dataset_v0_1_0"), verify="full")
  args = dict(input=[DATA / "prom40.csv"], split_fractions=(0.5, 0.25, 0.25),
              computed_features=["gc_content", "kmer:k=2"], records_per_shard=8)
  new = build(tmp_path / "new", **args)
  for split in ("train", "dev", "test"):
    old_records, new_records = read_records(old, split), read_records(new, split)
    assert len(old_records) == len(new_records) > 0
    for a, b in zip(old_records, new_records):
      assert a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)
  for key in ("sequence", "computed_features", "normalization", "task", "feature_names"):
    assert old.data[key] == new.data[key], key
  old_batch = next(iter(make_dataset(old.directory, "test", batch_size=16)))
  new_batch = next(iter(make_dataset(new.directory, "test", batch_size=16)))
  for key in ("sequence", "features"):
    np.testing.assert_array_equal(old_batch[0][key], new_batch[0][key])
  # Examples are written with their feature map in key order: a rebuild is the
  # same bytes.
  again = build(tmp_path / "again", **args)
  assert ([s["sha256"] for s in again.data["splits"]["train"]["shards"]]
          == [s["sha256"] for s in new.data["splits"]["train"]["shards"]])
