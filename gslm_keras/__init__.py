"""gslm_keras: DNA as a language, learnt from sequence and features together.

Importing the package has no side effects and does not import TensorFlow; the
public names below load their modules on first use.
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

_LAZY = {
    "make_dataset": "gslm_keras.data.pipeline",
    "build_dataset": "gslm_keras.data.builder.builder",
    "BuildConfig": "gslm_keras.data.builder.config",
    "DatasetInfo": "gslm_keras.data.dataset_info",
    "SequenceEncoder": "gslm_keras.encoding.encoder",
    "LengthRule": "gslm_keras.dna.length",
    "FeatureSpec": "gslm_keras.features.spec",
    "LoadedModel": "gslm_keras.inference.model",
}

__all__ = ["__version__", *_LAZY]


def __getattr__(name):
  if name in _LAZY:
    value = getattr(importlib.import_module(_LAZY[name]), name)
    globals()[name] = value
    return value
  raise AttributeError(f"module 'gslm_keras' has no attribute {name!r}")


def __dir__():
  return sorted(__all__)
