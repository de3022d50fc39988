"""gslm_keras: DNA as a language, learnt from sequence and features together.

Importing the package has no side effects and does not import TensorFlow; the
public names below load their modules on first use.
"""

from __future__ import annotations

import sys
import types

from gslm_keras.lazy import lazy_names

__version__ = "0.1.0"

_LAZY = {
    # The verbs, one per command (gslm_keras.api).
    "build_dataset": "gslm_keras.api",
    "train": "gslm_keras.api",
    "pretrain": "gslm_keras.api",
    "evaluate": "gslm_keras.api",
    "predict": "gslm_keras.api",
    "embed": "gslm_keras.api",
    "scan": "gslm_keras.api",
    "export": "gslm_keras.api",
    "score_variants": "gslm_keras.api",
    "interpret": "gslm_keras.api",
    "load": "gslm_keras.api",
    # The configs the verbs take, and what they return or read.
    "BuildConfig": "gslm_keras.data.builder.config",
    "TrainConfig": "gslm_keras.training.config",
    "PretrainConfig": "gslm_keras.training.config",
    "ModelConfig": "gslm_keras.models.config",
    "preset": "gslm_keras.models.config",
    "ScoreConfig": "gslm_keras.variants.config",
    "DatasetInfo": "gslm_keras.data.dataset_info",
    "LoadedModel": "gslm_keras.inference.model",
    "EmbedConfig": "gslm_keras.inference.config",
    "ScanConfig": "gslm_keras.inference.config",
    "Embedder": "gslm_keras.inference.embedding",
    "make_dataset": "gslm_keras.data.pipeline",
    "read_fasta": "gslm_keras.data.readers",
    "SequenceEncoder": "gslm_keras.encoding.encoder",
    "LengthRule": "gslm_keras.dna.length",
    "FeatureSpec": "gslm_keras.features.spec",
    "quiet_tensorflow": "gslm_keras.startup",
}

__all__ = ["__version__", *_LAZY]


# The verbs share their names with the entry-point modules (gslm_keras/train.py is
# `python -m gslm_keras.train`). Importing a submodule sets it as an attribute of
# its package; this keeps the verb in place: `gslm_keras.train` is the function,
# `importlib.import_module("gslm_keras.train")` the entry point.
_VERBS = frozenset(name for name, module in _LAZY.items() if module == "gslm_keras.api")


class _Package(types.ModuleType):
  def __setattr__(self, name, value):
    if name in _VERBS and isinstance(value, types.ModuleType):
      return
    super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package


__getattr__ = lazy_names(__name__, _LAZY)[0]


def __dir__():
  return sorted(__all__)
