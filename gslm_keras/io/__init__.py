"""Thin, streaming file I/O: text (plain or gzip), the reference genome, atomic
outputs and tables."""
