"""The dual-input Keras model, its configuration, presets and custom layers."""

from gslm_keras.models.builder import build_model, output_width
from gslm_keras.models.config import PRESETS, ModelConfig, preset

__all__ = ["ModelConfig", "PRESETS", "build_model", "output_width", "preset"]
