"""The serving functions: raw DNA, one-hot and tf.Example inputs, named outputs.

All three end in the same `outputs` function, and the raw-string paths use the
dataset's `SequenceEncoder`, the function the training pipeline used: serving and
training cannot disagree on a window, a one-hot code or a feature value.
"""

from __future__ import annotations

import tensorflow as tf

from gslm_keras.data.dataset_info import DatasetInfo
from gslm_keras.dna import alphabet
from gslm_keras.encoding.encoder import SequenceEncoder
from gslm_keras.encoding.schema import parse_spec
from gslm_keras.inference.outputs import to_columns
from gslm_keras.serving.config import ServingOptions
from gslm_keras.tasks.supervised import task_type

# Letters the dataset alphabet accepts (IUPAC codes, any case).
_VALID = f"[{alphabet.VALID_LETTERS}]+"


def assert_no_row(bad: tf.Tensor, message: str, rows: tf.Tensor):
  """An assertion that no row is `bad`; its message names the first bad row."""
  # One extra good row keeps the gather valid for an empty request.
  padded = tf.concat([tf.cast(bad, tf.int32), [0]], axis=0)
  first = tf.cast(tf.argmax(padded), tf.int32)
  row = tf.gather(tf.concat([rows, [""]], axis=0), first)
  return tf.debugging.Assert(
      tf.logical_not(tf.reduce_any(bad)),
      [message + "; first at row (0-based)", first, ":", row[None]], summarize=1)


def call_model(model, inputs, batch: tf.Tensor, empty_shape) -> tf.Tensor:
  """`model(inputs)`, or float32 zeros of `empty_shape` (batch 0) for an empty
  request: an empty batch is answered with empty outputs, not a graph error from
  inside the layers."""
  return tf.cond(batch > 0, lambda: tf.cast(model(inputs, training=False), tf.float32),
                 lambda: tf.zeros(empty_shape, tf.float32))


