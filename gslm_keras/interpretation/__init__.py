"""Interpretation: in-silico mutagenesis, attribution over both branches, motifs."""
