"""The one frame of a TF Serving export, whatever the model's task: a task gives
an `ExportPlan` (its model, signatures, assets and warm-up requests) and
`write_export` writes it the same way for every task."""

from __future__ import annotations

import dataclasses
import os
import shutil
from typing import Any

from gslm_keras.io.files import write_json_atomic

WARMUP_FILE = os.path.join("assets.extra", "tf_serving_warmup_requests")


@dataclasses.dataclass
class ExportPlan:
  """What one task's export holds; `write_export` writes any plan the same way.

  Attributes:
    model: the Keras model the endpoints call.
    endpoints: signature name -> (function, input signature).
    assets: file name under assets/ -> the file copied there.
    serving: what assets/serving.json records.
    warmup: (sequences, provided features or None) for the warm-up requests.
  """

  model: Any
  endpoints: dict[str, tuple]
  assets: dict[str, str]
  serving: dict[str, Any]
  warmup: tuple[list[str], Any]


def write_warmup(path: str, model_name: str, sequences, provided) -> None:
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


def write_export(tmp: str, plan: ExportPlan, model_name: str) -> None:
  """The SavedModel, its assets and warm-up requests, written into `tmp`."""
  import keras

  archive = keras.export.ExportArchive()
  archive.track(plan.model)
  for name, (fn, signature) in plan.endpoints.items():
    archive.add_endpoint(name, fn, input_signature=signature)
  archive.write_out(tmp, verbose=False)
  assets = os.path.join(tmp, "assets")
  os.makedirs(assets, exist_ok=True)
  for name, source in plan.assets.items():
    shutil.copy(source, os.path.join(assets, name))
  write_json_atomic(os.path.join(assets, "serving.json"), plan.serving)
  write_warmup(os.path.join(tmp, WARMUP_FILE), model_name, *plan.warmup)
