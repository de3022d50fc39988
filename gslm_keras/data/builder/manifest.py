"""Composes `dataset_info.json` from a finished build (the contract is in
`gslm_keras.data.dataset_info`)."""

from __future__ import annotations

import datetime
import os
from typing import Any, Sequence

import numpy as np

from gslm_keras.data.builder import splits
from gslm_keras.data.builder.config import BuildConfig
from gslm_keras.data.builder.shards import ShardResult
from gslm_keras.data.builder.stats import Moments, merged
from gslm_keras.data.dataset_info import SCHEMA_VERSION, shard_name
from gslm_keras.features.provided import MISSING_MARKERS, ProvidedPlan
from gslm_keras.io.files import sha256_file


def _package_version() -> str:
  from gslm_keras import __version__

  return __version__


def source_entries(config: BuildConfig, specs: Sequence) -> list[dict[str, Any]]:
  """Every input file with its role, format, label, sha256 and size."""
  entries = []
  for spec, split in specs:
    entries.append({"path": spec.path, "role": split or "input",
                    "format": spec.resolved_format(), "label": spec.label,
                    "sha256": sha256_file(spec.path),
                    "bytes": os.path.getsize(spec.path)})
  extra = [("reference", config.reference)]
  extra += [("bigwig", path) for _, path in config.bigwig_features]
  if config.recipe is not None and config.recipe.category_map:
    extra.append(("category_map", config.recipe.category_map))
  for role, path in extra:
    if path:
      entries.append({"path": path, "role": role, "sha256": sha256_file(path),
                      "bytes": os.path.getsize(path)})
  return entries


def install_shards(results: Sequence[ShardResult], workdir: str, compression: str
                   ) -> tuple[dict[str, list[dict]], Moments | None, Moments | None]:
  """Renames the shards to their final names.

  Returns:
    (shard entries per split, computed-feature moments of train, provided-feature
    moments of train).
  """
  by_split: dict[str, list[ShardResult]] = {s: [] for s in splits.SPLITS}
  for result in results:
    by_split[result.split].append(result)
  entries: dict[str, list[dict]] = {}
  computed = provided = None
  for split, shard_results in by_split.items():
    shard_results.sort(key=lambda r: r.index)
    entries[split] = []
    for result in shard_results:
      name = shard_name(split, result.index, len(shard_results), compression)
      os.rename(result.path, os.path.join(workdir, name))
      entries[split].append({"file": name, "num_records": result.num_records,
                             "sha256": result.sha256, "bytes": result.bytes})
      if split == "train":
        computed = merged(computed, result.computed)
        provided = merged(provided, result.provided)
  return entries, computed, provided


def split_rule(config: BuildConfig) -> dict[str, Any]:
  """How records were assigned to splits, for the manifest."""
  rule: dict[str, Any]
  if not config.input:
    rule = {"rule": "files"}
  elif config.split_fractions is not None:
    rule = {"rule": "stratified_fractions", "fractions": list(config.split_fractions),
            "seed": config.seed}
  elif config.split_column is not None:
    rule = {"rule": "column", "column": config.split_column}
  else:
    rule = {"rule": "chromosomes", "dev": list(config.dev_chromosomes),
            "test": list(config.test_chromosomes)}
  if config.dev_fraction:
    rule["dev_from_train"] = {"fraction": config.dev_fraction, "seed": config.seed + 1,
                              "stratified": True}
  return rule


def sequence_section(config: BuildConfig, rule_json: dict, length_range) -> dict:
  return {
      "length_rule": rule_json,
      "alphabet": "IUPAC nucleotide codes ACGTUNRYSWKMBDHV, any case; stored upper-case",
      "ambiguous": config.ambiguous,
      "ambiguous_rule": ("N and window padding are all zeros; other IUPAC codes "
                         + ("are all zeros" if config.ambiguous == "zeros" else
                            "are fractions of their bases (R = 0.5 A + 0.5 G)")
                         + "; computed features count only A, C, G, T"),
      "observed_length": {"min": length_range[0], "max": length_range[1]},
  }


def normalization(n_computed: int, n_provided: int, computed: Moments | None,
                  provided: Moments | None, count: int) -> dict[str, Any]:
  computed = computed or Moments.empty(n_computed)
  provided = provided or Moments.empty(n_provided)
  return {"split": "train", "count": count,
          "mean": np.concatenate([computed.mean, provided.mean]).tolist(),
          "std": np.concatenate([computed.std(), provided.std()]).tolist(),
          "rule": "(x - mean) / std; std 1 for constant columns"}


def missing_section(plan: ProvidedPlan, counts: dict[str, int]) -> dict[str, Any]:
  return {"policy": plan.policy, "markers": sorted(MISSING_MARKERS),
          "missing_counts": counts,
          "storage": "NaN in provided_features; the pipeline fills the train mean"}


def header(config: BuildConfig, engine: str = "streaming") -> dict[str, Any]:
  """The manifest's first keys: schema, name, date, version, engine, command and
  config."""
  return {
      "schema_version": SCHEMA_VERSION,
      "name": config.name or os.path.basename(os.path.abspath(config.output_dir)),
      "created": datetime.datetime.now(datetime.timezone.utc).isoformat(
          timespec="seconds"),
      "package_version": _package_version(),
      "build_engine": engine,
      "build_command": config.command,
      "build_config": config.to_json(),
  }


def labelled(config: BuildConfig, specs: Sequence, labels, provided: ProvidedPlan,
             rule, tally, results: Sequence[ShardResult], workdir: str,
             engine: str = "streaming", moments=None) -> dict:
  """The manifest of a labelled build; renames the shards to their final names.

  Args:
    config: the build config.
    specs: (InputSpec, split or None) of every input.
    labels: the `LabelPlan`.
    provided: the `ProvidedPlan`.
    rule: the `LengthRule` applied.
    tally: the build's `BuildTally`.
    results: every shard written.
    workdir: the directory the shards are in.
    engine: "streaming" or "beam", for the manifest.
    moments: (computed, provided) `Moments` of the train split when combined
      elsewhere (Beam); else merged from the shard results.
  """
  from gslm_keras.data.builder import dedup
  from gslm_keras.features.spec import output_names

  shards, computed, provided_moments = install_shards(results, workdir,
                                                     config.compression)
  if moments is not None:
    computed, provided_moments = moments
  split_entries = {split: {
      "num_records": tally.num_records[split], "shards": shards[split],
      "length_actions": tally.actions[split],
      "class_counts": tally.class_counts[split] if labels.classes else None,
  } for split in splits.SPLITS}
  computed_names = output_names(config.computed_features)
  return {
      **header(config, engine),
      "sources": source_entries(config, specs),
      "sequence": sequence_section(config, rule.to_json(), tally.length_range),
      "computed_features": [f.to_json() for f in config.computed_features],
      "provided_features": provided.describe(),
      "missing_values": missing_section(provided, tally.missing_counts),
      "feature_names": computed_names + provided.names,
      "normalization": normalization(
          len(computed_names), len(provided.names), computed, provided_moments,
          tally.num_records["train"]),
      "task": labels.describe(),
      "compression": config.compression,
      "split_rule": split_rule(config),
      "splits": split_entries,
      "skipped_by_reader": tally.reader_skipped,
      "sequence_overlaps": dedup.sequence_overlaps(tally.seq_hashes),
  }
