"""`dataset_info.json`: the self-description of a dataset directory, and its checks.

The JSON is the contract (DESIGN.md, "On-disk dataset contract"); `DatasetInfo`
reads it with typed accessors and `load` refuses a directory that is incomplete
or whose shards disagree with it.
"""

from __future__ import annotations

import json
import os
from typing import Any

import numpy as np

from gslm_keras.dna.length import LengthRule
from gslm_keras.errors import DatasetError, GslmError
from gslm_keras.io.files import sha256_file

SCHEMA_VERSION = 1
MANIFEST = "dataset_info.json"
CLASS_TASKS = ("binary", "multiclass")
UNLABELLED = "unlabelled"
TASKS = ("binary", "multiclass", "multilabel", "regression", UNLABELLED)
VERIFY_MODES = ("full", "checksum", "none")
_SUFFIX = {"GZIP": ".tfrecord.gz", "NONE": ".tfrecord"}


def shard_name(split: str, index: int, count: int, compression: str) -> str:
  """`<split>-<i:05d>-of-<n:05d>.tfrecord.gz` (or .tfrecord uncompressed)."""
  return f"{split}-{index:05d}-of-{count:05d}{_SUFFIX[compression]}"


# Shards already hashed in this process, by (path, size, mtime): opening the
# train and dev splits of one dataset, or reopening it, hashes each file once.
_VERIFIED: dict[tuple[str, int, int], str] = {}


