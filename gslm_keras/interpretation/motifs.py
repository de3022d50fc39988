"""Motifs learnt by the first layer: filter PWMs, a MEME file, Tomtom against JASPAR.

Each motif-scanner filter of the stem is turned into a position weight matrix
from the subsequences that activate it most: every window position whose
activation reaches half of the filter's maximum over the sequences contributes
its subsequence (Kelley et al. 2016, Basset). The PWMs are written as a MEME
motif file and compared with JASPAR (pyjaspar, offline) by Tomtom (memelite).
"""

from __future__ import annotations

import dataclasses
import os

import numpy as np

from gslm_keras.dna.alphabet import BASES


@dataclasses.dataclass
class FilterMotif:
  """One filter's motif.

  Attributes:
    name: `<layer>_f<index>`.
    pwm: float [width, 4] base probabilities.
    sites: subsequences that built it.
    max_activation: the filter's highest activation over the sequences.
  """

  name: str
  pwm: np.ndarray
  sites: int
  max_activation: float

  def column_information(self) -> np.ndarray:
    p = np.clip(self.pwm, 1e-9, 1.0)
    return 2.0 + (p * np.log2(p)).sum(axis=1)

  def information(self) -> float:
    return float(self.column_information().sum())

  def trimmed(self, min_column_bits: float = 0.3) -> "FilterMotif":
    """Without flanking columns below `min_column_bits`: low-information flanks
    make Tomtom favour long database motifs by chance."""
    keep = np.flatnonzero(self.column_information() >= min_column_bits)
    if keep.size == 0:
      return dataclasses.replace(self, pwm=self.pwm[:0])
    return dataclasses.replace(self, pwm=self.pwm[keep[0]:keep[-1] + 1])


def stem_layers(model):
  """(backbone, its motif-scanner convolutions) of a gslm_keras model."""
  from gslm_keras.models.backbone import find_backbone

  backbone = find_backbone(model)
  if backbone is None:
    from gslm_keras.errors import ConfigError

    raise ConfigError("the model has no sequence branch (ablation=features): it has "
                      "no filters to read motifs from")
  return backbone, [layer for layer in backbone.layers
                    if layer.name.startswith("stem_conv_w")]


def filter_motifs(model, one_hot: np.ndarray, threshold: float = 0.5,
                  min_sites: int = 10, pseudocount: float = 0.5) -> list[FilterMotif]:
  """PWMs of every stem filter from sequences `one_hot` [N, L, 4]."""
  import keras

  backbone, layers = stem_layers(model)
  motifs = []
  for layer in layers:
    probe = keras.Model(backbone.input, layer.output)
    activations = np.concatenate([
        np.asarray(probe(one_hot[i:i + 256], training=False))
        for i in range(0, len(one_hot), 256)])  # [N, L, filters]
    width = layer.kernel.shape[0]
    # 'same' padding: output position t sees input [t - (w-1)//2, t + w//2].
    before = (width - 1) // 2
    padded = np.pad(one_hot, [(0, 0), (before, width - 1 - before), (0, 0)])
    for f in range(activations.shape[2]):
      values = activations[:, :, f]
      top = float(values.max())
      if top <= 0:
        continue
      seqs, positions = np.nonzero(values >= threshold * top)
      if len(seqs) < min_sites:
        continue
      windows = np.stack([padded[s, p:p + width] for s, p in zip(seqs, positions)])
      counts = windows.sum(axis=0) + pseudocount
      motifs.append(FilterMotif(f"{layer.name}_f{f}", counts / counts.sum(axis=1,
                                                                           keepdims=True),
                                len(seqs), top))
  return motifs


