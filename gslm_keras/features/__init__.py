"""Per-sequence features: computed from the sequence (registry, specs) and provided
from outside (table columns, bigWig tracks)."""

from gslm_keras.features.spec import (FeatureSpec, compute_features, describe,
                                      output_names, parse_specs, registered)

__all__ = ["FeatureSpec", "compute_features", "describe", "output_names",
           "parse_specs", "registered"]
