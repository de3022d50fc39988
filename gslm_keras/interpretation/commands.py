"""The `interpret` commands as library calls: `ism`, `attribute`, `motifs`,
`modisco`.

Each takes a model (a training run's directory, or an export where it can work
without the layers), writes its files into `output_dir` and returns what it
found, so tests and notebooks call exactly what the command line runs.
"""

from __future__ import annotations

import os
import time
from typing import Sequence

import numpy as np
from absl import logging

from gslm_keras.dna import alphabet
from gslm_keras.errors import ConfigError
from gslm_keras.inference.model import LoadedModel
from gslm_keras.interpretation import attribution, motifs as motifs_lib, mutagenesis
from gslm_keras.io.files import save_npz, write_json_atomic
from gslm_keras.io.progress import Progress
from gslm_keras.io.tables import TableWriter
from gslm_keras.run_dir import data_dir_of
from gslm_keras.tasks.language import MASKED_NUCLEOTIDE
from gslm_keras.tasks.supervised import SUPERVISED

TOMTOM_FIELDS = ["filter", "rank", "jaspar_id", "jaspar_name", "q_value",
                 "q_value_per_filter", "p_value", "p_value_best_offset", "filter_width",
                 "jaspar_width", "offset", "overlap", "strand", "sites",
                 "information_bits", "release"]


def output_index(model: LoadedModel, name: str | None) -> tuple[int, str]:
  """(column index, column name) of the output to explain.

  `name` is a column name (`prob_<class>`, `value_<target>`) or a bare class or
  target name; the default is the positive class of a binary model, else the
  first column.
  """
  columns = model.columns
  if name is None:
    index = 1 if model.info.task == "binary" else 0
    return index, columns[index]
  for index, column in enumerate(columns):
    if name in (column, column.split("_", 1)[1]):
      return index, column
  raise ConfigError(f"--output_name={name!r}: the model's outputs are "
                    f"{', '.join(columns)}")


def _eval_arrays(data_dir: str, split: str, limit: int):
  from gslm_keras.data.pipeline import make_dataset

  xs, fs, ids = [], [], []
  for inputs, _, batch_ids in make_dataset(data_dir, split, "eval", 256, with_ids=True,
                                           limit=limit):
    xs.append(inputs["sequence"].numpy())
    fs.append(inputs["features"].numpy())
    ids += [i.decode() for i in batch_ids.numpy()]
  return np.concatenate(xs), np.concatenate(fs), ids


def ism(model_path: str, records: Sequence[tuple[str, str]], output_dir: str,
        output_name: str | None = None, provided: Sequence[float] | None = None,
        source: str = "--sequence", length_mismatch: str = "rule") -> list[dict]:
  """In-silico mutagenesis of each (id, sequence): `ism_<id>.npz`, `.tsv`, `.png`.

  Args:
    source: where the records come from, for error messages (a FASTA path).
    length_mismatch: a sequence of another length than the model's window:
      "rule" (the training dataset's length rule) or "adjust" (crop or pad).

  Returns:
    One `mutagenesis.ism` result per record, with "id", "column" and
    "length_adjustment" ("none", "padded", "cropped") added.

  Raises:
    InputError: a sequence with a character outside the IUPAC codes (the
      dataset builder refuses those too), or of a length the rule refuses,
      naming the record.
  """
  for record_id, sequence in records:
    alphabet.check_letters(sequence, source, record_id)
  from gslm_keras.inference.manifest import for_task

  return for_task(model_path, {SUPERVISED: _ism_classifier,
                               MASKED_NUCLEOTIDE.objective: _llr_maps})(
      model_path, records, output_dir, output_name, provided, source, length_mismatch)


def _llr_maps(model_path, records, output_dir, output_name, provided, source,
              length_mismatch):
  """A language model's mutagenesis: an LLR map per record, read as given."""
  from gslm_keras.inference.language import LanguageModel

  language_model = LanguageModel(model_path)
  return [{**_ism_record(language_model, record_id, sequence, output_dir, 0, "llr",
                         None), "length_adjustment": "none"}
          for record_id, sequence in records]


