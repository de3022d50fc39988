"""Motifs learnt by the first layer: filter PWMs, a MEME file, Tomtom against JASPAR.

Each motif-scanner filter of the stem is turned into a position weight matrix
from the subsequences that activate it most: every window position whose
activation reaches half of the filter's maximum over the sequences contributes
its subsequence (Kelley et al. 2016, Basset). The PWMs are written as a MEME
motif file and compared with JASPAR (pyjaspar, offline) by Tomtom (memelite),
with p-values calibrated on column-shuffled filters and q-values over all pairs.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from gslm_keras.dna.alphabet import BASES
from gslm_keras.io.files import write_text_atomic


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
                  min_sites: int = 10, pseudocount: float = 0.5,
                  progress_seconds: float = 10.0) -> list[FilterMotif]:
  """PWMs of every stem filter from sequences `one_hot` [N, L, 4]."""
  import keras

  from gslm_keras.io.progress import Progress

  backbone, layers = stem_layers(model)
  motifs = []
  meter = Progress("filters read", progress_seconds,
                   total=sum(int(layer.kernel.shape[-1]) for layer in layers))
  done = 0
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
      done += 1
      meter.update(done, layer.name)
      values = activations[:, :, f]
      top = float(values.max())
      if top <= 0:
        continue
      seqs, positions = np.nonzero(values >= threshold * top)
      if len(seqs) < min_sites:
        continue
      # Base counts column by column: no [sites, width, 4] array of every site.
      counts = np.stack([padded[seqs, positions + k].sum(axis=0) for k in range(width)])
      counts = counts + pseudocount
      motifs.append(FilterMotif(f"{layer.name}_f{f}",
                                counts / counts.sum(axis=1, keepdims=True),
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
  write_text_atomic(path, "\n".join(lines))
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


# JASPAR matrix widths whose Tomtom p-values are calibrated together.
WIDTH_BINS = (0, 10, 15, 20)
CALIBRATION_LEVEL = 1e-4


def shuffled_queries(pwms: list[np.ndarray], copies: int, seed: int = 0
                     ) -> list[np.ndarray]:
  """Null queries: each PWM with its columns permuted (`copies` times), which keeps
  its width, composition and information and destroys its motif."""
  rng = np.random.default_rng(seed)
  return [pwm[rng.permutation(len(pwm))] for pwm in pwms for _ in range(copies)]


def width_bin(widths: np.ndarray) -> np.ndarray:
  return np.searchsorted(np.asarray(WIDTH_BINS), widths, side="right") - 1


def null_factors(null_p: np.ndarray, target_widths: np.ndarray,
                 level: float = CALIBRATION_LEVEL) -> np.ndarray:
  """Per width bin of the targets: how many more null p-values fall at or below
  `level` than a calibrated p-value would give (observed share / level), at
  least 1: a bin where Tomtom is conservative is left as it is (its share
  depends on the level, and a factor below 1 fitted at one level was
  anti-conservative at another).

  memelite's Tomtom p-value is that of the best-scoring offset, not corrected for
  the offsets tried, and its miscalibration grows with the target's width:
  measured on column-shuffled filters of the promoter models at p <= 1e-4, 0.6x
  for JASPAR matrices under 10 columns and 35x for those of 20 or more
  (benchmarks/results/motifs.md). Long matrices otherwise win by length alone.
  """
  bins = width_bin(target_widths)
  factors = np.ones(len(WIDTH_BINS))
  for b in range(len(WIDTH_BINS)):
    values = null_p[:, bins == b]
    if values.size:
      # One pseudo-count: a bin without null hits is not called perfect.
      factors[b] = max(1.0, ((values <= level).sum() + 1) / (values.size * level))
  return factors


def calibrated(p_values: np.ndarray, target_widths: np.ndarray,
               factors: np.ndarray) -> np.ndarray:
  """Tomtom p-values times the null factor of each target's width bin, at most 1."""
  return np.minimum(p_values * factors[width_bin(target_widths)][None, :], 1.0)


def benjamini_hochberg(p_values: np.ndarray) -> np.ndarray:
  """q-values (Benjamini-Hochberg) of all p-values, any shape."""
  flat = np.asarray(p_values, np.float64).ravel()
  order = np.argsort(flat)
  ranked = flat[order] * flat.size / np.arange(1, flat.size + 1)
  q = np.minimum.accumulate(ranked[::-1])[::-1]
  out = np.empty_like(flat)
  out[order] = np.minimum(q, 1.0)
  return out.reshape(np.shape(p_values))