class ServingFunctions:
  """Builds the signature functions of one trained model.

  Args:
    model: the trained Keras model (inputs `sequence` and `features`).
    info: the manifest of the dataset it was trained on.
    options: export-time choices.
  """

  def __init__(self, model, info: DatasetInfo, options: ServingOptions = ServingOptions()):
    self.model = model
    self.info = info
    self.options = options
    self.encoder = SequenceEncoder.from_info(info)
    self.length = info.length_rule.length
    self.n_features = info.n_features
    self.n_provided = info.n_provided
    self.task = info.task
    self.missing_policy = info.data["missing_values"]["policy"]
    classes = list(info.classes)
    self.classes = tf.constant(classes if classes else [""], tf.string)
    self.class_names = classes

  # -- outputs -------------------------------------------------------------------

  def outputs(self, predictions: tf.Tensor) -> dict[str, tf.Tensor]:
    """Named outputs from the model's float32 output."""
    batch = tf.shape(predictions)[0]
    if not task_type(self.task).probabilities:
      return {"values": predictions}
    probabilities = to_columns(self.info, predictions)
    out = {"probabilities": probabilities,
           "classes": tf.tile(self.classes[None, :], [batch, 1])}
    if task_type(self.task).classes:
      out["predicted_class"] = tf.gather(self.classes, tf.argmax(probabilities, axis=1))
    return out

  # -- raw strings -----------------------------------------------------------------

  def check_sequences(self, sequences: tf.Tensor) -> list:
    """Assertions that fail the request with a message, naming the first bad row,
    instead of giving a wrong answer."""
    empty = tf.equal(tf.strings.length(sequences), 0)
    checks = [assert_no_row(empty, "input 'sequence' holds an empty string; send DNA "
                                    "sequences", sequences)]
    if self.options.unknown_letters == "error":
      invalid = tf.logical_not(tf.strings.regex_full_match(sequences, _VALID))
      checks.append(assert_no_row(
          invalid & tf.logical_not(empty), "input 'sequence' holds a character outside "
          "the IUPAC nucleotide codes ACGTUNRYSWKMBDHV (any case)", sequences))
    return checks

  def check_provided(self, sequence: tf.Tensor, provided: tf.Tensor) -> list:
    checks = [tf.debugging.assert_equal(
        tf.shape(provided)[0], tf.shape(sequence)[0],
        message="inputs 'sequence' and 'provided_features' have different batch sizes")]
    infinite = tf.reduce_any(tf.math.is_inf(provided), axis=1)
    checks.append(assert_no_row(infinite, "input 'provided_features' holds an infinite "
                                           "value", sequence))
    if self.missing_policy == "error":
      # NaN means "missing"; a model trained without missing values has no rule for it.
      missing = tf.reduce_any(tf.math.is_nan(provided), axis=1)
      checks.append(assert_no_row(
          missing, "input 'provided_features' holds NaN (missing), but the model was "
                   "trained without missing values; send every value", sequence))
    return checks

  def length_adjustment(self, sequences: tf.Tensor):
    """(checks, "none" / "padded" / "cropped" per row) by the length rule."""
    rule = self.info.length_rule
    lengths = tf.strings.length(sequences)
    longer, shorter = lengths > self.length, lengths < self.length
    checks = []
    for bad, n in ((longer, self.length + 1), (shorter, self.length - 1)):
      if rule.at_prediction(n, self.options.length_mismatch) == "refuse":
        reason = rule.refusal(n > self.length, "export with --length_mismatch=adjust")
        checks.append(assert_no_row(
            bad, f"input 'sequence' holds a sequence {reason}", sequences))
    adjustment = tf.where(longer, "cropped", tf.where(shorter, "padded", "none"))
    return checks, adjustment

  def model_inputs(self, sequences: tf.Tensor, provided: tf.Tensor | None):
    """(model inputs, what was done per row) of raw strings: "length_adjustment",
    and "replaced_letters" (characters read as N) under unknown_letters=as_n."""
    report = {}
    with tf.control_dependencies(self.check_sequences(sequences)):
      if self.options.unknown_letters == "as_n":
        outside = tf.strings.regex_replace(sequences, _VALID, "")
        report["replaced_letters"] = tf.strings.length(outside, unit="UTF8_CHAR")
        # One N per character, not per byte: a multi-byte UTF-8 letter would
        # otherwise become several N and shift the window.
        sequences = tf.strings.regex_replace(sequences, "[^\\x00-\\x7f]", "N")
    checks, report["length_adjustment"] = self.length_adjustment(sequences)
    with tf.control_dependencies(checks):
      one_hot, computed = self.encoder.encode_windows(self.encoder.windows(sequences))
    features = self.encoder.features(computed, provided)
    return {"sequence": one_hot, "features": features}, report

  def predictions(self, inputs: dict) -> tf.Tensor:
    """The model's float32 output [batch, outputs]; empty for an empty batch."""
    width = self.model.outputs[0].shape[-1]
    return call_model(self.model, inputs, tf.shape(inputs["sequence"])[0], [0, width])

  def from_strings(self, sequence: tf.Tensor, provided_features: tf.Tensor | None = None):
    if provided_features is not None:
      with tf.control_dependencies(self.check_provided(sequence, provided_features)):
        provided_features = tf.identity(provided_features)
    inputs, report = self.model_inputs(sequence, provided_features)
    return {**self.outputs(self.predictions(inputs)), **report}

  # -- one-hot -----------------------------------------------------------------------

  def from_one_hot(self, sequence: tf.Tensor, features: tf.Tensor):
    checks = [
        tf.debugging.assert_equal(
            tf.shape(sequence)[1], self.length,
            message=f"input 'sequence' must be one-hot windows of {self.length} bases "
                    "[batch, length, 4]; got another length"),
        tf.debugging.assert_equal(
            tf.shape(features)[0], tf.shape(sequence)[0],
            message="inputs 'sequence' and 'features' have different batch sizes"),
        assert_no_row(tf.logical_not(tf.reduce_all(tf.math.is_finite(features), axis=1)),
                       "input 'features' holds NaN or an infinite value",
                       tf.zeros([tf.shape(features)[0]], tf.string))]
    with tf.control_dependencies(checks):
      sequence, features = tf.identity(sequence), tf.identity(features)
    return self.outputs(self.predictions({"sequence": sequence, "features": features}))

  # -- tf.Example ------------------------------------------------------------------

  def from_examples(self, examples: tf.Tensor):
    parsed = tf.io.parse_example(examples, parse_spec(self.n_provided))
    return self.from_strings(parsed["sequence"], parsed.get("provided_features"))

  # -- signatures ------------------------------------------------------------------

  def endpoints(self) -> dict[str, tuple]:
    """name -> (function, input signature) for `keras.export.ExportArchive`."""
    string_spec = tf.TensorSpec([None], tf.string, name="sequence")
    if self.n_provided:
      provided_spec = tf.TensorSpec([None, self.n_provided], tf.float32,
                                    name="provided_features")

      def serving_default(sequence, provided_features):
        return self.from_strings(sequence, provided_features)

      default = (serving_default, [string_spec, provided_spec])
    else:

      def serving_default(sequence):
        return self.from_strings(sequence)

      default = (serving_default, [string_spec])

    def predict_onehot(sequence, features):
      return self.from_one_hot(sequence, features)

    def predict_examples(examples):
      return self.from_examples(examples)

    return {
        "serving_default": default,
        "predict_onehot": (predict_onehot, [
            tf.TensorSpec([None, self.length, 4], tf.float32, name="sequence"),
            tf.TensorSpec([None, self.n_features], tf.float32, name="features")]),
        "predict_examples": (predict_examples, [
            tf.TensorSpec([None], tf.string, name="examples")]),
    }