def _ism_classifier(model_path, records, output_dir, output_name, provided, source,
                    length_mismatch):
  model = LoadedModel(model_path)
  rule = model.info.length_rule
  adjustments = [rule.adjustment(len(sequence), length_mismatch, source, record_id)
                 for record_id, sequence in records]
  index, column = output_index(model, output_name)
  if model.info.n_provided and provided is None:
    raise ConfigError(f"the model takes {model.info.n_provided} provided features: "
                      "pass --provided")
  meter = Progress("sequences mutated", total=len(records))
  results = []
  for (record_id, sequence), adjusted in zip(records, adjustments):
    results.append({**_ism_record(model, record_id, sequence, output_dir, index, column,
                                  provided), "length_adjustment": adjusted})
    meter.update(len(results))
  return results


def _ism_record(model, record_id, sequence, output_dir, index, column, provided) -> dict:
  """One record's mutagenesis (an LLR map for a language model), written as .npz,
  .tsv and .png."""
  result = (mutagenesis.llr_map(model, sequence) if column == "llr" else
            mutagenesis.ism(model, sequence, provided))
  stem = os.path.join(output_dir, f"ism_{record_id}")
  os.makedirs(output_dir, exist_ok=True)
  arrays = {k: result[k] for k in ("effects", "effects_probability") if k in result}
  save_npz(stem + ".npz", window=np.array(result["window"]),
                      reference=result["reference"], scale=np.array(result["scale"]),
                      **arrays)
  scale = result["scale"]
  names = {"effects": "llr" if scale == "llr" else f"effect_{scale}_{column}",
           "effects_probability": f"effect_probability_{column}"}
  with TableWriter(stem + ".tsv", ["position", "ref", "alt",
                                   *(names[k] for k in arrays)]) as out:
    out.write([{"position": p, "ref": letter, "alt": base,
                **{names[k]: float(v[p, b, index]) for k, v in arrays.items()}}
               for p, letter in enumerate(result["window"])
               for b, base in enumerate(mutagenesis.BASES) if base != letter])
  mutagenesis.plot_ism(result, index, "mean log P(ref)" if column == "llr" else column,
                       stem + ".png", title=record_id)
  return {**result, "id": record_id, "column": column, "files": stem}


def attribute(model_path: str, output_dir: str, data_dir: str | None = None,
              split: str = "test", limit: int = 500,
              method: str = "integrated_gradients", steps: int = 128,
              output_name: str | None = None) -> dict:
  """Attributions over both branches for the first `limit` records of a split.

  Writes TF-MoDISco-lite inputs (`attr_ohe.npz`, `attr_attr.npz`), per-base
  tracks, feature attributions and `attribution_summary.json`.

  Returns:
    The summary (method, output, examples, branch shares, completeness gap).
  """
  model = LoadedModel(model_path)
  keras_model, info = model.keras_model, model.info
  index, column = output_index(model, output_name)
  # Attribution follows the model's own output: binary models have one column.
  target = 0 if info.task == "binary" else index
  one_hot, features, ids = _eval_arrays(data_dir or data_dir_of(model.config), split,
                                        limit)
  if method == "integrated_gradients":
    result = attribution.integrated_gradients(keras_model, info, one_hot, features,
                                              target, steps)
  else:
    result = attribution.gradient_x_input(keras_model, info, one_hot, features, target)
  shares = attribution.branch_shares(result)
  os.makedirs(output_dir, exist_ok=True)
  attribution.write_modisco(os.path.join(output_dir, "attr"), one_hot, result["sequence"])
  windows = ["".join(mutagenesis.BASES[i] if row.max() > 0 else "N"
                     for i, row in zip(r.argmax(axis=1), r)) for r in one_hot]
  attribution.write_tracks(os.path.join(output_dir, "attribution_tracks.tsv"), ids,
                           windows, result["sequence"])
  with TableWriter(os.path.join(output_dir, "feature_attributions.tsv"),
                   ["id", *info.feature_names]) as out:
    out.write([{"id": record_id, **dict(zip(info.feature_names, map(float, row)))}
               for record_id, row in zip(ids, result["features"])])
  summary = {"method": method, "output": column, "examples": len(ids),
             "sequence_share_mean": float(shares["sequence_share"].mean()),
             "features_share_mean": float(shares["features_share"].mean())}
  if "completeness_gap" in result:
    gap = result["completeness_gap"]
    summary.update({"steps": steps, "completeness_gap_median": float(np.median(gap)),
                    "completeness_gap_p90": float(np.percentile(gap, 90)),
                    "fraction_within_1_percent": float((gap <= 0.01).mean())})
  write_json_atomic(os.path.join(output_dir, "attribution_summary.json"), summary)
  return summary


