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


def read_regions(path: str, genome: Genome) -> list[tuple[str, int, int]]:
  """(contig, start, end) of a BED file, 0-based half-open, checked against the
  reference, in its contig order, overlapping or touching regions merged.

  Raises:
    InputError: a line that is not BED, a contig the reference lacks, a region
      past its contig's end or empty; none at all.
  """
  from gslm_keras.io.text import open_text

  found = []
  with open_text(path) as handle:
    for number, line in enumerate(handle, start=1):
      if not line.strip() or line.startswith(("#", "track", "browser")):
        continue
      fields = line.rstrip("\n").split("\t")
      where = f"line {number}"
      try:
        chrom, start, end = fields[0], int(fields[1]), int(fields[2])
      except (IndexError, ValueError):
        raise InputError("expected BED: contig, start, end (tab-separated integers)",
                         path=path, record=where) from None
      if chrom not in genome.lengths:
        raise InputError(f"contig {chrom!r} is not in the reference {genome.path} "
                         f"(it has {', '.join(list(genome.lengths)[:5])}"
                         f"{' ...' if len(genome.lengths) > 5 else ''}); use the "
                         "reference the regions were made on", path=path, record=where)
      if not 0 <= start < end:
        raise InputError(f"region {chrom}:{start}-{end} is empty or negative",
                         path=path, record=where)
      if end > genome.lengths[chrom]:
        raise InputError(f"region {chrom}:{start}-{end} runs past the contig's end "
                         f"({genome.lengths[chrom]})", path=path, record=where)
      found.append((chrom, start, end))
  if not found:
    raise InputError("no regions", path=path)
  order = {name: i for i, name in enumerate(genome.lengths)}
  merged: list[list] = []
  for chrom, start, end in sorted(found, key=lambda r: (order[r[0]], r[1], r[2])):
    if merged and merged[-1][0] == chrom and start <= merged[-1][2]:
      merged[-1][2] = max(merged[-1][2], end)
    else:
      merged.append([chrom, start, end])
  return [tuple(r) for r in merged]


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
