"""Variant effect prediction: windows, scores, VCF and table I/O, the scorer."""