def motifs(model_path: str, output_dir: str, data_dir: str | None = None,
           split: str = "train", limit: int = 500, max_q: float = 0.05,
           tax_group: str | None = "vertebrates", jaspar=None,
           families: dict[str, str] | None = None) -> dict:
  """First-layer filters as PWMs, a MEME file, Tomtom matches with q-values, logos.

  Args:
    max_q: q-value cut-off (Benjamini-Hochberg over every filter-JASPAR pair, on
      Tomtom p-values calibrated on column-shuffled filters).
    jaspar: (ids, names, PWMs, release) to compare with; JASPAR CORE of
      `tax_group` from pyjaspar when None.
    families: family name -> regular expression on JASPAR names (e.g.
      `motifs.PROMOTER_FAMILIES`): each family's best match among the filters'
      top matches and whether it passes `max_q`, written to `families.json`.

  Returns:
    {"motifs": the filter motifs, "matches": Tomtom rows in q-value order,
     "best": filter name -> best match label, "families": see above or None,
     "seconds": time per stage}.
  """
  seconds = {}
  started = time.monotonic()
  model = LoadedModel(model_path)
  one_hot, _, _ = _eval_arrays(data_dir or data_dir_of(model.config), split, limit)
  found = motifs_lib.filter_motifs(model.keras_model, one_hot)
  seconds["filters"] = time.monotonic() - started
  logging.info("%d filter motifs from %d sequences in %.0f s; comparing with JASPAR",
               len(found), len(one_hot), seconds["filters"])
  os.makedirs(output_dir, exist_ok=True)
  motifs_lib.write_meme(os.path.join(output_dir, "filters.meme"), found)
  mark = time.monotonic()
  jaspar = jaspar or motifs_lib.jaspar_motifs(tax_group=tax_group or None)
  # Every filter's top matches, whatever their q-value: families are judged on them.
  candidates = sorted(motifs_lib.match_jaspar(found, max_q=1.0, jaspar=jaspar),
                      key=lambda r: (r["q_value"], r["p_value"]))
  rows = [r for r in candidates if r["q_value"] <= max_q]
  seconds["tomtom"] = time.monotonic() - mark
  logging.info("Tomtom against %d JASPAR motifs in %.0f s", len(jaspar[0]),
               seconds["tomtom"])
  with TableWriter(os.path.join(output_dir, "tomtom.tsv"), TOMTOM_FIELDS) as out:
    out.write(rows)
  best: dict[str, str] = {}
  for row in rows:
    best.setdefault(row["filter"], f"{row['jaspar_name']} ({row['jaspar_id']}, "
                                   f"q={row['q_value']:.2g})")
  recovered = _families(os.path.join(output_dir, "families.json"), candidates,
                        families, max_q)
  by_name = {m.name: m for m in found}
  # Logos of the matched filters first (best is in q-value order), then the most
  # informative of the others, 12 in all.
  top = [by_name[name] for name in best][:12]
  top += [m for m in sorted(found, key=lambda m: -m.information())
          if m.name not in best][:12 - len(top)]
  motifs_lib.plot_logos(top, os.path.join(output_dir, "logos.png"), best)
  seconds["total"] = time.monotonic() - started
  return {"motifs": found, "matches": rows, "best": best, "families": recovered,
          "seconds": seconds}


