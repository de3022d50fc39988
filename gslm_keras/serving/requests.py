"""TF Serving requests for a gslm_keras export, and how the server maps them.

Client side: build a gRPC `PredictRequest` or a REST body for the raw-DNA signature.
Server side, for tests and local use: `serve_predict_request` and `serve_rest` map a
request onto a loaded SavedModel's signature the way TF Serving does (inputs by
name, every input required, no unknown input, row "instances" or columnar "inputs"
REST bodies), so a request that works here has the shape the server expects.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import tensorflow as tf

from gslm_keras.errors import GslmError


class RequestError(GslmError, ValueError):
  """A request that TF Serving would refuse (and why)."""


def predict_request(model_name: str, sequences: Sequence[str],
                    provided_features=None, signature_name: str = "serving_default",
                    version: int | None = None):
  """A gRPC `PredictRequest` for the raw-DNA signature."""
  from tensorflow_serving.apis import model_pb2, predict_pb2

  spec = model_pb2.ModelSpec(name=model_name, signature_name=signature_name)
  if version is not None:
    spec.version.value = version
  request = predict_pb2.PredictRequest(model_spec=spec)
  request.inputs["sequence"].CopyFrom(tf.make_tensor_proto(list(sequences), tf.string))
  if provided_features is not None:
    request.inputs["provided_features"].CopyFrom(
        tf.make_tensor_proto(np.asarray(provided_features, np.float32)))
  return request


def rest_body(sequences: Sequence[str], provided_features=None,
              signature_name: str = "serving_default", columnar: bool = False) -> dict:
  """A REST predict body: row format ("instances") or columnar ("inputs")."""
  if columnar:
    inputs: dict[str, Any] = {"sequence": list(sequences)}
    if provided_features is not None:
      inputs["provided_features"] = np.asarray(provided_features, float).tolist()
    return {"signature_name": signature_name, "inputs": inputs}
  instances = []
  for i, sequence in enumerate(sequences):
    instance: dict[str, Any] = {"sequence": sequence}
    if provided_features is not None:
      instance["provided_features"] = np.asarray(provided_features[i], float).tolist()
    instances.append(instance)
  return {"signature_name": signature_name, "instances": instances}


def _signature(loaded, name: str):
  if name not in loaded.signatures:
    raise RequestError(f"serving signature {name!r} not found; the model has "
                       f"{', '.join(sorted(loaded.signatures))}")
  return loaded.signatures[name]


def _call(signature, tensors: dict[str, Any]) -> dict[str, np.ndarray]:
  expected = signature.structured_input_signature[1]
  unknown = sorted(set(tensors) - set(expected))
  missing = sorted(set(expected) - set(tensors))
  if unknown or missing:
    raise RequestError(f"request inputs {sorted(tensors)} do not match the signature's "
                       f"{sorted(expected)} (unknown: {unknown}, missing: {missing})")
  args = {}
  for name, spec in expected.items():
    try:
      value = np.asarray(tensors[name])
    except ValueError:
      raise RequestError(f"input {name!r} has rows of different lengths; the signature "
                         f"expects shape {spec.shape.as_list()}") from None
    if spec.dtype == tf.string:
      if value.dtype.kind not in ("U", "S", "O"):
        raise RequestError(f"input {name!r} expects strings, got {value.dtype}")
    elif value.dtype.kind not in ("f", "i", "u"):
      raise RequestError(f"input {name!r} expects numbers, got {value.dtype}")
    if not spec.shape.is_compatible_with(value.shape):
      expected = ("a list of DNA strings" if spec.dtype == tf.string
                  else "a list of rows of numbers")
      raise RequestError(f"input {name!r} has shape {list(value.shape)}, the "
                         f"signature expects {spec.shape.as_list()} ({expected})")
    args[name] = (tf.constant(value.astype(object), tf.string)
                  if spec.dtype == tf.string else tf.constant(value, spec.dtype))
  return {k: v.numpy() for k, v in signature(**args).items()}


def serve_predict_request(loaded, request):
  """A `PredictResponse` for a `PredictRequest`, as TF Serving computes it."""
  from tensorflow_serving.apis import predict_pb2

  signature = _signature(loaded, request.model_spec.signature_name or "serving_default")
  tensors = {name: tf.make_ndarray(proto) for name, proto in request.inputs.items()}
  outputs = _call(signature, tensors)
  response = predict_pb2.PredictResponse()
  response.model_spec.CopyFrom(request.model_spec)
  wanted = set(request.output_filter) or set(outputs)
  for name, value in outputs.items():
    if name in wanted:
      response.outputs[name].CopyFrom(tf.make_tensor_proto(value))
  return response


def _jsonable(value: np.ndarray):
  if value.dtype.kind in ("O", "S"):
    return np.vectorize(lambda v: v.decode() if isinstance(v, bytes) else v,
                        otypes=[object])(value).tolist()
  return value.tolist()


def serve_rest(loaded, body: dict) -> dict:
  """The JSON TF Serving's REST predict API returns for `body`."""
  signature = _signature(loaded, body.get("signature_name", "serving_default"))
  if ("instances" in body) == ("inputs" in body):
    raise RequestError("a REST predict body holds either 'instances' or 'inputs'")
  if "inputs" in body:
    outputs = _call(signature, {k: np.asarray(v) for k, v in body["inputs"].items()})
    return {"outputs": {k: _jsonable(v) for k, v in outputs.items()}}
  instances = body["instances"]
  if not instances or not all(isinstance(i, dict) for i in instances):
    raise RequestError("'instances' must be a non-empty list of objects keyed by input")
  names = set(instances[0])
  if any(set(i) != names for i in instances):
    raise RequestError("every instance must name the same inputs")
  outputs = _call(signature, {n: np.asarray([i[n] for i in instances]) for n in names})
  rows = range(len(instances))
  if len(outputs) == 1:  # TF Serving drops the output name when there is one.
    (value,) = outputs.values()
    return {"predictions": [_jsonable(np.asarray(value[row])) for row in rows]}
  return {"predictions": [{k: _jsonable(np.asarray(v[row])) for k, v in outputs.items()}
                          for row in rows]}
