"""Regions of a genome from a BED file, checked against the genome's contigs."""

from __future__ import annotations

from gslm_keras.errors import InputError


def read_regions(path: str, genome, min_length: int = 1,
                 purpose: str = "") -> list[tuple[str, int, int]]:
  """(contig, start, end) of a BED file, 0-based half-open, checked against the
  reference, in its contig order, overlapping or touching regions merged.

  Args:
    path: the BED file (plain or gzip).
    genome: what has the contigs: `.lengths` (name -> length, in file order) and
      `.path` (a `Genome`, a `GenomeStream`).
    min_length: a region shorter than this is refused (a scan's window).
    purpose: why, for that message ("the model's 101 bp window").

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
      if end - start < min_length:
        raise InputError(f"region {chrom}:{start}-{end} is {end - start} bp, shorter "
                         f"than {purpose or f'{min_length} bp'}; widen it or drop it",
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
