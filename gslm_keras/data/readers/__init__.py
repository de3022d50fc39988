"""Streaming readers: FASTA, CSV/TSV, BED + reference genome and GenBank recipes.

Readers only parse; they check what only they can see (file structure, required
columns, coordinates) and yield `RawRecord`s one at a time, so memory does not
grow with the input. Sequence letters, lengths, labels and feature values are
checked by the dataset builder, which knows the dataset's rules.
"""

from gslm_keras.data.readers.bed import BedOptions, read_bed
from gslm_keras.data.readers.fasta import read_fasta
from gslm_keras.data.readers.genbank import GenbankRecipe, read_genbank
from gslm_keras.data.readers.spec import FORMATS, InputSpec, RawRecord
from gslm_keras.data.readers.table import TableColumns, read_table

__all__ = ["BedOptions", "FORMATS", "GenbankRecipe", "InputSpec", "RawRecord",
           "TableColumns", "read_bed", "read_fasta", "read_genbank", "read_table"]
