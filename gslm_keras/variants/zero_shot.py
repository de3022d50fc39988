"""Zero-shot variant scores of a nucleotide language model (GPN's score).

`llr` = log P(alt) - log P(ref) at the variant's position, masked, in the window
of the corpus length centred on it (or, with --anchor=sequence, in the variant's
whole context sequence: a language model reads any length), averaged over the
window and its reverse complement. Single-base substitutions only: an indel has
no one masked position to compare alleles at, so it is rejected with a line that
says so (`--on_error=skip` writes it to the rejects file and goes on).
"""

from __future__ import annotations

import collections
import contextlib
import time
from typing import Any

from absl import logging

from gslm_keras.dna import alphabet
from gslm_keras.errors import InputError
from gslm_keras.inference.language import LanguageModel
from gslm_keras.io.genome import Genome
from gslm_keras.io.progress import Progress
from gslm_keras.io.tables import Rejects
from gslm_keras.variants import io, report
from gslm_keras.variants.windows import make_windows

COLUMNS = report.ROW_KEYS + ["llr", "log_p_ref", "log_p_alt"]
STRANDS = "mean over both strands"


def _window(variant: io.Variant, genome: Genome | None, length: int, anchor: str,
            skipped: collections.Counter):
  """(window, position of the variant in it, padded, observed REF) or None."""
  start0 = variant.pos - 1
  if variant.sequence is not None:
    if anchor == "sequence":
      sequence = variant.sequence.upper()
      return sequence, start0, False, sequence[start0:start0 + 1]
    fetch, size = (lambda b, e: variant.sequence[b:e]), len(variant.sequence)
  else:
    if variant.chrom not in genome.lengths:
      skipped["contig_not_in_reference"] += 1
      return None
    size = genome.lengths[variant.chrom]
    if start0 >= size:
      skipped["position_past_contig_end"] += 1
      return None
    fetch = lambda b, e: genome.fetch(variant.chrom, b, e)  # noqa: E731
  windows = make_windows(fetch, size, start0, variant.ref, variant.ref, length)
  return windows.ref, length // 2, windows.padded, fetch(start0, start0 + 1).upper()


def _check(variant: io.Variant, observed: str, ref_mismatch: str, source: str) -> bool:
  if not (len(variant.ref) == len(variant.alt) == 1
          and variant.ref.upper() in alphabet.BASES
          and variant.alt.upper() in alphabet.BASES):
    raise InputError(
        f"{variant.ref}>{variant.alt} is not a single-base substitution of A, C, G, T: "
        "a language model's llr compares two bases at one masked position (indels "
        "and N have none)", path=source, record=variant.locator,
        hint="use --on_error=skip to set such variants aside")
  if observed == variant.ref.upper():
    return False
  if ref_mismatch == "error":
    raise InputError(
        f"REF {variant.ref} differs from the reference ({observed}) at "
        f"{variant.chrom}:{variant.pos} (set --ref_mismatch=flag to score it anyway, "
        "flagged)", path=source, record=variant.locator)
  return True


def score_llr(config) -> dict[str, Any]:
  """`score_variants` for a language model (a `ScoreConfig`); same outputs, locks,
  rejects and summary as the classifier path, with `llr` columns."""
  model = LanguageModel(config.model)
  if config.strand_average is False:
    logging.warning("--nostrand_average: llr is read on the forward strand only")
  both = config.strand_average is not False
  strands = STRANDS if both else "forward strand"
  skipped: collections.Counter = collections.Counter()
  stats = {"variants": 0, "flagged_ref_mismatch": 0, "padded": 0, "strands": strands}
  start = time.monotonic()
  with contextlib.ExitStack() as locks:
    io.lock_outputs(locks, config.output, config.overwrite)
    genome = Genome(config.reference) if config.vcf else None
    stream = (io.read_vcf(config.vcf, skipped) if config.vcf else
              io.read_variant_table(config.variants))
    writer = io.FanOut([io.open_writer(path, COLUMNS, report.info_fields(
        COLUMNS, strands), genome.lengths if genome else None) for path in config.output])
    rejects = Rejects(config.first_output, config.on_error)
    ok = False
    try:
      _score(stream, config, model, genome, both, writer, rejects, skipped, stats)
      ok = True
    finally:
      notes = [f"strands: {strands}", "llr: log P(alt) - log P(ref), natural log, of "
               f"a masked language model ({model.path}), zero-shot",
               f"padded: {stats['padded']} variant(s) whose window ran past the end of "
               "its contig, filled with N"]
      io.close_writer(writer, ok, skipped, rejects, config.command, notes,
                      stats["padded"])
      rejects.close(ok)
      if genome is not None:
        genome.close()
  stats.update({"seconds": time.monotonic() - start, "skipped": dict(skipped),
                "rejected": rejects.count, "output": ",".join(config.output),
                "rejects": rejects.path})
  logging.info("%d variants scored (llr) in %.1f s -> %s", stats["variants"],
               stats["seconds"], stats["output"])
  return stats


def _score(stream, config, model: LanguageModel, genome, both: bool, writer, rejects,
           skipped, stats) -> None:
  source = config.vcf or config.variants
  meter = Progress("variants read", config.progress_seconds, paths=[source])
  batch: list = []

  def flush():
    if not batch:
      return
    llr, log_ref, log_alt = model.llr([b[1] for b in batch], [b[2] for b in batch],
                                      [b[0].ref for b in batch], [b[0].alt for b in batch],
                                      both_strands=both)
    writer.write([{**v.row(mismatch, padded), "llr": float(llr[i]),
                   "log_p_ref": float(log_ref[i]), "log_p_alt": float(log_alt[i])}
                  for i, (v, _, _, padded, mismatch) in enumerate(batch)])
    batch.clear()

  for item in stream:
    try:
      if isinstance(item, InputError):
        raise item
      made = _window(item, genome, model.length, config.anchor, skipped)
      if made is None:
        continue
      mismatch = _check(item, made[3], config.ref_mismatch, source)
    except InputError as error:
      rejects.handle(error)
      continue
    batch.append((item, made[0], made[1], made[2], mismatch))
    stats["variants"] += 1
    stats["padded"] += made[2]
    stats["flagged_ref_mismatch"] += mismatch
    meter.update(stats["variants"])
    if len(batch) >= config.batch_size:
      flush()
  flush()
  if stats["variants"] == 0:
    raise InputError(f"no variant could be scored (skipped: {dict(skipped)}"
                     f"{', ' + rejects.describe() if rejects.count else ''})", path=source)
