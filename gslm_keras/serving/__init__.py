"""Serving: SavedModel export for TF Serving, signatures, request helpers."""
