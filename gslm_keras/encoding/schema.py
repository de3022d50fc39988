"""The `tf.train.Example` schema of dataset records: one writer, one parse spec.

Keys (DESIGN.md, "On-disk dataset contract"): `sequence` (bytes, upper case),
`id` (bytes), `provided_features` (float list, may be empty), `label` (int64
class index, or float list for multi-label and regression; absent when
unlabelled), and `chrom`, `start`, `end`, `strand` when the source has
coordinates; in language-model corpora also `source` (bytes, the species or
source tag) and `soft_mask` (bytes, one 0/1 byte per base: 1 where the input was
lower case, a soft-masked repeat). Every writer (the streaming builder's shard workers) builds its
examples with `make_example`, and every reader (the input pipeline, the serving
signature, the export's warm-up requests) parses with `parse_spec`.
"""

from __future__ import annotations

from typing import Any, NamedTuple, Sequence

LABEL_KINDS = ("int", "float", "none")


class Record(NamedTuple):
  """One dataset record, as written (a tuple: it pickles cheaply to workers).

  Attributes:
    id: record id.
    sequence: upper-case sequence.
    label: class index (label kind "int"), float vector ("float") or None.
    provided: provided-feature values (NaN for missing), possibly empty.
    chrom, start, end, strand: coordinates when the source has them.
    source: species or source tag (corpora).
    soft_mask: one byte per base, 1 where soft-masked (corpora).
  """

  id: str
  sequence: str
  label: Any = None
  provided: Sequence[float] = ()
  chrom: str | None = None
  start: int | None = None
  end: int | None = None
  strand: str | None = None
  source: str | None = None
  soft_mask: bytes | None = None


def label_kind(task: str | None) -> str:
  """"int" for binary/multiclass, "float" for multilabel/regression, else "none"."""
  if task in ("binary", "multiclass"):
    return "int"
  if task in ("multilabel", "regression"):
    return "float"
  return "none"


def make_example(record: Record, kind: str):
  """The `tf.train.Example` of one record; `kind` is the label kind."""
  import tensorflow as tf

  def text(value: str):
    return tf.train.Feature(bytes_list=tf.train.BytesList(value=[value.encode()]))

  feature = {
      "sequence": text(record.sequence),
      "id": text(record.id),
      "provided_features": tf.train.Feature(
          float_list=tf.train.FloatList(value=record.provided)),
  }
  if kind == "int":
    feature["label"] = tf.train.Feature(int64_list=tf.train.Int64List(value=[record.label]))
  elif kind == "float":
    feature["label"] = tf.train.Feature(float_list=tf.train.FloatList(value=record.label))
  if record.chrom is not None:
    feature["chrom"] = text(record.chrom)
  for key, value in (("start", record.start), ("end", record.end)):
    if value is not None:
      feature[key] = tf.train.Feature(int64_list=tf.train.Int64List(value=[value]))
  if record.strand is not None:
    feature["strand"] = text(record.strand)
  if record.source is not None:
    feature["source"] = text(record.source)
  if record.soft_mask is not None:
    feature["soft_mask"] = tf.train.Feature(
        bytes_list=tf.train.BytesList(value=[record.soft_mask]))
  return tf.train.Example(features=tf.train.Features(feature=feature))


def serialize(record: Record, kind: str) -> bytes:
  """The example's bytes, with the feature map in key order: protobuf writes map
  entries in an order that can change from process to process (string hashing),
  and a dataset rebuilt from the same input should be the same bytes."""
  return make_example(record, kind).SerializeToString(deterministic=True)


def parse_spec(n_provided: int = 0, kind: str = "none", label_width: int = 0,
               with_ids: bool = False, with_corpus: bool = False) -> dict:
  """The `tf.io.parse_example` spec of the keys a reader needs.

  Args:
    n_provided: provided features per record (0: not parsed).
    kind: label kind ("none": the label is not parsed).
    label_width: length of a "float" label vector.
    with_ids: also parse `id`.
    with_corpus: also parse `source` and `soft_mask` (corpora).
  """
  import tensorflow as tf

  spec = {"sequence": tf.io.FixedLenFeature([], tf.string)}
  if n_provided:
    spec["provided_features"] = tf.io.FixedLenFeature([n_provided], tf.float32)
  if kind == "int":
    spec["label"] = tf.io.FixedLenFeature([], tf.int64)
  elif kind == "float":
    spec["label"] = tf.io.FixedLenFeature([label_width], tf.float32)
  if with_ids:
    spec["id"] = tf.io.FixedLenFeature([], tf.string)
  if with_corpus:
    spec["source"] = tf.io.FixedLenFeature([], tf.string)
    spec["soft_mask"] = tf.io.FixedLenFeature([], tf.string)
  return spec
