"""Using a trained model: load it (run or export), name its outputs, predict files."""