def match_jaspar(motifs: list[FilterMotif], max_q: float = 0.05, top: int = 3,
                 jaspar=None, min_width: int = 4, min_bits: float = 3.0,
                 min_mean_bits: float = 0.5, null_copies: int = 10) -> list[dict]:
  """Best JASPAR matches of each filter motif, with calibrated p-values and q-values.

  Filters are trimmed of low-information flanks first; those left narrower than
  `min_width`, with fewer than `min_bits` bits, or with fewer than
  `min_mean_bits` per column are not compared: weak, degenerate filters otherwise
  "match" long database motifs (CTCF's 30-column matrices) with tiny p-values.
  Tomtom's p-values are calibrated against `null_copies` column-shuffled copies
  of every filter compared with the same JASPAR matrices (`null_factors`), then
  `q_value` is Benjamini-Hochberg over every filter-JASPAR pair compared and
  `q_value_per_filter` over the JASPAR matrices of each filter (Tomtom's own
  convention). Up to `top` matches per filter with `q_value` <= `max_q` are kept.
  """
  from memelite import tomtom

  ids, names, pwms, release = jaspar or jaspar_motifs()
  motifs = [m.trimmed() for m in motifs]
  motifs = [m for m in motifs if len(m.pwm) >= min_width and m.information() >= min_bits
            and m.information() / len(m.pwm) >= min_mean_bits]
  if not motifs:
    return []
  raw, _, offsets, overlaps, strands = tomtom(
      [m.pwm.T.astype(np.float64) for m in motifs], pwms)[:5]
  null = tomtom([q.T.astype(np.float64) for q in
                 shuffled_queries([m.pwm for m in motifs], null_copies)], pwms)[0]
  widths = np.array([p.shape[1] for p in pwms])
  p_values = calibrated(raw, widths, null_factors(null, widths))
  q_values = benjamini_hochberg(p_values)
  per_filter = np.stack([benjamini_hochberg(row) for row in p_values])
  rows = []
  for i, motif in enumerate(motifs):
    order = np.argsort(p_values[i], kind="stable")[:top]
    for rank, j in enumerate(order, start=1):
      if q_values[i, j] > max_q:
        continue
      rows.append({"filter": motif.name, "rank": rank, "jaspar_id": ids[j],
                   "jaspar_name": names[j], "q_value": float(q_values[i, j]),
                   "q_value_per_filter": float(per_filter[i, j]),
                   "p_value": float(p_values[i, j]),
                   "p_value_best_offset": float(raw[i, j]),
                   "jaspar_width": int(widths[j]), "filter_width": len(motif.pwm),
                   "offset": int(offsets[i, j]), "overlap": int(overlaps[i, j]),
                   "strand": "-" if strands[i, j] else "+", "sites": motif.sites,
                   "information_bits": motif.information(), "release": release})
  return rows


# Promoter motif families a biologist looks for, by JASPAR name.
PROMOTER_FAMILIES = {
    "TBP (TATA box)": r"^TBP",
    "SP/KLF (GC box)": r"^(SP[1-9]|KLF\d+)$",
    "NRF1": r"^NRF1$",
    "NFY (CCAAT box)": r"^NFY[ABC]",
    "ETS": r"^(ELK[134]|ETS[12]|ETV\d|GABPA|ELF[1-5]|ERG|FLI1|FEV|SPI[1BC]|EHF|ERF|ETS)",
    "YY1": r"^YY[12]$",
    "CREB/ATF1": r"^(CREB1|CREM|ATF1)$",
}


def families_recovered(rows: list[dict], families: dict[str, str] = PROMOTER_FAMILIES,
                       max_q: float = 0.05) -> dict[str, dict | None]:
  """Family -> its best match among the filters' top matches: filter, JASPAR motif,
  q-value, whether that q-value is at most `max_q` ("recovered"), and how many
  filters match the family at that cut-off; None when no filter has a motif of
  the family among its top matches."""
  import re

  found: dict[str, dict | None] = {}
  for family, pattern in families.items():
    hits = [r for r in rows if re.search(pattern, r["jaspar_name"], re.IGNORECASE)]
    best = min(hits, key=lambda r: r["q_value"]) if hits else None
    found[family] = None if best is None else {
        "filter": best["filter"], "jaspar": f"{best['jaspar_name']} ({best['jaspar_id']})",
        "q_value": best["q_value"], "recovered": best["q_value"] <= max_q,
        "filters": len({r["filter"] for r in hits if r["q_value"] <= max_q})}
  return found


def plot_logos(motifs: list[FilterMotif], path: str, labels: dict | None = None,
               title: str = "First-layer filters", order: str | None = None) -> str:
  """Sequence logos (bits) of filters (or other motifs: `title` names them, `order`
  says how they were chosen and ranked), two per row, each titled with its best
  JASPAR match or "no JASPAR match"."""
  import logomaker
  import pandas as pd

  from gslm_keras.evaluation.plots import _pyplot, _save

  plt = _pyplot()
  rows = max(1, (len(motifs) + 1) // 2)
  fig, axes = plt.subplots(rows, 2, figsize=(9, 1.7 * rows + 0.6), squeeze=False)
  for ax in axes.ravel()[len(motifs):]:
    ax.axis("off")
  for ax, motif in zip(axes.ravel(), motifs):
    p = np.clip(motif.pwm, 1e-9, 1.0)
    bits = p * (2.0 + (p * np.log2(p)).sum(axis=1, keepdims=True))
    logomaker.Logo(pd.DataFrame(bits, columns=list(BASES)), ax=ax)
    ax.set_ylim(0, 2)
    ax.set_ylabel("bits", fontsize=8)
    match = (labels or {}).get(motif.name, "no JASPAR match")
    ax.set_title(f"{motif.name}: {match}", fontsize=8)
    ax.set_xticks([])
  fig.suptitle(f"{title} ({order or motif_count_text(labels, motifs)})", fontsize=10)
  fig.tight_layout()
  return _save(fig, path)


def motif_count_text(labels: dict | None, motifs: list[FilterMotif]) -> str:
  matched = sum(1 for m in motifs if labels and m.name in labels)
  if matched:
    return (f"{matched} with a JASPAR match, then the most informative of the others; "
            f"{len(motifs)} shown")
  return f"the {len(motifs)} most informative; none with a JASPAR match at the cut-off"
