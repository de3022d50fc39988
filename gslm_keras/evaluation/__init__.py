"""Evaluation: metrics per task, plots, and the evaluate-a-model-dir function."""