class DatasetInfo:
  """Typed view of a dataset manifest.

  Args:
    data: the parsed `dataset_info.json`.
    directory: the dataset directory it belongs to, or None while building.
  """

  def __init__(self, data: dict[str, Any], directory: str | None = None):
    self.data = data
    self.directory = directory

  # -- sequence and features -------------------------------------------------

  @property
  def length_rule(self) -> LengthRule:
    return LengthRule.from_json(self.data["sequence"]["length_rule"])

  @property
  def ambiguous(self) -> str:
    return self.data["sequence"]["ambiguous"]

  @property
  def computed_features(self):
    from gslm_keras.features.spec import FeatureSpec

    return tuple(FeatureSpec.from_json(f) for f in self.data["computed_features"])

  @property
  def computed_feature_names(self) -> list[str]:
    return [name for f in self.data["computed_features"] for name in f["outputs"]]

  @property
  def provided_feature_names(self) -> list[str]:
    return [f["name"] for f in self.data["provided_features"]]

  @property
  def feature_names(self) -> list[str]:
    return self.computed_feature_names + self.provided_feature_names

  @property
  def n_features(self) -> int:
    return len(self.feature_names)

  @property
  def n_provided(self) -> int:
    return len(self.provided_feature_names)

  def normalization(self) -> tuple[np.ndarray, np.ndarray]:
    """(mean, std) float32 [n_features], from the train split."""
    norm = self.data["normalization"]
    return (np.asarray(norm["mean"], np.float32), np.asarray(norm["std"], np.float32))

  # -- labels ------------------------------------------------------------------

  @property
  def task(self) -> str:
    return self.data["task"]["type"]

  @property
  def is_corpus(self) -> bool:
    """Whether this is a language-model corpus (task `unlabelled`)."""
    return self.task == UNLABELLED

  @property
  def corpus(self) -> dict[str, Any]:
    """The corpus section: window rule, per-source counts, exclusions."""
    return self.data.get("corpus") or {}

  @property
  def classes(self) -> list[str]:
    return list(self.data["task"].get("classes") or [])

  @property
  def label_columns(self) -> list[str]:
    return list(self.data["task"]["label_columns"])

  @property
  def label_kind(self) -> str:
    """The record schema's label kind: "int", "float" or "none"."""
    from gslm_keras.encoding.schema import label_kind

    return label_kind(self.task)

  def parse_spec(self, with_ids: bool = False, with_labels: bool = True) -> dict:
    """The `tf.io.parse_example` spec of this dataset's records."""
    from gslm_keras.encoding.schema import parse_spec

    return parse_spec(self.n_provided, self.label_kind if with_labels else "none",
                      self.label_width, with_ids, with_corpus=self.is_corpus)

  def provided_plan(self, missing_hint: str | None = None):
    """The `ProvidedPlan` of this dataset's provided features."""
    from gslm_keras.features.provided import MODEL_HINT, ProvidedPlan

    return ProvidedPlan.from_manifest(self.data["provided_features"],
                                      self.data["missing_values"]["policy"],
                                      missing_hint or MODEL_HINT)

  @property
  def label_width(self) -> int:
    """0 for a scalar class index; else the length of the float label vector."""
    if self.task in CLASS_TASKS:
      return 0
    if self.task == "multilabel":
      return len(self.classes)
    if self.task == UNLABELLED:
      return 0
    return len(self.data["task"]["label_columns"])

  # -- shards ------------------------------------------------------------------

  @property
  def compression(self) -> str:
    return self.data["compression"]

  @property
  def splits(self) -> list[str]:
    return [name for name, split in self.data["splits"].items() if split["shards"]]

  def num_records(self, split: str) -> int:
    return self._split(split)["num_records"]

  def _split(self, split: str) -> dict[str, Any]:
    if split not in self.data["splits"] or not self.data["splits"][split]["shards"]:
      raise DatasetError(
          f"dataset {self.directory} has no split {split!r}; it has "
          f"{', '.join(self.splits) or 'none'}")
    return self.data["splits"][split]

  def shard_paths(self, split: str) -> list[str]:
    return [os.path.join(self.directory or "", shard["file"])
            for shard in self._split(split)["shards"]]

  def to_json(self) -> dict[str, Any]:
    return self.data

  # -- reading -----------------------------------------------------------------

  @classmethod
  def load(cls, directory: str, verify: str = "checksum",
           splits: list[str] | None = None) -> "DatasetInfo":
    """Reads and checks a dataset directory.

    Args:
      directory: the dataset directory.
      verify: "checksum" (sha256 and size of every shard, cached per process),
        "full" (also reads every record to count it) or "none".
      splits: splits whose shards to check; all when None.

    Raises:
      DatasetError: no manifest (an incomplete build), an unknown schema, a
        missing shard, or a shard whose size, checksum or record count disagrees.
    """
    if verify not in VERIFY_MODES:
      raise ValueError(f"verify={verify!r}: expected one of {', '.join(VERIFY_MODES)}")
    path = os.path.join(directory, MANIFEST)
    if not os.path.isdir(directory):
      raise DatasetError(f"dataset directory {directory} does not exist")
    if not os.path.exists(path):
      raise DatasetError(
          f"{directory} has no {MANIFEST}: it is not a dataset, or its build did not "
          "finish (the manifest is written last). Build it with "
          "python -m gslm_keras.build_dataset")
    try:
      with open(path, encoding="utf-8") as handle:
        data = json.load(handle)
    except ValueError as error:
      raise DatasetError(f"{path} is not valid JSON: {error}") from None
    if not isinstance(data, dict):
      raise DatasetError(f"{path}: not a dataset manifest (a JSON object was expected); "
                         "rebuild the dataset")
    version = data.get("schema_version")
    if version != SCHEMA_VERSION:
      raise DatasetError(
          f"{path}: schema_version {version!r}, this gslm_keras reads "
          f"{SCHEMA_VERSION}; rebuild the dataset")
    validate(data, path)
    info = cls(data, directory)
    if verify != "none":
      for split in splits if splits is not None else info.splits:
        info.verify_split(split, full=verify == "full")
    return info

  def verify_split(self, split: str, full: bool = False) -> None:
    for shard, path in zip(self._split(split)["shards"], self.shard_paths(split)):
      if not os.path.exists(path):
        raise DatasetError(f"shard {path} listed in {MANIFEST} is missing")
      stat = os.stat(path)
      if stat.st_size != shard["bytes"]:
        raise DatasetError(
            f"shard {path} has {stat.st_size} bytes, {MANIFEST} says "
            f"{shard['bytes']}: truncated or replaced; rebuild the dataset")
      key = (os.path.abspath(path), stat.st_size, stat.st_mtime_ns)
      digest = _VERIFIED.get(key) or sha256_file(path)
      if digest != shard["sha256"]:
        raise DatasetError(
            f"shard {path} checksum {digest[:12]}... differs from {MANIFEST} "
            f"({shard['sha256'][:12]}...): corrupted; rebuild the dataset")
      _VERIFIED[key] = digest
      if full:
        count = count_records(path, self.compression)
        if count != shard["num_records"]:
          raise DatasetError(
              f"shard {path} holds {count} records, {MANIFEST} says "
              f"{shard['num_records']}")


