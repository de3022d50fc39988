"""`--init_from`: start a model's sequence backbone from another model's weights.

The source is a language model (`pretrain`), a trained classifier (`train`) or a
preset name. Its `sequence_backbone` and the new model's have the same layer
names by construction (`build_backbone`); weights are copied layer by layer by
name, and a layer whose weight shapes differ ends the run with one line naming
it and both shapes. The source and the sha256 of its model file are recorded in
the run's config.
"""

from __future__ import annotations

import os

from absl import logging

from gslm_keras.errors import ConfigError
from gslm_keras.io.files import sha256_file
from gslm_keras.run_dir import RunDir


def source_file(source: str) -> str:
  """The model file of `source` (a run directory or a preset name)."""
  from gslm_keras import presets

  path = RunDir(presets.resolve(source)).model
  if not os.path.exists(path):
    raise ConfigError(f"--init_from={source}: no model.keras there (a pretrain or train "
                      "run directory, or a preset name, is expected)")
  return path


def describe(source: str) -> dict:
  path = source_file(source)
  return {"source": source, "model_file": os.path.abspath(path),
          "sha256": sha256_file(path)}


def load_backbone(model, source: str) -> int:
  """Copies the source's backbone weights into `model`'s, by layer name; returns
  the number of layers copied."""
  import keras

  import gslm_keras.models.language  # noqa: F401  Registers the LM layers.
  import gslm_keras.models.layers  # noqa: F401
  from gslm_keras.models.backbone import find_backbone

  source_model = keras.models.load_model(source_file(source), compile=False)
  theirs, ours = find_backbone(source_model), find_backbone(model)
  if theirs is None or ours is None:
    raise ConfigError(f"--init_from={source}: no sequence_backbone in "
                      f"{'the source' if theirs is None else 'this model'}")
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
  return copied
