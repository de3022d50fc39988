"""The dual-input Keras model, its sequence backbone, configuration, presets and
custom layers.

The names below load their modules on first use: `gslm_keras.models.config`
(plain dataclasses) is importable without Keras, as entry points need before
they parse their flags.
"""

from __future__ import annotations

from gslm_keras.lazy import lazy_names

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
__getattr__, __dir__ = lazy_names(__name__, _LAZY)
