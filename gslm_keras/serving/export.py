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

from absl import logging

from gslm_keras.data.dataset_info import MANIFEST, DatasetInfo
from gslm_keras.encoding.schema import parse_spec
from gslm_keras.errors import ConfigError
from gslm_keras.io.outputs import exclusive_output, written_beside
from gslm_keras.run_dir import RunDir, data_dir_of
from gslm_keras.serving import language_export
from gslm_keras.serving.archive import ExportPlan, write_export
from gslm_keras.serving.config import ServingOptions
from gslm_keras.serving.signatures import ServingFunctions
from gslm_keras.tasks.language import MASKED_NUCLEOTIDE
from gslm_keras.tasks.supervised import SUPERVISED



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


def classifier_plan(model_dir: str, options: ServingOptions,
                    warmup_count: int) -> ExportPlan:
  """A supervised model's export: raw-DNA, one-hot and tf.Example signatures."""
  from gslm_keras.inference.model import LoadedModel

  loaded = LoadedModel(model_dir)
  model, info, run = loaded.keras_model, loaded.info, RunDir(loaded.path)
  return ExportPlan(
      model=model, endpoints=ServingFunctions(model, info, options).endpoints(),
      assets={MANIFEST: run.manifest, "config.json": run.config},
      serving={"unknown_letters": options.unknown_letters,
               "length_mismatch": options.length_mismatch, "model_dir": loaded.path,
               "window_length": info.length_rule.length, "task": info.task,
               "classes": info.classes,
               "provided_features": info.provided_feature_names},
      warmup=_warmup_sequences(info, data_dir_of(loaded.config), warmup_count))


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
  and replaces an existing version (with `overwrite`) only when complete. What
  it holds is the model's task's `ExportPlan` (a language model's:
  `language_export.plan`).

  Raises:
    ConfigError: the version exists (and overwrite is False), or a bad argument.
    DatasetError: model_dir is not a finished training run.
    OutputBusyError: another process is writing the same version.
  """
  from gslm_keras.inference.manifest import for_task

  if version < 1:
    raise ConfigError(f"version={version}: expected an integer >= 1 (TF Serving "
                      "serves numeric versions)")
  if not model_name or os.sep in model_name:
    raise ConfigError(f"model_name={model_name!r}: expected a plain name")
  target = os.path.abspath(os.path.join(export_base, model_name, str(version)))
  plan = for_task(model_dir, {SUPERVISED: classifier_plan,
                              MASKED_NUCLEOTIDE.objective: language_export.plan})
  plan = plan(model_dir, options, warmup_count)
  write_version(target, overwrite, lambda tmp: write_export(tmp, plan, model_name))
  logging.info("Exported %s to %s", model_dir, target)
  return target
