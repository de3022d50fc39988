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

import tensorflow as tf

from gslm_keras.data.dataset_info import MANIFEST
from gslm_keras.dna import alphabet, ops
from gslm_keras.errors import ConfigError
from gslm_keras.run_dir import RunDir
from gslm_keras.serving.archive import ExportPlan
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


def plan(model_dir: str, options=None, warmup_count: int = 4):
  """A language model's `ExportPlan` (`options` are a classifier's and unused)."""
  from gslm_keras.inference.language import LanguageModel
  language_model = LanguageModel(model_dir)
  model = language_model.keras_model
  if model is None:
    raise ConfigError(f"{model_dir} is already an export")
  from_strings, from_one_hot = string_functions(model)
  run = RunDir(language_model.path)
  assets = {MANIFEST: run.manifest}
  if os.path.exists(run.config):
    assets["config.json"] = run.config
  yardsticks = language_model.yardsticks_path()
  if yardsticks:
    assets[os.path.basename(yardsticks)] = yardsticks
  length = language_model.length
  return ExportPlan(
      model=model,
      endpoints={
          "serving_default": (from_strings, [tf.TensorSpec([None], tf.string,
                                                           name="sequence")]),
          "base_probabilities_onehot": (from_one_hot, [
              tf.TensorSpec([None, None, 4], tf.float32, name="sequence")])},
      assets=assets,
      serving={"kind": "language_model", "model_dir": language_model.path,
               "window_length": length,
               "outputs": "probabilities [B, L, 4] in A, C, G, T order; length [B]"},
      warmup=([("ACGT" * length)[:length]] * warmup_count, None))
