r"""Motifs a biologist can trust: Tomtom statistics before and after, on real models.

  python -m benchmarks.motifs --model_dirs=build/models/prom_300_tata,... \
      --limit=1000 --output=benchmarks/results/motifs.json

For each promoter model (the default model trained on GUE prom_300_tata, one per
seed): the stem filters as PWMs from the train split (`--limit` sequences), Tomtom
against JASPAR CORE vertebrates, and the matches under two rules:

- `before`: memelite's best-offset p-value <= 0.01 (the rule of gslm_keras 0.1);
- `after`: p-values calibrated on column-shuffled filters by JASPAR width, then
  Benjamini-Hochberg q-values over every filter-JASPAR pair, q <= 0.05 (what
  `interpret motifs` does).

Calibration is checked out of sample: the factors are fitted on half of the
shuffled filters and the share of the other half's p-values at or below 1e-3 and
1e-4 is compared with the nominal level, per JASPAR width bin, before and after.
Reported per model and rule: filters with a match, the width of the matched JASPAR
matrices (length bias), the share of CTCF matches, each promoter family's best
match and its q-value, and the time of each stage.
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np

from benchmarks import common


def _best(motifs, p, q, ids, names, widths, rule: str) -> list[dict]:
  """Best match per filter that passes the rule (before: raw p <= 0.01; after:
  q <= 0.05)."""
  rows = []
  for i, motif in enumerate(motifs):
    j = int(np.argmin(p[i]))
    value = p[i, j] if rule == "before" else q[i, j]
    if value <= (0.01 if rule == "before" else 0.05):
      rows.append({"filter": motif.name, "jaspar_id": ids[j], "jaspar_name": names[j],
                   "q_value": float(value), "jaspar_width": int(widths[j])})
  return rows


def _top(motifs, p, q, ids, names, top: int = 3) -> list[dict]:
  """Each filter's top matches by p-value, with the rule's value as q_value."""
  rows = []
  for i, motif in enumerate(motifs):
    for j in np.argsort(p[i], kind="stable")[:top]:
      rows.append({"filter": motif.name, "jaspar_id": ids[j], "jaspar_name": names[j],
                   "q_value": float(q[i, j])})
  return rows


def calibration_check(null: np.ndarray, widths: np.ndarray) -> dict:
  """Out-of-sample: factors from the even null queries, checked on the odd ones."""
  from gslm_keras.interpretation import motifs as motifs_lib

  fit, check = null[0::2], null[1::2]
  factors = motifs_lib.null_factors(fit, widths)
  calibrated = motifs_lib.calibrated(check, widths, factors)
  bins = motifs_lib.width_bin(widths)
  out = {}
  for b, low in enumerate(motifs_lib.WIDTH_BINS):
    high = (motifs_lib.WIDTH_BINS + (None,))[b + 1]
    name = f"{low}-{high - 1}" if high else f">={low}"
    sel = bins == b
    out[name] = {"targets": int(sel.sum()), "factor": float(factors[b])}
    for level in (1e-3, 1e-4):
      out[name][f"raw_{level:g}"] = float((check[:, sel] <= level).mean() / level)
      out[name][f"calibrated_{level:g}"] = float((calibrated[:, sel] <= level).mean()
                                                 / level)
  return out


def one_model(model_dir: str, limit: int, jaspar) -> dict:
  from memelite import tomtom

  from gslm_keras.inference.model import LoadedModel
  from gslm_keras.interpretation import motifs as motifs_lib
  from gslm_keras.interpretation.commands import _eval_arrays
  from gslm_keras.run_dir import data_dir_of

  seconds = {}
  start = time.monotonic()
  model = LoadedModel(model_dir)
  one_hot, _, _ = _eval_arrays(data_dir_of(model.config), "train", limit)
  found = motifs_lib.filter_motifs(model.keras_model, one_hot, progress_seconds=1e9)
  seconds["filters"] = time.monotonic() - start
  ids, names, pwms, _ = jaspar
  kept = [m.trimmed() for m in found]
  kept = [m for m in kept if len(m.pwm) >= 4 and m.information() >= 3.0
          and m.information() / len(m.pwm) >= 0.5]
  mark = time.monotonic()
  raw = tomtom([m.pwm.T.astype(np.float64) for m in kept], pwms)[0]
  null = tomtom([p.T.astype(np.float64) for p in motifs_lib.shuffled_queries(
      [m.pwm for m in kept], 20)], pwms)[0]
  seconds["tomtom"] = time.monotonic() - mark
  widths = np.array([p.shape[1] for p in pwms])
  calibrated = motifs_lib.calibrated(raw, widths, motifs_lib.null_factors(null[0::2],
                                                                          widths))
  q = motifs_lib.benjamini_hochberg(calibrated)
  out = {"model_dir": model_dir, "sequences": len(one_hot), "filters": len(found),
         "filters_compared": len(kept), "seconds": seconds,
         "calibration": calibration_check(null, widths)}
  for rule, p, value in (("before", raw, raw), ("after", calibrated, q)):
    best = _best(kept, p, value, ids, names, widths, rule)
    cutoff = 0.01 if rule == "before" else 0.05
    families = motifs_lib.families_recovered(_top(kept, p, value, ids, names),
                                             max_q=cutoff)
    out[rule] = {
        "filters_matched": len(best),
        "median_matched_width": float(np.median([r["jaspar_width"] for r in best]))
        if best else None,
        "share_matched_width_ge_20": float(np.mean([r["jaspar_width"] >= 20 for r in best]))
        if best else None,
        "share_ctcf": float(np.mean([r["jaspar_name"].upper().startswith("CTCF")
                                     for r in best])) if best else None,
        "families": families, "best": best}
  return out


def _family_cell(hit) -> str:
  if hit is None:
    return "-"
  mark = "**" if hit["recovered"] else ""
  return f"{mark}{hit['jaspar']} {hit['q_value']:.1g}{mark}"


def markdown(results: dict) -> str:
  fmt = lambda v, f: "-" if v is None else format(v, f)  # noqa: E731
  lines = ["# Motifs: Tomtom matches before and after calibration and q-values", "",
           common.machine_lines(results), "",
           f"JASPAR: {results['jaspar']['release']}, {results['jaspar']['matrices']} "
           f"matrices (CORE vertebrates), median width "
           f"{results['jaspar']['median_width']:.0f}, "
           f"{results['jaspar']['share_width_ge_20']:.0%} with 20 or more columns.", "",
           "## Calibration of Tomtom p-values (column-shuffled filters, out of sample)",
           "", "Share of null p-values at or below the level, divided by the level "
           "(1 = calibrated), by JASPAR width; first model:", "",
           "| JASPAR width | matrices | factor | raw at 1e-3 | calibrated at 1e-3 | "
           "raw at 1e-4 | calibrated at 1e-4 |", "|---|---|---|---|---|---|---|"]
  for name, row in results["models"][0]["calibration"].items():
    lines.append(f"| {name} | {row['targets']} | {row['factor']:.2f} | "
                 f"{row['raw_0.001']:.2f} | {row['calibrated_0.001']:.2f} | "
                 f"{row['raw_0.0001']:.2f} | {row['calibrated_0.0001']:.2f} |")
  lines += ["", "## Matches", "",
            "One best match per filter; `before`: best-offset p <= 0.01 (0.1), "
            "`after`: calibrated, q <= 0.05 over all filter-JASPAR pairs.", "",
            "| model | filters compared | rule | filters matched | median JASPAR width "
            "matched | share >= 20 columns | share CTCF |", "|---|---|---|---|---|---|---|"]
  for model in results["models"]:
    for rule in ("before", "after"):
      r = model[rule]
      lines.append(f"| {model['model_dir']} | {model['filters_compared']} | {rule} | "
                   f"{r['filters_matched']} | {fmt(r['median_matched_width'], '.0f')} | "
                   f"{fmt(r['share_matched_width_ge_20'], '.0%')} | "
                   f"{fmt(r['share_ctcf'], '.0%')} |")
  families = list(results["models"][0]["after"]["families"])
  lines += ["", "## Promoter motif families", "",
            "Each family's best match among the filters' top 3, with its q-value "
            "(after) or p-value (before); bold: passes the rule's cut-off.", "",
            "| model | rule | " + " | ".join(families) + " |",
            "|---|---|" + "---|" * len(families)]
  for model in results["models"]:
    for rule in ("before", "after"):
      cells = [_family_cell(model[rule]["families"][f]) for f in families]
      lines.append(f"| {model['model_dir']} | {rule} | " + " | ".join(cells) + " |")
  lines += ["", "Time per model (s): " + "; ".join(
      f"{m['model_dir']}: filters {m['seconds']['filters']:.0f}, Tomtom with the "
      f"null {m['seconds']['tomtom']:.0f}" for m in results["models"]) +
      f"; loading JASPAR {results['jaspar']['seconds']:.0f}.", ""]
  return "\n".join(lines)


def main(argv=None) -> int:
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("--model_dirs", required=True, help="Comma-separated runs.")
  parser.add_argument("--limit", type=int, default=1000)
  parser.add_argument("--output", default="benchmarks/results/motifs.json")
  args = parser.parse_args(argv)
  from gslm_keras.interpretation import motifs as motifs_lib

  results = common.header("benchmarks.motifs")
  start = time.monotonic()
  jaspar = motifs_lib.jaspar_motifs()
  widths = np.array([p.shape[1] for p in jaspar[2]])
  results["jaspar"] = {"release": jaspar[3], "matrices": len(jaspar[0]),
                       "median_width": float(np.median(widths)),
                       "share_width_ge_20": float(np.mean(widths >= 20)),
                       "seconds": time.monotonic() - start}
  results["models"] = [one_model(d, args.limit, jaspar) for d in args.model_dirs.split(",")]
  common.write_results(args.output, results, markdown(results))
  print(markdown(results))
  return 0


if __name__ == "__main__":
  sys.exit(common.run(main))
