"""Pretrained models shipped inside the package, by name.

A preset is a model directory (model.keras, config.json, dataset_info.json,
metrics/, MODEL_CARD.md, yardsticks.npz) under `gslm_keras/presets/<name>/`. A
preset name is accepted wherever a model directory is (`evaluate --model`,
`score_variants --model`, `interpret --model`, `export --model`, `train
--init_from`): `resolve` turns it into the directory. `python -m
gslm_keras.pretrain --list_presets` prints them.
"""

from __future__ import annotations

import os

from gslm_keras.errors import ConfigError

# name -> one-line description. Each has a folder of the same name beside this file.
PRESETS = {
    "gslm-lm-multispecies": (
        "masked nucleotide model, default trunk, 128-base windows of 3 bacterial and "
        "organelle genomes, CNNProm promoter sets (E. coli, A. thaliana, mouse) and the "
        "GUE train inputs (GUE dev/test excluded)"),
}


def path(name: str) -> str:
  return os.path.join(os.path.dirname(os.path.abspath(__file__)), name)


def is_preset(directory: str) -> bool:
  """Whether `directory` is inside the installed presets (read-only)."""
  here = os.path.dirname(os.path.abspath(__file__))
  return os.path.commonpath([here, os.path.abspath(directory)]) == here


def available() -> dict[str, str]:
  """The presets whose weights are installed, with their descriptions."""
  return {name: text for name, text in PRESETS.items()
          if os.path.exists(os.path.join(path(name), "model.keras"))}


def resolve(name_or_dir: str) -> str:
  """A model directory: `name_or_dir` itself when it exists, else the preset of
  that name.

  Raises:
    ConfigError: neither a directory nor a preset name.
  """
  if os.path.exists(name_or_dir) or os.sep in name_or_dir:
    return name_or_dir
  if name_or_dir in available():
    return path(name_or_dir)
  known = ", ".join(available()) or "none installed"
  raise ConfigError(f"{name_or_dir!r} is neither a model directory nor a preset name "
                    f"(presets: {known}; python -m gslm_keras.pretrain --list_presets)")
