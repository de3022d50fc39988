"""The one frame of `score_variants`, whatever the model's task: outputs locked,
the reference opened, variants streamed from a VCF, a table or every SNV of BED
regions (`all_snvs`), rejects set aside,
progress and a summary, and every output written whole or not at all.

What differs per task is a scorer (the classifier's decomposition in
`scorer.py`, the language model's llr in `zero_shot.py`) with:
  columns, info_strands, table_columns(): what it writes and reads;
  prepare(item, genome, skipped, source) -> Prepared or None (skipped by rule),
    an InputError for a variant it cannot score;
  add(prepared, writer), flush(writer): batching; notes(stats): header lines;
  a context (entered around the stream: a provided-feature plan's open files).
"""

from __future__ import annotations

import collections
import contextlib
import dataclasses
import time
from typing import Any

from absl import logging

from gslm_keras.errors import InputError
from gslm_keras.io.genome import Genome
from gslm_keras.io.progress import Progress
from gslm_keras.io.regions import read_regions
from gslm_keras.io.tables import Rejects
from gslm_keras.variants import all_snvs, io, report


@dataclasses.dataclass
class Prepared:
  """A variant ready to score: whether its REF disagrees with the reference,
  whether its window was padded, and the scorer's own inputs."""

  variant: io.Variant
  mismatch: bool
  padded: bool
  inputs: Any


def check_ref(variant: io.Variant, observed: str, ref_mismatch: str, source: str
              ) -> bool:
  """Whether REF disagrees with the reference: an InputError unless
  `ref_mismatch="flag"`, which scores it flagged."""
  if observed == variant.ref:
    return False
  if ref_mismatch == "error":
    raise InputError(
        f"REF {variant.ref} differs from the reference ({observed}) at "
        f"{variant.chrom}:{variant.pos} (set --ref_mismatch=flag to score it anyway, "
        "flagged)", path=source, record=variant.locator)
  return True


def run(config, scorer) -> dict[str, Any]:
  """Scores every variant of `config`'s input with `scorer`; returns counts, skips,
  rejects and timing (the `score_variants` result)."""
  skipped: collections.Counter = collections.Counter()
  stats = {"variants": 0, "flagged_ref_mismatch": 0, "padded": 0,
           "strands": scorer.strands}
  start = time.monotonic()
  with contextlib.ExitStack() as locks:
    io.lock_outputs(locks, config.output, config.overwrite)
    genome = Genome(config.reference) if config.vcf or config.all_snvs else None
    stream = _stream_of(config, genome, scorer, skipped)
    fields = report.info_fields(scorer.columns, scorer.info_strands)
    writer = io.FanOut([_writer(path, scorer.columns, fields,
                                genome.lengths if genome else None)
                        for path in config.output])
    rejects = Rejects(config.first_output, config.on_error)
    ok = False
    try:
      _stream(stream, config, genome, scorer, writer, rejects, skipped, stats)
      ok = True
    finally:
      io.close_writer(writer, ok, skipped, rejects, config.command, scorer.notes(stats),
                      stats["padded"])
      rejects.close(ok)
      if genome is not None:
        genome.close()
  stats.update({"seconds": time.monotonic() - start, "skipped": dict(skipped),
                "rejected": rejects.count, "output": ",".join(config.output),
                "rejects": rejects.path})
  _log_summary(stats, skipped, rejects)
  return stats


def _writer(path: str, columns, fields, contigs):
  """A writer of score rows: a tabix-indexed TSV for .bgz, else `io.open_writer`'s."""
  if path.endswith(".bgz"):
    return all_snvs.TabixWriter(path, columns)
  return io.open_writer(path, columns, fields, contigs)


def _stream_of(config, genome, scorer, skipped):
  """The variants of a VCF, of a table, or every SNV of the regions."""
  if config.all_snvs:
    return all_snvs.snvs(read_regions(config.regions, genome), genome, skipped)
  if config.vcf:
    return io.read_vcf(config.vcf, skipped)
  return io.read_variant_table(config.variants, scorer.table_columns())


def _stream(stream, config, genome, scorer, writer, rejects, skipped, stats) -> None:
  """Prepares, batches and scores every variant of the stream; counts them."""
  source = config.vcf or config.variants or config.regions
  meter = Progress("variants read", config.progress_seconds, paths=[source])
  with scorer:
    for item in stream:
      try:
        if isinstance(item, InputError):
          raise item
        prepared = scorer.prepare(item, genome, skipped, source)
      except InputError as error:
        rejects.handle(error)
        continue
      if prepared is None:
        continue
      scorer.add(prepared, writer)
      stats["flagged_ref_mismatch"] += prepared.mismatch
      stats["padded"] += prepared.padded
      stats["variants"] += 1
      meter.update(stats["variants"])
    scorer.flush(writer)
  if stats["variants"] == 0:
    raise InputError(f"no variant could be scored (skipped: {dict(skipped)}"
                     f"{', ' + rejects.describe() if rejects.count else ''})", path=source)


def _log_summary(stats: dict, skipped, rejects) -> None:
  logging.info("Strands: %s", stats["strands"])
  if skipped:
    logging.warning("Skipped %s", ", ".join(f"{k}: {v}" for k, v in skipped.items()))
  if rejects.count:
    logging.warning("%d variants rejected, listed in %s", rejects.count, rejects.path)
  if stats["padded"]:
    logging.warning("%d variants' windows ran past a contig or sequence end and were "
                    "padded with N (column padded)", stats["padded"])
  logging.info("%d variants scored in %.1f s -> %s", stats["variants"], stats["seconds"],
               stats["output"])
