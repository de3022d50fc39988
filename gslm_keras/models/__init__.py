"""The dual-input Keras model, its sequence backbone, configuration, presets and
custom layers.

The names below load their modules on first use: `gslm_keras.models.config`
(plain dataclasses) is importable without Keras, as entry points need before
they parse their flags.
"""

from __future__ import annotations

import importlib

_LAZY = {
    "build_backbone": "gslm_keras.models.backbone",
    "find_backbone": "gslm_keras.models.backbone",
    "build_model": "gslm_keras.models.builder",
    "output_width": "gslm_keras.models.builder",
    "PRESETS": "gslm_keras.models.config",
    "ModelConfig": "gslm_keras.models.config",
    "preset": "gslm_keras.models.config",
}

__all__ = sorted(_LAZY)


def __getattr__(name):
  if name in _LAZY:
    value = getattr(importlib.import_module(_LAZY[name]), name)
    globals()[name] = value
    return value
  raise AttributeError(f"module 'gslm_keras.models' has no attribute {name!r}")


def __dir__():
  return sorted(__all__)
