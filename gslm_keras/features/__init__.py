"""Per-sequence features: computed from the sequence (registry) and provided."""

from gslm_keras.features.registry import (FeatureSpec, compute_features, describe,
                                          output_names, parse_specs, registered)

__all__ = ["FeatureSpec", "compute_features", "describe", "output_names",
           "parse_specs", "registered"]
