"""The dual-input Keras model, its sequence backbone, configuration, presets and
custom layers."""

from gslm_keras.models.backbone import build_backbone, find_backbone
from gslm_keras.models.builder import build_model, output_width
from gslm_keras.models.config import PRESETS, ModelConfig, preset

__all__ = ["ModelConfig", "PRESETS", "build_backbone", "build_model", "find_backbone",
           "output_width", "preset"]