def _need(data: dict, path: str, *keys: str):
  """data[keys[0]][keys[1]]..., or a DatasetError naming the missing key."""
  value = data
  for depth, key in enumerate(keys):
    if not isinstance(value, dict) or key not in value:
      raise DatasetError(f"{path}: key {'.'.join(keys[:depth + 1])} is missing: an "
                         "incomplete or edited manifest; rebuild the dataset")
    value = value[key]
  return value


def validate(data: dict, path: str) -> None:
  """Refuses a manifest that a reader could not use or that contradicts itself.

  Raises:
    DatasetError: naming the manifest, the key and what is wrong.
  """
  fix = "; rebuild the dataset with python -m gslm_keras.build_dataset"
  try:
    LengthRule.from_json(_need(data, path, "sequence", "length_rule"))
  except (TypeError, GslmError) as error:
    raise DatasetError(f"{path}: sequence.length_rule is not valid ({error}){fix}") from None
  if _need(data, path, "sequence", "ambiguous") not in ("zeros", "iupac"):
    raise DatasetError(f"{path}: sequence.ambiguous must be zeros or iupac{fix}")
  names = _need(data, path, "feature_names")
  computed = [n for f in _need(data, path, "computed_features")
              for n in _need(f, path, "outputs")]
  provided = [_need(f, path, "name") for f in _need(data, path, "provided_features")]
  if names != computed + provided:
    raise DatasetError(f"{path}: feature_names ({len(names)}) disagree with the computed "
                       f"and provided features ({len(computed)} + {len(provided)}){fix}")
  for key in ("mean", "std"):
    values = np.asarray(_need(data, path, "normalization", key), np.float64)
    if values.shape != (len(names),) or not np.isfinite(values).all():
      raise DatasetError(f"{path}: normalization.{key} must hold {len(names)} finite "
                         f"numbers{fix}")
  std = np.asarray(data["normalization"]["std"], np.float64)
  if (std <= 0).any():
    raise DatasetError(f"{path}: normalization.std of feature "
                       f"{names[int(np.argmax(std <= 0))]!r} is {std[std <= 0][0]:g}; a "
                       f"standard deviation must be > 0{fix}")
  task = _need(data, path, "task", "type")
  if task not in TASKS:
    raise DatasetError(f"{path}: task.type {task!r} is not one of {', '.join(TASKS)}{fix}")
  if task in CLASS_TASKS and len(data["task"].get("classes") or []) < 2:
    raise DatasetError(f"{path}: a {task} task needs at least two task.classes{fix}")
  if _need(data, path, "compression") not in _SUFFIX:
    raise DatasetError(f"{path}: compression must be GZIP or NONE{fix}")
  _need(data, path, "missing_values", "policy")
  for split, entry in _need(data, path, "splits").items():
    shards = _need(entry, path, "shards")
    counts = [_need(shard, path, "num_records") for shard in shards]
    if any(os.path.basename(_need(s, path, "file")) != s["file"] for s in shards):
      raise DatasetError(f"{path}: splits.{split}.shards name files outside the "
                         f"dataset directory{fix}")
    if _need(entry, path, "num_records") != sum(counts):
      raise DatasetError(f"{path}: splits.{split}.num_records is {entry['num_records']}, "
                         f"its shards hold {sum(counts)}{fix}")


def count_records(path: str, compression: str) -> int:
  """Reads a TFRecord file through and counts its records."""
  import tensorflow as tf

  dataset = tf.data.TFRecordDataset(path, compression_type=compression)
  try:
    return int(dataset.reduce(np.int64(0), lambda n, _: n + 1))
  except tf.errors.DataLossError as error:
    raise DatasetError(f"shard {path} is corrupted: {error.message}") from None
