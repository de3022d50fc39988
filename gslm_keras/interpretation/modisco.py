"""Motifs from attributions: TF-MoDISco (modisco-lite) on a model's hypothetical
contributions, its patterns matched to JASPAR.

TF-MoDISco (Shrikumar et al. 2018; the lite rewrite of Schreiber and the Kundaje
lab) cuts seqlets, windows of high attribution, from every sequence, clusters
them by the similarity of their contribution scores and aggregates each cluster
into a pattern: a position probability matrix with the contribution of each base.
The contributions are integrated gradients over the model's one-hot input
(`attribution.integrated_gradients`: the path-averaged gradient of each base,
centred over the four bases, as the hypothetical contributions, and times the
one-hot as the actual ones). Each pattern is trimmed to the columns that carry at
least `TRIM` of its peak contribution and compared with JASPAR by Tomtom with
calibrated p-values and q-values, as `interpret motifs` does for filters
(`motifs.match_jaspar`).
"""

from __future__ import annotations

import dataclasses
import os

import numpy as np

from gslm_keras.interpretation.motifs import FilterMotif

TRIM = 0.3


@dataclasses.dataclass
class Pattern:
  """One TF-MoDISco pattern.

  Attributes:
    motif: its trimmed PPM as a `FilterMotif` (name `pos_pattern_<k>` for patterns
      of positive contribution, `neg_pattern_<k>` for negative; `sites` its seqlets).
    contribution: float [width, 4] mean contribution of each base, trimmed alike.
    seqlets: (example, start, end, reverse complement) of its seqlets.
  """

  motif: FilterMotif
  contribution: np.ndarray
  seqlets: list[tuple[int, int, int, bool]]


def _trimmed(ppm: np.ndarray, contribution: np.ndarray) -> slice:
  strength = np.abs(contribution).sum(axis=1)
  keep = np.flatnonzero(strength >= TRIM * strength.max())
  return slice(int(keep[0]), int(keep[-1]) + 1) if keep.size else slice(0, len(ppm))


def discover(one_hot: np.ndarray, hypothetical: np.ndarray, max_seqlets: int = 2000,
             window: int = 21, flank: int = 10, leiden_runs: int = 10) -> list[Pattern]:
  """The patterns of TF-MoDISco over `one_hot` [N, L, 4] and `hypothetical` [N, L,
  4] contributions, positive patterns first, each by its seqlet count.

  Args:
    max_seqlets: seqlets kept per sign (metacluster).
    window, flank: the seqlet core and the flank added on each side.
    leiden_runs: clusterings tried (modisco-lite's default is 50; 10 gives the same
      patterns here in a fifth of the time).
  """
  from modiscolite import tfmodisco

  one_hot = np.asarray(one_hot, np.float32)
  hypothetical = np.asarray(hypothetical, np.float32)
  positive, negative = tfmodisco.TFMoDISco(
      one_hot=one_hot, hypothetical_contribs=hypothetical,
      sliding_window_size=window, flank_size=flank,
      max_seqlets_per_metacluster=max_seqlets, n_leiden_runs=leiden_runs,
      min_metacluster_size=min(100, max(len(one_hot) // 10, 20)),
      final_min_cluster_size=20, verbose=False)
  found = []
  for sign, group in (("pos", positive or []), ("neg", negative or [])):
    for k, pattern in enumerate(group):
      ppm = np.asarray(pattern.sequence, np.float64)
      contribution = np.asarray(pattern.contrib_scores, np.float64)
      cut = _trimmed(ppm, contribution)
      ppm = ppm[cut] / np.maximum(ppm[cut].sum(axis=1, keepdims=True), 1e-12)
      seqlets = [(int(s.example_idx), int(s.start), int(s.end), bool(s.is_revcomp))
                 for s in pattern.seqlets]
      motif = FilterMotif(name=f"{sign}_pattern_{k}", pwm=ppm, sites=len(seqlets),
                          max_activation=float(np.abs(contribution[cut]).sum()))
      found.append(Pattern(motif, contribution[cut], seqlets))
  return found


def write_report(output_dir: str, patterns: list[Pattern], best: dict[str, dict],
                 summary: dict) -> str:
  """`report.md`: one row per pattern (seqlets, width, total contribution, best
  JASPAR match and its q-value), the logos (`patterns_logos.png`) and the settings."""
  from gslm_keras.io.files import write_text_atomic

  lines = ["# TF-MoDISco patterns", "",
           f"Model `{summary['model']}`, {summary['examples']} sequences of the "
           f"`{summary['split']}` split, integrated gradients ({summary['steps']} steps) "
           f"towards `{summary['output']}`; {summary['seqlets']} seqlets. JASPAR "
           f"{summary['jaspar']}: Tomtom, calibrated p-values, Benjamini-Hochberg "
           f"q-values; a match is kept at q <= {summary['max_q']}.", "",
           "| pattern | seqlets | width | contribution | best JASPAR match | q-value "
           "| kept |", "|---|---:|---:|---:|---|---:|---|"]
  for pattern in patterns:
    motif = pattern.motif
    hit = best.get(motif.name)
    match = f"{hit['jaspar_name']} ({hit['jaspar_id']})" if hit else "none"
    q_value = f"{hit['q_value']:.2g}" if hit else "-"
    kept = "yes" if hit and hit["q_value"] <= summary["max_q"] else "no"
    lines.append(f"| {motif.name} | {motif.sites} | {len(motif.pwm)} | "
                 f"{motif.max_activation:.2f} | {match} | {q_value} | {kept} |")
  lines += ["", "![logos](patterns_logos.png)", ""]
  path = os.path.join(output_dir, "report.md")
  write_text_atomic(path, "\n".join(lines))
  return path
