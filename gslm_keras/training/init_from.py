"""`--init_from`: start a model's sequence backbone from another model's weights.

The source is a language model (`pretrain`), a trained classifier (`train`) or a
preset name. Its `sequence_backbone` and the new model's have the same layer
names by construction (`build_backbone`); weights are copied layer by layer by
name, and a layer whose weight shapes differ ends the run with one line naming
it and both shapes. The source and the sha256 of its model file are recorded in
the run's config.

A trained classifier also has a `task_head`: its feature branch (`feature_*`
layers) is copied when the source was trained on the same features, in the same
order, and every shape agrees; the rest of the head (fusion and output layers)
when, besides, the source predicts the same classes (same task and class names).
Otherwise those parts start new. The feature normalisation is never copied: it
holds the new dataset's statistics.
"""

from __future__ import annotations

import os

from absl import logging

from gslm_keras.errors import ConfigError
from gslm_keras.io.files import read_json, sha256_file
from gslm_keras.io.model_files import load_model
from gslm_keras.run_dir import RunDir


def source_file(source: str) -> str:
  """The model file of `source` (a run directory, its model.keras, or a preset name)."""
  path = RunDir(_source_dir(source)).model
  if not os.path.exists(path):
    raise ConfigError(f"--init_from={source}: no model.keras there (a pretrain or train "
                      "run directory, its model.keras, or a preset name, is expected)")
  return path


def describe(source: str) -> dict:
  """The source as a run and a results file record it: its name, its model file
  (`portable_path`) and the file's sha256."""
  path = source_file(source)
  return {"source": source, "model_file": portable_path(path),
          "sha256": sha256_file(path)}


def portable_path(path: str) -> str:
  """A file inside the installed package (a preset's) as `gslm_keras/...`, the same
  on every machine and in every checkout; any other file as its absolute path."""
  import gslm_keras

  root = os.path.dirname(os.path.abspath(gslm_keras.__file__))
  full = os.path.abspath(path)
  if os.path.commonpath([full, root]) == root:
    return os.path.join("gslm_keras", os.path.relpath(full, root))
  return full


def start(model, source: str, info=None) -> dict:
  """Starts `model` from `source` (`load_backbone`); what the run records: the
  source, its model file and sha256, and the parts copied. The one way every
  training path (fit, the multi-worker loop, pretrain) honours --init_from."""
  described = describe(source)
  described["copied"] = load_backbone(model, source, info)
  return described


def _source_info(source: str) -> dict | None:
  path = RunDir(_source_dir(source)).manifest
  if not os.path.exists(path):
    return None
  return read_json(path)


def _source_dir(source: str) -> str:
  from gslm_keras import presets

  if os.path.isfile(source) and os.path.basename(source) == RunDir("").model:
    return os.path.dirname(os.path.abspath(source))  # The run's model file itself.
  return presets.resolve(source)


def _copy_group(layers: list, theirs, what: str) -> bool:
  """Copies every layer of `layers` from the model `theirs` by name when all are
  there with equal shapes; otherwise copies none."""
  pairs = []
  for layer in layers:
    try:
      other = theirs.get_layer(layer.name)
    except ValueError:
      logging.info("init_from: %s starts new (no layer %s in the source)", what, layer.name)
      return False
    if [tuple(w.shape) for w in layer.weights] != [tuple(w.shape) for w in other.weights]:
      logging.info("init_from: %s starts new (layer %s has other shapes)", what, layer.name)
      return False
    pairs.append((layer, other))
  for layer, other in pairs:
    layer.set_weights(other.get_weights())
  return bool(pairs)


def load_head(model, source_model, source: str, info) -> list[str]:
  """Copies the source's feature branch and head where they fit (see the module
  docstring); returns the parts copied."""
  ours, theirs = _head(model), _head(source_model)
  recorded = _source_info(source)
  if ours is None or theirs is None or recorded is None or info is None:
    return []
  from gslm_keras.data.dataset_info import DatasetInfo

  source_info = DatasetInfo(recorded)
  weighted = [layer for layer in ours.layers if layer.weights]
  branch = [layer for layer in weighted if layer.name.startswith("feature_")]
  rest = [layer for layer in weighted if not layer.name.startswith("feature_")]
  copied = []
  same_features = source_info.feature_names == info.feature_names
  if branch and same_features and _copy_group(branch, theirs, "the feature branch"):
    copied.append("feature branch")
  same_output = (source_info.task, source_info.classes) == (info.task, info.classes)
  if rest and same_features and same_output and _copy_group(rest, theirs, "the head"):
    copied.append("head")
  logging.info("init_from: copied from %s: backbone%s", source,
               "".join(f", {part}" for part in copied))
  return copied


def _head(model):
  try:
    return model.get_layer("task_head")
  except ValueError:
    return None


def load_backbone(model, source: str, info=None) -> list[str]:
  """Copies the source's backbone weights into `model`'s, by layer name, and, given
  the new dataset's `info`, its feature branch and head where they fit; returns
  the parts copied ("backbone", "feature branch", "head")."""

  import gslm_keras.models.language  # noqa: F401  Registers the LM layers.
  import gslm_keras.models.layers  # noqa: F401
  from gslm_keras.models.backbone import find_backbone

  source_model = load_model(source_file(source), f"--init_from={source} is damaged; "
                            "give another model, or train that one again",
                            compile=False)
  theirs, ours = find_backbone(source_model), find_backbone(model)
  if ours is None:  # The features-only ablation: no backbone to start.
    logging.warning("--init_from=%s: this model has no sequence backbone (features-only "
                    "ablation); it trains as from scratch, but for a feature branch "
                    "copied where it fits", source)
    return load_head(model, source_model, source, info)
  if theirs is None:
    raise ConfigError(f"--init_from={source}: no sequence_backbone in the source")
  copied = 0
  for layer in ours.layers:
    if not layer.weights:
      continue
    try:
      other = theirs.get_layer(layer.name)
    except ValueError:
      raise ConfigError(f"--init_from={source}: layer {layer.name} is not in the "
                        "source's backbone (another architecture preset?)") from None
    for mine, given in zip(layer.weights, other.weights):
      if tuple(mine.shape) != tuple(given.shape):
        raise ConfigError(
            f"--init_from={source}: layer {layer.name} weight {mine.name} has shape "
            f"{tuple(given.shape)} in the source and {tuple(mine.shape)} here; use the "
            "source's architecture (its config.json, model part)")
    layer.set_weights(other.get_weights())
    copied += 1
  logging.info("Initialised %d backbone layers from %s", copied, source)
  return ["backbone"] + load_head(model, source_model, source, info)
