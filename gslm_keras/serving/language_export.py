"""Exports a nucleotide language model as a TF Serving SavedModel.

Signatures:
- `serving_default`: `sequence` tf.string [B] (raw DNA, any case, any length; a
  batch is padded with N to its longest sequence) -> `probabilities` float32
  [B, L, 4] (P(A), P(C), P(G), P(T) at every position, each read with the
  position as given: mask a position by sending N there) and `length` int32 [B].
  A character outside the IUPAC codes fails the request with a message naming
  the row.
- `base_probabilities_onehot`: `sequence` float32 [B, L, 4] -> `probabilities`.
`assets/` holds the corpus manifest, the config, the yardsticks and serving.json.
"""

from __future__ import annotations

import os
import shutil

import tensorflow as tf

from gslm_keras.data.dataset_info import MANIFEST
from gslm_keras.dna import alphabet, ops
from gslm_keras.errors import ConfigError
from gslm_keras.io.files import write_json_atomic
from gslm_keras.run_dir import RunDir
from gslm_keras.serving.signatures import assert_no_row, call_model

_VALID = f"[{alphabet.VALID_LETTERS}]*"


def string_functions(model):
  """(serving_default, base_probabilities_onehot) as TF functions."""

  def probabilities(one_hot):
    shape = tf.shape(one_hot)
    return call_model(model, one_hot, shape[0] * shape[1], [shape[0], shape[1], 4])

  def from_strings(sequence):
    empty = tf.equal(tf.strings.length(sequence), 0)
    checks = [
        assert_no_row(empty, "input 'sequence' holds an empty string; send DNA "
                             "sequences", sequence),
        assert_no_row(tf.logical_not(tf.strings.regex_full_match(sequence, _VALID)),
                      "input 'sequence' holds a character outside the IUPAC nucleotide "
                      "codes (ACGTUN RYSWKMBDHV, any case)", sequence)]
    with tf.control_dependencies(checks):
      codes = tf.strings.unicode_decode(sequence, "UTF-8")
    length = tf.cast(codes.row_lengths(), tf.int32)
    raw = tf.cast(codes.to_tensor(default_value=ord(alphabet.PAD_LETTER)), tf.uint8)
    return {"probabilities": probabilities(ops.one_hot(raw)), "length": length}

  def from_one_hot(sequence):
    return {"probabilities": probabilities(sequence)}

  return from_strings, from_one_hot


def _write(tmp: str, language_model, model_name: str) -> None:
  import keras

  model = language_model.keras_model
  from_strings, from_one_hot = string_functions(model)
  archive = keras.export.ExportArchive()
  archive.track(model)
  archive.add_endpoint("serving_default", from_strings,
                       input_signature=[tf.TensorSpec([None], tf.string, name="sequence")])
  archive.add_endpoint("base_probabilities_onehot", from_one_hot, input_signature=[
      tf.TensorSpec([None, None, 4], tf.float32, name="sequence")])
  archive.write_out(tmp, verbose=False)
  run = RunDir(language_model.path)
  assets = os.path.join(tmp, "assets")
  os.makedirs(assets, exist_ok=True)
  shutil.copy(run.manifest, os.path.join(assets, MANIFEST))
  if os.path.exists(run.config):
    shutil.copy(run.config, os.path.join(assets, "config.json"))
  yardsticks = language_model.yardsticks_path()
  if yardsticks:
    shutil.copy(yardsticks, os.path.join(assets, os.path.basename(yardsticks)))
  write_json_atomic(os.path.join(assets, "serving.json"), {
      "kind": "language_model", "model_dir": language_model.path,
      "window_length": language_model.length,
      "outputs": "probabilities [B, L, 4] in A, C, G, T order; length [B]"})
  _warmup(tmp, model_name, language_model.length)


def _warmup(tmp: str, model_name: str, length: int) -> None:
  from tensorflow_serving.apis import model_pb2, predict_pb2, prediction_log_pb2

  path = os.path.join(tmp, "assets.extra", "tf_serving_warmup_requests")
  os.makedirs(os.path.dirname(path), exist_ok=True)
  sequences = [("ACGT" * length)[:length]] * 4
  with tf.io.TFRecordWriter(path) as writer:
    request = predict_pb2.PredictRequest(model_spec=model_pb2.ModelSpec(
        name=model_name, signature_name="serving_default"))
    request.inputs["sequence"].CopyFrom(tf.make_tensor_proto(sequences))
    writer.write(prediction_log_pb2.PredictionLog(predict_log=prediction_log_pb2.PredictLog(
        request=request)).SerializeToString())


def export_writer(model_dir: str, model_name: str):
  """The function that writes a language model's export into a directory (for
  `export.write_version`)."""
  from gslm_keras.inference.language import LanguageModel

  language_model = LanguageModel(model_dir)
  if language_model.keras_model is None:
    raise ConfigError(f"{model_dir} is already an export")
  return lambda tmp: _write(tmp, language_model, model_name)