def modisco(model_path: str, output_dir: str, data_dir: str | None = None,
            split: str = "test", limit: int = 1000, steps: int = 32,
            max_q: float = 0.05, tax_group: str | None = "vertebrates", jaspar=None,
            families: dict[str, str] | None = None, output_name: str | None = None,
            max_seqlets: int = 2000) -> dict:
  """TF-MoDISco patterns of the model's integrated gradients over the first
  `limit` records of a split, matched to JASPAR (see `interpretation.modisco`).

  Writes `patterns.meme`, `patterns_tomtom.tsv` (matches at q <= max_q),
  `patterns.json` (every pattern: PPM, contributions, seqlets, best match),
  `patterns_logos.png`, `report.md`, and with `families` `patterns_families.json`:
  names of their own, so that `motifs` (filters.meme, tomtom.tsv, logos.png,
  families.json) and `modisco` can share an output folder.

  Returns:
    {"patterns", "matches" (rows at q <= max_q), "best" (pattern -> its best match
     row, whatever its q), "families", "summary", "seconds"}.
  """
  from gslm_keras.interpretation import modisco as modisco_lib

  seconds, started = {}, time.monotonic()
  model = LoadedModel(model_path)
  index, column = output_index(model, output_name)
  target = 0 if model.info.task == "binary" else index
  one_hot, features, _ = _eval_arrays(data_dir or data_dir_of(model.config), split,
                                      limit)
  result = attribution.integrated_gradients(model.keras_model, model.info, one_hot,
                                            features, target, steps)
  seconds["attributions"] = time.monotonic() - started
  logging.info("Integrated gradients of %d sequences in %.0f s; running TF-MoDISco",
               len(one_hot), seconds["attributions"])
  patterns = modisco_lib.discover(one_hot, result["hypothetical"], max_seqlets)
  seconds["modisco"] = time.monotonic() - started - seconds["attributions"]
  jaspar = jaspar or motifs_lib.jaspar_motifs(tax_group=tax_group or None)
  found = [p.motif for p in patterns]
  candidates = sorted(motifs_lib.match_jaspar(found, max_q=1.0, jaspar=jaspar),
                      key=lambda r: (r["q_value"], r["p_value"])) if found else []
  best: dict[str, dict] = {}
  for row in candidates:
    best.setdefault(row["filter"], row)
  summary = {"model": model_path, "split": split, "examples": len(one_hot),
             "steps": steps, "output": column, "max_q": max_q,
             "seqlets": sum(p.motif.sites for p in patterns), "patterns": len(patterns),
             "jaspar": f"{jaspar[3]}, {len(jaspar[0])} matrices",
             "completeness_gap_median": float(np.median(result["completeness_gap"]))}
  recovered = _write_patterns(output_dir, patterns, candidates, best, summary, families)
  seconds["total"] = time.monotonic() - started
  return {"patterns": patterns, "matches": [r for r in candidates
                                            if r["q_value"] <= max_q],
          "best": best, "families": recovered, "summary": summary, "seconds": seconds}


def _families(path, candidates, families, max_q):
  """Which motif `families` the matches recover, written to `path`; without
  families, None, and a `path` left by an earlier run is removed (it would answer a
  question this run did not ask)."""
  if not families:
    if os.path.exists(path):
      os.remove(path)
    return None
  recovered = motifs_lib.families_recovered(candidates, families, max_q)
  write_json_atomic(path, recovered)
  return recovered


def _write_patterns(output_dir, patterns, candidates, best, summary, families):
  """The files of `modisco`; returns the families recovered (or None)."""
  from gslm_keras.interpretation import modisco as modisco_lib

  max_q = summary["max_q"]
  motifs_lib.write_meme(os.path.join(output_dir, "patterns.meme"),
                        [p.motif for p in patterns])
  with TableWriter(os.path.join(output_dir, "patterns_tomtom.tsv"), TOMTOM_FIELDS) as out:
    out.write([r for r in candidates if r["q_value"] <= max_q])
  write_json_atomic(os.path.join(output_dir, "patterns.json"), [
      {"name": p.motif.name, "seqlets": p.seqlets, "ppm": p.motif.pwm.tolist(),
       "contribution": p.contribution.tolist(),
       "best_match": {k: (float(best[p.motif.name][k]) if k.endswith("value")
                          else str(best[p.motif.name][k])) for k in (
           "jaspar_id", "jaspar_name", "q_value", "p_value")}
       if p.motif.name in best else None} for p in patterns])
  recovered = _families(os.path.join(output_dir, "patterns_families.json"), candidates,
                        families, max_q)
  labels = {name: f"{row['jaspar_name']} (q={row['q_value']:.2g})"
            for name, row in best.items() if row["q_value"] <= max_q}
  shown = patterns[:12]
  motifs_lib.plot_logos(
      [p.motif for p in shown], os.path.join(output_dir, "patterns_logos.png"), labels,
      title="TF-MoDISco patterns",
      order=(f"{len(shown)} of {len(patterns)}: positive, then negative, most seqlets first; "
             f"{sum(p.motif.name in labels for p in shown)} with a JASPAR match at "
             f"q <= {max_q:g}"))
  modisco_lib.write_report(output_dir, patterns, best, summary)
  write_json_atomic(os.path.join(output_dir, "modisco_summary.json"), summary)
  return recovered
