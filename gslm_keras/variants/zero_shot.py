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

import numpy as np
from absl import logging

from gslm_keras.dna import alphabet
from gslm_keras.errors import InputError
from gslm_keras.inference.language import LanguageModel
from gslm_keras.io.genome import Genome
from gslm_keras.variants import io, report
from gslm_keras.variants.frame import Prepared, check_ref
from gslm_keras.variants.windows import make_windows

COLUMNS = report.ROW_KEYS + ["llr", "log_p_ref", "log_p_alt"]
STRAND_COLUMNS = ["llr_forward", "llr_reverse"]
DISTANCES = ["embedding_l2", "embedding_cosine"]
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
  return check_ref(variant, observed, ref_mismatch, source)


class LlrScorer:
  """The `frame`'s scorer for a language model (a `ScoreConfig`): same outputs,
  locks, rejects and summary as a classifier's, with `llr` columns."""

  def __init__(self, config):
    from gslm_keras.errors import ConfigError
    from gslm_keras.inference.embedding import Embedder

    self.config = config
    self.model = LanguageModel(config.model)
    try:  # Embedding distances need the backbone's layers: not in an export.
      self.embedder = Embedder(self.model)
    except ConfigError:
      self.embedder = None
    if config.strand_average is False:
      logging.warning("--nostrand_average: llr is read on the forward strand only")
    self.both = config.strand_average is not False
    self.columns = (COLUMNS + (STRAND_COLUMNS if self.both else [])
                    + (DISTANCES if self.embedder is not None else []))
    self.strands = self.info_strands = STRANDS if self.both else "forward strand"
    self.batch: list = []

  def table_columns(self) -> list[str]:
    return []

  def __enter__(self):
    return self

  def __exit__(self, *error):
    return None

  def prepare(self, variant, genome, skipped, source) -> Prepared | None:
    made = _window(variant, genome, self.model.length, self.config.anchor, skipped)
    if made is None:
      return None
    window, position, padded, observed = made
    mismatch = _check(variant, observed, self.config.ref_mismatch, source)
    return Prepared(variant, mismatch, padded, (window, position))

  def add(self, prepared: Prepared, writer) -> None:
    self.batch.append(prepared)
    if len(self.batch) >= self.config.batch_size:
      self.flush(writer)

  def flush(self, writer) -> None:
    if not self.batch:
      return
    batch = self.batch
    scores = self.model.llr_by_strand(
        [p.inputs[0] for p in batch], [p.inputs[1] for p in batch],
        [p.variant.ref for p in batch], [p.variant.alt for p in batch],
        both_strands=self.both)
    rows = [{**p.variant.row(p.mismatch, p.padded),
             **{name: float(values[i]) for name, values in scores.items()}}
            for i, p in enumerate(batch)]
    if self.embedder is not None:
      for row, distances in zip(rows, self._distances(batch)):
        row.update(distances)
    writer.write(rows)
    batch.clear()

  def _distances(self, batch) -> list[dict]:
    """L2 and cosine distances between the pooled backbone embeddings of each
    variant's reference and alternate windows (both strands unless told)."""
    refs, alts = [], []
    for prepared in batch:
      window, at = prepared.inputs
      refs.append(window)
      alts.append(window[:at] + prepared.variant.alt + window[at + 1:])
    ref = self.embedder.of_windows(refs, self.both).astype(np.float64)
    alt = self.embedder.of_windows(alts, self.both).astype(np.float64)
    l2 = np.linalg.norm(alt - ref, axis=1)
    norms = np.linalg.norm(ref, axis=1) * np.linalg.norm(alt, axis=1)
    cosine = 1.0 - np.sum(ref * alt, axis=1) / np.maximum(norms, 1e-12)
    return [{"embedding_l2": float(a), "embedding_cosine": float(b)}
            for a, b in zip(l2, cosine)]

  def notes(self, stats: dict) -> list[str]:
    distances = ([] if self.embedder is None else [
        "embedding_l2, embedding_cosine: distance between the mean backbone "
        "embeddings of the reference and alternate windows (L2; 1 - cosine "
        "similarity); larger = a larger change, whatever its direction"])
    strands = (["llr_forward, llr_reverse: the llr read on each strand alone (the "
                "reverse strand's at the complementary bases); llr is their mean"]
               if self.both else [])
    return [f"strands: {self.strands}", "llr: log P(alt) - log P(ref), natural log, of "
            f"a masked language model ({self.model.path}), zero-shot; more negative = "
            "the alternate base less expected (more likely damaging)", *strands,
            *distances,
            f"padded: {stats['padded']} variant(s) whose window ran past the end of its "
            "contig, filled with N"]
