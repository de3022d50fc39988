"""Exports a trained model as a TF Serving SavedModel.

`<export_base>/<model_name>/<version>/` holds the SavedModel with the signatures
`serving_default` (raw DNA strings, plus `provided_features` when the model has
any), `predict_onehot` (the model's tensor inputs) and `predict_examples`
(serialized tf.Example with the dataset schema); `assets/` with dataset_info.json
and the training config; `assets.extra/tf_serving_warmup_requests` with real
PredictionLog records built from the dataset's own sequences.
"""

from __future__ import annotations

import os
import shutil

from absl import logging

from gslm_keras.data.dataset_info import MANIFEST, DatasetInfo
from gslm_keras.encoding.schema import parse_spec
from gslm_keras.errors import ConfigError
from gslm_keras.io.files import write_json_atomic
from gslm_keras.io.outputs import exclusive_output, written_beside
from gslm_keras.run_dir import RunDir, data_dir_of
from gslm_keras.serving.config import ServingOptions
from gslm_keras.serving.signatures import ServingFunctions

WARMUP_FILE = os.path.join("assets.extra", "tf_serving_warmup_requests")


def _warmup_sequences(info: DatasetInfo, data_dir: str | None, count: int):
  """Real sequences for warm-up requests: from the dataset when it is at hand."""
  import tensorflow as tf

  if data_dir and os.path.exists(os.path.join(data_dir, MANIFEST)):
    built = DatasetInfo.load(data_dir, verify="none")
    split = "test" if "test" in built.splits else built.splits[0]
    spec = parse_spec(info.n_provided)
    records = tf.data.TFRecordDataset(built.shard_paths(split)[:1], built.compression)
    parsed = [tf.io.parse_single_example(r, spec) for r in records.take(count)]
    sequences = [p["sequence"].numpy().decode() for p in parsed]
    provided = [p["provided_features"].numpy() for p in parsed] if info.n_provided else None
    return sequences, provided
  # Without the dataset: windows of the model's length, all A (still real requests).
  return ["A" * info.length_rule.length] * count, (
      [[0.0] * info.n_provided] * count if info.n_provided else None)


def write_warmup(path: str, model_name: str, info: DatasetInfo, sequences, provided):
  """PredictionLog records TF Serving replays on load (batch 1 and a full batch)."""
  import numpy as np
  import tensorflow as tf
  from tensorflow_serving.apis import model_pb2, predict_pb2, prediction_log_pb2

  os.makedirs(os.path.dirname(path), exist_ok=True)
  with tf.io.TFRecordWriter(path) as writer:
    for batch in (1, len(sequences)):
      request = predict_pb2.PredictRequest(
          model_spec=model_pb2.ModelSpec(name=model_name,
                                         signature_name="serving_default"))
      request.inputs["sequence"].CopyFrom(tf.make_tensor_proto(sequences[:batch]))
      if provided is not None:
        request.inputs["provided_features"].CopyFrom(
            tf.make_tensor_proto(np.asarray(provided[:batch], np.float32)))
      log = prediction_log_pb2.PredictionLog(
          predict_log=prediction_log_pb2.PredictLog(request=request))
      writer.write(log.SerializeToString())


def _write_export(tmp: str, loaded, model_name: str, options: ServingOptions,
                  warmup_count: int) -> None:
  """The SavedModel, its assets and warm-up requests, written into `tmp`."""
  import keras

  model, info, run = loaded.keras_model, loaded.info, RunDir(loaded.path)
  functions = ServingFunctions(model, info, options)
  archive = keras.export.ExportArchive()
  archive.track(model)
  for name, (fn, signature) in functions.endpoints().items():
    archive.add_endpoint(name, fn, input_signature=signature)
  archive.write_out(tmp, verbose=False)
  assets = os.path.join(tmp, "assets")
  os.makedirs(assets, exist_ok=True)
  shutil.copy(run.manifest, os.path.join(assets, MANIFEST))
  shutil.copy(run.config, os.path.join(assets, "config.json"))
  write_json_atomic(os.path.join(assets, "serving.json"), {
      "unknown_letters": options.unknown_letters,
      "length_mismatch": options.length_mismatch, "model_dir": loaded.path,
      "window_length": info.length_rule.length, "task": info.task,
      "classes": info.classes, "provided_features": info.provided_feature_names})
  sequences, provided = _warmup_sequences(info, data_dir_of(loaded.config), warmup_count)
  write_warmup(os.path.join(tmp, WARMUP_FILE), model_name, info, sequences, provided)


def write_version(target: str, overwrite: bool, write) -> None:
  """`write(tmp)` fills a directory beside `target` that replaces it (with
  `overwrite`) only when complete, under `target`'s lock."""
  with exclusive_output(target, "export"):
    if os.path.exists(target) and not overwrite:
      raise ConfigError(f"{target} already exists; pass --overwrite to replace it, or "
                        "export a new --version")
    with written_beside(target, "exporting") as tmp:
      write(tmp)


def export_model(model_dir: str, export_base: str, model_name: str, version: int,
                 overwrite: bool = False, options: ServingOptions = ServingOptions(),
                 warmup_count: int = 8) -> str:
  """Exports `model_dir`'s model and returns the version directory.

  The version directory is taken with a lock; the export is written beside it
  and replaces an existing version (with `overwrite`) only when complete. A
  language model is exported with `language_export`'s signatures.

  Raises:
    ConfigError: the version exists (and overwrite is False), or a bad argument.
    DatasetError: model_dir is not a finished training run.
    OutputBusyError: another process is writing the same version.
  """
  from gslm_keras.inference.language import is_language_model
  from gslm_keras.inference.model import LoadedModel

  if version < 1:
    raise ConfigError(f"version={version}: expected an integer >= 1 (TF Serving "
                      "serves numeric versions)")
  if not model_name or os.sep in model_name:
    raise ConfigError(f"model_name={model_name!r}: expected a plain name")
  target = os.path.abspath(os.path.join(export_base, model_name, str(version)))
  if is_language_model(model_dir):
    from gslm_keras.serving.language_export import export_writer

    write = export_writer(model_dir, model_name)
  else:
    loaded = LoadedModel(model_dir)
    write = lambda tmp: _write_export(tmp, loaded, model_name, options,  # noqa: E731
                                      warmup_count)
  write_version(target, overwrite, write)
  logging.info("Exported %s to %s", model_dir, target)
  return target
