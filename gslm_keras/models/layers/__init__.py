"""Custom Keras layers, each registered as serializable under package gslm_keras."""

from gslm_keras.models.layers.attention_pooling import AttentionPooling
from gslm_keras.models.layers.dilated_residual_block import DilatedResidualBlock
from gslm_keras.models.layers.modality_dropout import ModalityDropout
from gslm_keras.models.layers.reverse_complement import ReverseComplement

__all__ = ["AttentionPooling", "DilatedResidualBlock", "ModalityDropout", "ReverseComplement"]
