"""Helpers shared by the dataset tests."""

from __future__ import annotations

import os
import time

import numpy as np
import tensorflow as tf

from gslm_keras.data.builder.builder import BuildConfig, build_dataset
from gslm_keras.data.readers import InputSpec
from gslm_keras.features import parse_specs


def specs(*paths) -> tuple[InputSpec, ...]:
  return tuple(InputSpec.parse(str(p)) for p in paths)


def build(output_dir, **kwargs):
  """build_dataset with test-friendly defaults (inline writing, quiet progress)."""
  kwargs.setdefault("num_workers", 1)
  kwargs.setdefault("progress_seconds", 1e9)
  for key in ("train", "dev", "test", "input"):
    if key in kwargs and not isinstance(kwargs[key], tuple):
      kwargs[key] = specs(*kwargs[key])
  if "computed_features" in kwargs:
    kwargs["computed_features"] = parse_specs(kwargs["computed_features"])
  return build_dataset(BuildConfig(output_dir=str(output_dir), **kwargs))


def read_records(info, split) -> list[dict]:
  """Every record of a split, parsed with the raw tf.train.Example API."""
  records = []
  for path in info.shard_paths(split):
    for raw in tf.data.TFRecordDataset(path, info.compression):
      example = tf.train.Example.FromString(raw.numpy())
      feature = example.features.feature
      record = {"sequence": feature["sequence"].bytes_list.value[0].decode(),
                "id": feature["id"].bytes_list.value[0].decode(),
                "provided": np.array(feature["provided_features"].float_list.value)}
      label = feature["label"]
      record["label"] = (label.int64_list.value[0] if label.int64_list.value
                         else list(label.float_list.value))
      for key in ("chrom", "strand"):
        if key in feature:
          record[key] = feature[key].bytes_list.value[0].decode()
      for key in ("start", "end"):
        if key in feature:
          record[key] = feature[key].int64_list.value[0]
      records.append(record)
  return records


def leftovers(parent) -> list[str]:
  """Temporary build directories or files left in `parent`."""
  return [name for name in os.listdir(parent) if ".building-" in name or ".old-" in name]


def write_table(path, header: str, rows) -> str:
  """Writes a header line and one line per row; returns the path as a string."""
  with open(path, "w") as handle:
    handle.write(header + "\n")
    handle.writelines(row + "\n" for row in rows)
  return str(path)


def keras_run(model_dir):
  """(keras model, encoder) of a training run, read straight from its files
  (model.keras and dataset_info.json) without the package's loader: an
  independent path to compare the loaders with."""
  import json

  import keras

  import gslm_keras.models.layers  # noqa: F401  Registers the custom layers.
  from gslm_keras.data.dataset_info import DatasetInfo
  from gslm_keras.encoding.encoder import SequenceEncoder

  with open(os.path.join(model_dir, "dataset_info.json")) as handle:
    info = DatasetInfo(json.load(handle))
  model = keras.models.load_model(os.path.join(model_dir, "model.keras"))
  return model, SequenceEncoder.from_info(info)


def keras_predictions(model_dir, sequences, provided=None):
  """(raw model outputs, encoded inputs) of a training run for raw sequences."""
  model, encoder = keras_run(model_dir)
  inputs = encoder(tf.constant(list(sequences)), provided)
  return np.asarray(model(inputs, training=False)), inputs


def segments_backed_up(model_dir) -> int:
  """Segments a run in `model_dir` has backed up so far (0 while none or mid-write)."""
  path = model_dir / "checkpoints" / "backup" / "state.npz"
  try:
    with np.load(path) as state:
      return int(state["segment"])
  except (OSError, ValueError, KeyError):
    return 0


def serialized_records(info, split) -> list[bytes]:
  """Every serialized record of a split, sorted: the split's multiset of records."""
  return sorted(raw.numpy() for path in info.shard_paths(split)
                for raw in tf.data.TFRecordDataset(path, info.compression))


# Manifest entries two builds of the same inputs must agree on (the date, the
# command, the engine and the shard files may differ).
SAME_DATA_KEYS = ("feature_names", "task", "compression", "split_rule",
                  "skipped_by_reader", "sequence_overlaps", "missing_values",
                  "computed_features", "provided_features", "corpus")


def assert_same_data(a, b, rtol: float = 1e-9) -> None:
  """Two datasets hold the same records per split, counts and statistics."""
  for key in SAME_DATA_KEYS:
    assert a.data.get(key) == b.data.get(key), key
  assert a.data["sequence"]["length_rule"] == b.data["sequence"]["length_rule"]
  assert a.data["sequence"].get("observed_length") == b.data["sequence"].get(
      "observed_length")
  for split in ("train", "dev", "test"):
    sa, sb = a.data["splits"][split], b.data["splits"][split]
    for key in ("num_records", "length_actions", "class_counts"):
      assert sa.get(key) == sb.get(key), (split, key)
    assert sum(s["num_records"] for s in sa["shards"]) == sa["num_records"]
    assert sum(s["num_records"] for s in sb["shards"]) == sb["num_records"]
    assert serialized_records(a, split) == serialized_records(b, split), split
  na, nb = a.data["normalization"], b.data["normalization"]
  assert na["count"] == nb["count"]
  for key in ("mean", "std"):
    np.testing.assert_allclose(na[key], nb[key], rtol=rtol, atol=0)


def alive(pid: int) -> bool:
  """The process exists and is not a zombie."""
  try:
    with open(f"/proc/{pid}/stat") as handle:
      return handle.read().split(") ")[1][0] != "Z"
  except OSError:
    return False


def _children_by_parent() -> dict[int, list[int]]:
  """Every process's children, from one pass over /proc."""
  children: dict[int, list[int]] = {}
  for entry in filter(str.isdigit, os.listdir("/proc")):
    try:
      with open(f"/proc/{entry}/stat") as handle:
        parent = int(handle.read().split(") ")[1].split()[1])
    except OSError:
      continue
    children.setdefault(parent, []).append(int(entry))
  return children


def children(pid: int) -> list[int]:
  """The processes whose parent is `pid`."""
  return _children_by_parent().get(pid, [])


def descendants(pid: int) -> list[int]:
  """The children of `pid`, their children, and so on."""
  tree = _children_by_parent()
  found, todo = [], [pid]
  while todo:
    for child in tree.get(todo.pop(), []):
      found.append(child)
      todo.append(child)
  return found


def wait_for(condition, timeout=240, what="condition") -> None:
  deadline = time.time() + timeout
  while time.time() < deadline:
    if condition():
      return
    time.sleep(0.05)
  raise AssertionError(f"timed out waiting for {what}")


# The fields that make a preset's head design (not its widths).
HEAD_DESIGN = ("pooling", "pool_bins", "position_dropout", "wide", "fusion",
               "fusion_activation", "fusion_norm", "branch_norm", "film",
               "modality_dropout")


def with_head_of(config, name: str):
  """`config` (a small ModelConfig) with the head design of preset `name`, so that
  a test on a small model exercises what that preset builds."""
  from gslm_keras.models import preset

  source = preset(name)
  return config.replace(**{field: getattr(source, field) for field in HEAD_DESIGN})