def write_meme(path: str, motifs: list[FilterMotif]) -> str:
  """A MEME (version 4) motif file of the filters' PWMs."""
  lines = ["MEME version 4", "", f"ALPHABET= {BASES}", "",
           "strands: + -", "", "Background letter frequencies",
           "A 0.25 C 0.25 G 0.25 T 0.25", ""]
  for motif in motifs:
    lines += [f"MOTIF {motif.name}",
              f"letter-probability matrix: alength= 4 w= {len(motif.pwm)} "
              f"nsites= {motif.sites} E= 0", *(
                  " ".join(f"{v:.6f}" for v in row) for row in motif.pwm), ""]
  tmp = f"{path}.tmp-{os.getpid()}"
  with open(tmp, "w") as handle:
    handle.write("\n".join(lines))
  os.replace(tmp, path)
  return path


def jaspar_motifs(collection: str = "CORE", tax_group: str | None = "vertebrates"):
  """(ids, names, PWMs [4, w]) of JASPAR (the release pyjaspar ships)."""
  from pyjaspar import jaspardb

  db = jaspardb()
  kwargs = {"collection": collection, "all_versions": False}
  if tax_group:
    kwargs["tax_group"] = [tax_group]
  ids, names, pwms = [], [], []
  for motif in db.fetch_motifs(**kwargs):
    counts = np.array([motif.counts[b] for b in BASES], np.float64) + 0.25
    pwms.append(counts / counts.sum(axis=0, keepdims=True))
    ids.append(motif.matrix_id)
    names.append(motif.name)
  return ids, names, pwms, getattr(db, "release", "JASPAR")


def match_jaspar(motifs: list[FilterMotif], max_p: float = 0.01, top: int = 3,
                 jaspar=None, min_width: int = 4, min_bits: float = 3.0,
                 min_mean_bits: float = 0.5) -> list[dict]:
  """Best JASPAR matches of each filter motif by Tomtom p-value.

  Filters are trimmed of low-information flanks first; those left narrower than
  `min_width`, with fewer than `min_bits` bits, or with fewer than
  `min_mean_bits` per column are not compared: weak, degenerate filters otherwise
  "match" long database motifs (CTCF's 30-column matrices) with tiny p-values.
  """
  from memelite import tomtom

  ids, names, pwms, release = jaspar or jaspar_motifs()
  motifs = [m.trimmed() for m in motifs]
  motifs = [m for m in motifs if len(m.pwm) >= min_width and m.information() >= min_bits
            and m.information() / len(m.pwm) >= min_mean_bits]
  if not motifs:
    return []
  p_values, scores, offsets, overlaps, strands = tomtom(
      [m.pwm.T.astype(np.float64) for m in motifs], pwms)[:5]
  rows = []
  for i, motif in enumerate(motifs):
    order = np.argsort(p_values[i])[:top]
    for rank, j in enumerate(order, start=1):
      if p_values[i, j] > max_p:
        continue
      rows.append({"filter": motif.name, "rank": rank, "jaspar_id": ids[j],
                   "jaspar_name": names[j], "p_value": float(p_values[i, j]),
                   "offset": int(offsets[i, j]), "overlap": int(overlaps[i, j]),
                   "strand": "-" if strands[i, j] else "+", "sites": motif.sites,
                   "information_bits": motif.information(), "release": release})
  return rows


def plot_logos(motifs: list[FilterMotif], path: str, labels: dict | None = None) -> str:
  import logomaker
  import pandas as pd

  from gslm_keras.evaluation.plots import _pyplot, _save

  plt = _pyplot()
  fig, axes = plt.subplots(len(motifs), 1, figsize=(4, 1.4 * len(motifs)), squeeze=False)
  for ax, motif in zip(axes[:, 0], motifs):
    p = np.clip(motif.pwm, 1e-9, 1.0)
    bits = p * (2.0 + (p * np.log2(p)).sum(axis=1, keepdims=True))
    logomaker.Logo(pd.DataFrame(bits, columns=list(BASES)), ax=ax)
    ax.set_ylim(0, 2)
    ax.set_title(motif.name + (f": {labels[motif.name]}" if labels and motif.name in labels
                               else ""), fontsize=8)
    ax.set_xticks([])
  fig.tight_layout()
  return _save(fig, path)
