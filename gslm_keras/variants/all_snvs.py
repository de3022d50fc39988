"""Every possible single-base substitution in the regions of a genome, and the
bgzip-compressed, tabix-indexed TSV that genome tools read.

`snvs` streams the three substitutions of every A, C, G or T base of the BED
regions (sorted in the reference's contig order and merged, so that the output
is sorted as tabix needs); other letters (N ...) are skipped and counted.
`TabixWriter` writes the score rows with chrom, pos, ref and alt first, a `#`
header line, bgzip-compressed (`.bgz`), with its `.tbi` index (pysam), both put
in place only when complete: the layout of the score files Ensembl VEP's plugins
query with tabix (dbNSFP's: chrom, pos, ref, alt, then named columns).
"""

from __future__ import annotations

import collections
import os
from typing import Iterator, Mapping, Sequence

from gslm_keras.dna import alphabet
from gslm_keras.errors import InputError
from gslm_keras.io.genome import Genome
from gslm_keras.io.tables import TableWriter, prepend
from gslm_keras.variants.io import Variant

FIRST = ["chrom", "pos", "ref", "alt"]
CHUNK = 1 << 16


def snvs(regions: Sequence[tuple[str, int, int]], genome: Genome,
         skipped: collections.Counter) -> Iterator[Variant]:
  """The three substitutions of each A, C, G or T base of the regions, in order
  (position, then alternate A, C, G, T)."""
  for chrom, start, end in regions:
    for block in range(start, end, CHUNK):
      bases = genome.fetch(chrom, block, min(block + CHUNK, end)).upper()
      for offset, ref in enumerate(bases):
        if ref not in alphabet.BASES:
          skipped["reference_not_acgt"] += 1
          continue
        pos = block + offset + 1
        for alt in alphabet.BASES:
          if alt != ref:
            yield Variant(f"{chrom}:{pos}:{ref}:{alt}", chrom, pos, ref, alt,
                          locator=f"{chrom}:{pos}")


class TabixWriter(TableWriter):
  """Score rows as a bgzip TSV (chrom, pos, ref, alt first; a `#` header line)
  with its tabix index, both in place only when complete.

  Args:
    path: the `.bgz` output; the index is `<path>.tbi`.
    columns: the score rows' columns (reordered: chrom, pos, ref, alt first).
  """

  def __init__(self, path: str, columns: Sequence[str]):
    super().__init__(path, FIRST + [c for c in columns if c not in FIRST])

  def close(self, ok: bool, comments: Sequence[str] = (),
            summary: Mapping | None = None) -> None:
    self._handle.close()
    plain, packed = self.body + ".tsv", self.body + ".bgz"
    try:
      if not ok:
        return
      import pysam

      head = [f"# {line}\n" for line in comments] + ["#" + "\t".join(self.columns) + "\n"]
      prepend(plain, head, self.body)
      pysam.tabix_compress(plain, packed, force=True)
      try:
        pysam.tabix_index(packed, seq_col=0, start_col=1, end_col=1, meta_char="#",
                          zerobased=False, force=True, keep_original=True)
      except (OSError, ValueError) as error:
        raise InputError(f"cannot index the scores with tabix ({error}): the input is "
                         "not sorted by contig and position; sort it (bcftools sort, "
                         "or sort -k1,1 -k2,2n) or write another format",
                         path=self.path) from None
      os.replace(packed + ".tbi", self.path + ".tbi")
      os.replace(packed, self.path)
    finally:
      for leftover in (self.body, plain, packed, packed + ".tbi"):
        if os.path.exists(leftover):
          os.remove(leftover)
