"""`LoadedModel`: a trained model from a training run's directory or a SavedModel
export, behind one interface for every consumer (evaluate, predict, export,
score_variants, interpret)."""

from __future__ import annotations

import os
from typing import Sequence

import numpy as np
import tensorflow as tf

from gslm_keras.data.dataset_info import DatasetInfo
from gslm_keras.dna import ops
from gslm_keras.encoding.encoder import SequenceEncoder
from gslm_keras.errors import ConfigError, DatasetError
from gslm_keras.inference import outputs
from gslm_keras.io.files import read_json
from gslm_keras.io.model_files import load_model
from gslm_keras.run_dir import Resolved, RunDir
from gslm_keras.tasks.supervised import SUPERVISED, task_type

EXPORT_ASSETS = "assets"


def is_export(path: str) -> bool:
  return os.path.exists(os.path.join(path, "saved_model.pb"))


class LoadedModel:
  """A trained model and the dataset contract it was trained with.

  Args:
    path: a training run's model_dir (`model.keras`, `dataset_info.json`), a
      SavedModel export (`saved_model.pb`, `assets/dataset_info.json`) or a
      shipped preset's name. A language model is refused with one line.

  Attributes:
    path: as given.
    kind: "run" or "export".
    task: the supervised task type (`tasks.supervised.TaskType`).
    info: the manifest of the training dataset.
    config: the training config (JSON dict), or {} when not recorded.
    encoder: the dataset's `SequenceEncoder`.
    columns: output column names (see `gslm_keras.inference.outputs`).
  """

  def __init__(self, path: str):
    from gslm_keras import presets
    from gslm_keras.inference.manifest import require

    path = presets.resolve(path)
    require(path, SUPERVISED, "this command")
    self.path = path
    if is_export(path):
      self.kind = "export"
      assets = os.path.join(path, EXPORT_ASSETS)
      manifest = os.path.join(assets, "dataset_info.json")
      if not os.path.exists(manifest):
        raise DatasetError(f"{path} is a SavedModel without {EXPORT_ASSETS}/"
                           "dataset_info.json: not a gslm_keras export")
      self.info = DatasetInfo(read_json(manifest), path)
      config_path = os.path.join(assets, "config.json")
      self.config = read_json(config_path) if os.path.exists(config_path) else {}
      self._saved = tf.saved_model.load(path)
      self._keras = None
    elif os.path.exists(RunDir(path).model):

      import gslm_keras.models.layers  # noqa: F401  Registers the custom layers.

      self.kind = "run"
      run = RunDir(path)
      if not os.path.exists(run.manifest):
        raise DatasetError(f"{path} has model.keras but no dataset_info.json: not a "
                           "directory written by python -m gslm_keras.train")
      self.info = DatasetInfo(read_json(run.manifest), path)
      self.config = read_json(run.config) if os.path.exists(run.config) else {}
      self._keras = load_model(run.model, "train it again (python -m gslm_keras.train "
                               "... --overwrite) or restore it from a copy")
      self._saved = None
    else:
      raise DatasetError(f"{path} is neither a training run (model.keras) nor a "
                         "SavedModel export (saved_model.pb)")
    self.task = task_type(self.info.task)
    self.encoder = SequenceEncoder.from_info(self.info)
    self.columns = outputs.output_columns(self.info)
    self._predict_strings = None
    self._log_strings = None

  @property
  def keras_model(self):
    """The Keras model (a training run only: gradients and layers need it)."""
    if self._keras is None:
      raise ConfigError(f"{self.path} is a SavedModel export; this needs the training "
                        "run's directory (model.keras), which has the layers")
    return self._keras

  def strand_symmetry(self) -> str | None:
    """Why the model reads both strands alike: "rc_average" (it averages both
    itself), "reverse_complement" (trained with reverse-complement augmentation),
    or None: a strand-oriented model, or one whose training is not recorded."""
    model = self.config.get("model", self.config)
    data = self.config.get("data", self.config)
    resolved = Resolved.of(self.config)
    architecture = (resolved.model if resolved else None) or {}
    if architecture.get("rc_average") or model.get("rc_average"):
      return "rc_average"
    if self._keras is not None and self.parts() is not None and self.parts()[2]:
      return "rc_average"
    if data.get("reverse_complement"):
      return "reverse_complement"
    return None

  def parts(self):
    """(backbone or None, head, rc_average) of a training run's model, or None.

    A gslm_keras model is a sequence backbone and a task head (see
    `gslm_keras.models.builder`); a consumer that needs the same window under
    several feature vectors runs the backbone once per window. None for exports
    (their signatures are the whole model) and models without a task head.
    """
    if self._keras is None:
      return None
    from gslm_keras.models.backbone import BACKBONE_NAME
    from gslm_keras.models.builder import HEAD_NAME

    layers = {layer.name: layer for layer in self._keras.layers}
    if HEAD_NAME not in layers:
      return None
    return (layers.get(BACKBONE_NAME), layers[HEAD_NAME],
            "reverse_complement" in layers or "strand_average" in layers)

  @property
  def length(self) -> int:
    return self.info.length_rule.length

  def outputs(self, one_hot, features) -> tf.Tensor:
    """float32 [N, columns] from model inputs; a TF function, graph-safe."""
    if self._keras is not None:
      return outputs.to_columns(
          self.info, self._keras({"sequence": one_hot, "features": features},
                                 training=False))
    out = self._saved.signatures["predict_onehot"](
        sequence=tf.convert_to_tensor(one_hot, tf.float32),
        features=tf.convert_to_tensor(features, tf.float32))
    return out[outputs.output_key(self.info)]

  def predict_inputs(self, one_hot, features) -> np.ndarray:
    return np.asarray(self.outputs(one_hot, features))

  def predict(self, sequences: Sequence[str], provided: np.ndarray | None = None,
              batch_size: int = 256, rc_average: bool = False, meter=None
              ) -> np.ndarray:
    """float32 [N, columns] for raw DNA strings, encoded as in training.

    Args:
      sequences: DNA strings, any case, any length (cropped or padded by the rule).
      provided: float [N, n_provided] provided features (NaN: missing); required
        when the model has provided features.
      batch_size: sequences per batch.
      rc_average: average with the prediction for the reverse complement of each
        window (features recomputed on it).
      meter: a `features.shift.ShiftMeter` given each batch's features (as the
        model sees them before its normalisation).
    """
    if self._predict_strings is None:
      self._predict_strings = tf.function(self._strings_to_columns, reduce_retracing=True)
    parts = []
    for strings, extra in self._batches(sequences, provided, batch_size):
      columns, features = self._predict_strings(strings, extra, rc_average)
      parts.append(columns.numpy())
      if meter is not None:
        meter.update(features.numpy())
    return (np.concatenate(parts) if parts
            else np.zeros((0, len(self.columns)), np.float32))

  def log_probabilities(self, sequences: Sequence[str], provided: np.ndarray | None = None,
                        batch_size: int = 256) -> tuple[np.ndarray, np.ndarray]:
    """(log p, log(1 - p)) float64 [N, columns] of a classifier for raw DNA strings.

    From the output layer's logits for a training run, so that a probability
    float32 rounds to 1.0 still has its log-odds (`gslm_keras.inference.log_space`);
    from probabilities clipped to [1e-7, 1 - 1e-7] for an export, whose
    signatures give only probabilities.
    """
    from gslm_keras.inference import log_space

    if not task_type(self.info.task).probabilities:
      raise ConfigError(f"{self.path} is a regression model: it has no probabilities")
    if self._log_strings is None:
      log_model = log_space.LogModel.build(self._keras, self.info.task)
      if log_model is None:
        return log_space.from_probabilities(self.predict(sequences, provided, batch_size))

      def strings_to_logs(strings, extra):
        one_hot, features = self._inputs(self.encoder.windows(strings), extra)
        return log_space.to_columns(self.info.task, *log_model(one_hot, features))

      self._log_strings = tf.function(strings_to_logs, reduce_retracing=True)
    parts = []
    for strings, extra in self._batches(sequences, provided, batch_size):
      parts.append([np.asarray(t, np.float64) for t in self._log_strings(strings, extra)])
    if not parts:
      empty = np.zeros((0, len(self.columns)))
      return empty, empty.copy()
    return (np.concatenate([p for p, _ in parts]), np.concatenate([q for _, q in parts]))

  def _batches(self, sequences: Sequence[str], provided, batch_size: int):
    """(strings [B], provided [B, P] or [B, 0]) tensors, a batch at a time; refuses a
    model's provided features missing."""
    if self.info.n_provided and provided is None:
      raise ConfigError(f"the model takes {self.info.n_provided} provided features "
                        f"({', '.join(self.info.provided_feature_names)}); pass them")
    for start in range(0, len(sequences), batch_size):
      strings = tf.constant(list(sequences[start:start + batch_size]), tf.string)
      yield strings, (tf.zeros([len(strings), 0], tf.float32) if provided is None else
                      tf.constant(np.asarray(provided[start:start + batch_size],
                                             np.float32)))

  def _inputs(self, windows, extra):
    """(one-hot, features) of uint8 windows and their provided features."""
    one_hot, computed = self.encoder.encode_windows(windows)
    return one_hot, self.encoder.features(computed,
                                          extra if self.info.n_provided else None)

  def _strings_to_columns(self, strings, extra, rc_average: bool):
    """(output columns, features) of a batch of strings."""
    windows = self.encoder.windows(strings)
    one_hot, features = self._inputs(windows, extra)
    columns = self.outputs(one_hot, features)
    if rc_average:
      reverse = self.windows_to_columns(ops.reverse_complement_bytes(windows), extra)
      columns = (columns + reverse) / 2.0
    return columns, features

  def windows_to_columns(self, windows: tf.Tensor, provided: tf.Tensor | None) -> tf.Tensor:
    """uint8 windows [N, L] (and provided [N, P]) -> float32 [N, columns]."""
    return self.outputs(*self._inputs(windows, provided))

  def check_dataset(self, info: DatasetInfo) -> None:
    """Refuses a dataset whose windows, features or labels the model cannot take."""
    where = info.directory
    if self.length != info.length_rule.length:
      raise ConfigError(f"the model reads {self.length} bp windows, dataset {where} "
                        f"makes {info.length_rule.length} bp windows")
    if self.info.n_features != info.n_features:
      raise ConfigError(f"the model takes {self.info.n_features} features, dataset "
                        f"{where} has {info.n_features}")
    if self.info.task != info.task:
      raise ConfigError(f"the model is a {self.info.task} model, dataset {where} is a "
                        f"{info.task} task")
    compared = ["feature_names", "classes"]
    if not task_type(info.task).probabilities:
      compared.append("label_columns")
    for what in compared:
      ours, theirs = getattr(self.info, what), getattr(info, what)
      if ours != theirs:
        raise ConfigError(
            f"dataset {where} has {what} {theirs}, the model was trained with {ours}")
