"""`score_variants(config)`: variant effects through both branches of a model.

For each variant the reference and alternate windows are encoded by the dataset's
`SequenceEncoder` (so computed features are recomputed for the alternate allele)
and scored four ways in one batch: ref, alt, alt sequence with ref features (the
sequence path) and ref sequence with alt features (the feature path). With
strand averaging (the default) the same is done on the reverse complements of
both windows and the scores are averaged. Input streams in batches; memory holds
one batch.
"""

from __future__ import annotations

import collections
import dataclasses
import json
import math
import os
import time
from typing import Any

import numpy as np
from absl import logging

from gslm_keras.data.manifest import MANIFEST, DatasetInfo
from gslm_keras.dna import alphabet
from gslm_keras.errors import ConfigError, DatasetError, InputError
from gslm_keras.variants import io, scoring
from gslm_keras.variants.windows import make_windows, windows_in_sequence

REF_MISMATCH = ("error", "flag")
PROVIDED_POLICIES = ("hold", "per_allele")


@dataclasses.dataclass(frozen=True)
class ScoreConfig:
  """What `score_variants` needs.

  Attributes:
    model: a training run's model_dir, or a SavedModel export.
    output: .tsv, .parquet, .vcf or .vcf.gz.
    vcf: VCF input (with `reference`), or None.
    reference: reference genome FASTA for VCF input (plain or bgzip; a missing
      .fai index is built).
    variants: a table of explicit variants instead (see `io.read_variant_table`).
    batch_size: variants per batch.
    strand_average: average scores over both strands.
    ref_mismatch: REF that disagrees with the reference: "error", or "flag" the
      row (scored on the genome's sequence with the given alleles).
    provided_policy: provided features of the alternate allele: "hold" the
      reference value, or "per_allele" (table columns `<name>_alt`).
    progress_seconds: seconds between progress lines.
    command: the command line, recorded in the output header.
  """

  model: str
  output: str
  vcf: str | None = None
  reference: str | None = None
  variants: str | None = None
  batch_size: int = 128
  strand_average: bool = True
  ref_mismatch: str = "error"
  provided_policy: str = "hold"
  progress_seconds: float = 10.0
  command: str | None = None

  def __post_init__(self):
    if (self.vcf is None) == (self.variants is None):
      raise ConfigError("give either --vcf (with --reference) or --variants")
    if self.vcf is not None and not self.reference:
      raise ConfigError("--vcf needs --reference (the genome FASTA)")
    if self.ref_mismatch not in REF_MISMATCH:
      raise ConfigError(f"ref_mismatch={self.ref_mismatch!r}: expected error or flag")
    if self.provided_policy not in PROVIDED_POLICIES:
      raise ConfigError(f"provided_policy={self.provided_policy!r}: expected hold or "
                        "per_allele")
    if self.batch_size < 1:
      raise ConfigError(f"batch_size={self.batch_size}: expected >= 1")
    if self.output.endswith((".vcf", ".vcf.gz")) and self.vcf is None:
      raise ConfigError("VCF output needs VCF input")


class TensorModel:
  """The model as `(one_hot, features) -> outputs`, from a run or an export."""

  def __init__(self, path: str):
    if os.path.exists(os.path.join(path, "saved_model.pb")):
      import tensorflow as tf

      manifest = os.path.join(path, "assets", MANIFEST)
      if not os.path.exists(manifest):
        raise DatasetError(f"{path} is a SavedModel without assets/{MANIFEST}")
      with open(manifest, encoding="utf-8") as handle:
        self.info = DatasetInfo(json.load(handle), path)
      signature = tf.saved_model.load(path).signatures["predict_onehot"]
      key = "values" if self.info.task == "regression" else "probabilities"

      def call(one_hot, features):
        out = signature(sequence=tf.constant(one_hot), features=tf.constant(features))
        values = out[key].numpy()
        return values[:, 1:] if self.info.task == "binary" else values

      self._call = call
    else:
      from gslm_keras.prediction import load_trained

      model, self.info = load_trained(path)
      self._call = lambda one_hot, features: np.asarray(
          model({"sequence": one_hot, "features": features}, training=False))

  def __call__(self, one_hot, features) -> np.ndarray:
    return self._call(one_hot, features)


def output_names(info: DatasetInfo) -> list[str]:
  """One name per model output column (binary: the positive class only)."""
  if info.task == "regression":
    return list(info.data["task"]["label_columns"])
  if info.task == "binary":
    return [info.classes[1]]
  return list(info.classes)


class _Provided:
  """Provided-feature vectors of ref and alt for each variant."""

  def __init__(self, info: DatasetInfo, config: ScoreConfig):
    from gslm_keras.prediction import provided_plan

    self.n = info.n_provided
    self.columns, self.vector = provided_plan(info)
    described = {f["name"]: f for f in info.data["provided_features"]}
    self.bigwigs = {}
    self.policy = config.provided_policy
    if not self.n:
      return
    table_columns = [c for c in self.columns if described[c]["source"] == "column"]
    if config.vcf is not None and table_columns:
      raise ConfigError(
          f"the model takes provided feature column(s) {', '.join(table_columns)}, which "
          "a VCF does not carry; score a --variants table that has them")
    import pyBigWig

    for name in self.columns:
      if described[name]["source"] == "bigwig":
        path = described[name]["path"]
        if not os.path.exists(path):
          raise InputError("bigWig of provided feature not found (the model was "
                           f"trained with {name!r} from it)", path=path)
        self.bigwigs[name] = pyBigWig.open(path)

  def close(self):
    for handle in self.bigwigs.values():
      handle.close()

  def values(self, variant: io.Variant, begin: int, end: int, path: str):
    if not self.n:
      return None, None
    from gslm_keras.data.builder import MISSING_MARKERS, parse_finite

    def parse(text, name):
      if text is None or text in MISSING_MARKERS:
        return math.nan
      return parse_finite(text, f"provided feature {name!r}", path, variant.locator)

    ref, alt = [], []
    for name in self.columns:
      if name in self.bigwigs:
        handle = self.bigwigs[name]
        size = handle.chroms().get(variant.chrom)
        value = None
        if size:
          value = handle.stats(variant.chrom, max(begin, 0), min(end, size), type="mean",
                               exact=True)[0]
        ref.append(math.nan if value is None else value)
        alt.append(ref[-1])
        continue
      values = variant.values or {}
      if name not in values:
        raise InputError(f"provided feature column {name!r} missing from the variant "
                         "table", path=path, record=variant.locator)
      ref.append(parse(values[name], name))
      if self.policy == "per_allele":
        if f"{name}_alt" not in values:
          raise InputError(f"provided_policy=per_allele needs column {name}_alt",
                           path=path, record=variant.locator)
        alt.append(parse(values[f"{name}_alt"], f"{name}_alt"))
      else:
        alt.append(ref[-1])
    return self.vector(ref), self.vector(alt)


def _rows(batch, predictions, names, strands, classifier):
  """Output rows of a batch from the stacked predictions."""
  n = len(batch)
  blocks = predictions.reshape(strands, 4, n, -1)  # strand, (ref alt seq feat), n, cols
  per_strand = [scoring.scores(blocks[s, 0], blocks[s, 1], classifier)
                for s in range(strands)]
  averaged = scoring.strand_average(per_strand[0],
                                    per_strand[1] if strands == 2 else None)
  seq_path = (blocks[:, 2] - blocks[:, 0]).mean(axis=0)
  feature_path = (blocks[:, 3] - blocks[:, 0]).mean(axis=0)
  ref_pred, alt_pred = blocks[:, 0].mean(axis=0), blocks[:, 1].mean(axis=0)
  rows = []
  for i, (variant, mismatch, padded) in enumerate(batch):
    row: dict[str, Any] = {"id": variant.id, "chrom": variant.chrom, "pos": variant.pos,
                           "ref": variant.ref, "alt": variant.alt,
                           "ref_mismatch": mismatch, "padded": padded}
    for j, name in enumerate(names):
      row[f"ref_{name}"] = float(ref_pred[i, j])
      row[f"alt_{name}"] = float(alt_pred[i, j])
      for score, values in averaged.items():
        row[f"{score}_{name}"] = float(values[i, j])
      row[f"seq_path_diff_{name}"] = float(seq_path[i, j])
      row[f"feature_path_diff_{name}"] = float(feature_path[i, j])
    rows.append(row)
  return rows


def score_variants(config: ScoreConfig) -> dict[str, Any]:
  """Scores every variant of the input; returns counts, skips and timing.

  Raises:
    InputError: a REF that disagrees with the reference (ref_mismatch=error), a
      malformed VCF or table, or every record skipped.
    ConfigError: inconsistent options or a model whose features cannot be had.
  """
  import tensorflow as tf

  from gslm_keras.data.encoder import SequenceEncoder
  from gslm_keras.data.readers import Genome

  model = TensorModel(config.model)
  info = model.info
  encoder = SequenceEncoder.from_info(info)
  length = info.length_rule.length
  names = output_names(info)
  classifier = info.task != "regression"
  score_names = scoring.SCORES_CLASSIFIER if classifier else scoring.SCORES_REGRESSION
  columns = ["id", "chrom", "pos", "ref", "alt", "ref_mismatch", "padded"]
  for name in names:
    columns += [f"ref_{name}", f"alt_{name}"] + [f"{s}_{name}" for s in score_names]
    columns += [f"seq_path_diff_{name}", f"feature_path_diff_{name}"]
  info_fields = {f"GSLM_{c.upper()}": c for c in columns[7:]}
  skipped: collections.Counter = collections.Counter()
  genome = Genome(config.reference) if config.vcf else None
  provided = _Provided(info, config)
  source = config.vcf or config.variants
  if config.vcf:
    stream = io.read_vcf(config.vcf, skipped)
    contigs = genome.lengths
  else:
    stream = io.read_variant_table(
        config.variants, provided.columns + [f"{c}_alt" for c in provided.columns])
    contigs = None
  writer = io.ScoreWriter(config.output, columns, info_fields, contigs)
  strands = 2 if config.strand_average else 1
  start = last = time.monotonic()
  stats = {"variants": 0, "flagged_ref_mismatch": 0, "padded": 0}
  batch: list = []
  windows: list = []
  features: list = []

  def flush():
    strings = [w.ref for w in windows] + [w.alt for w in windows]
    if strands == 2:
      strings += [alphabet.reverse_complement_np(s) for s in strings]
    provided_ref = [f[0] for f in features]
    provided_alt = [f[1] for f in features]
    extra = None
    if provided.n:
      extra = np.array((provided_ref + provided_alt) * strands, np.float32)
    inputs = encoder(tf.constant(strings), extra)
    one_hot = inputs["sequence"].numpy().reshape(strands, 2, len(batch), length, 4)
    feats = inputs["features"].numpy().reshape(strands, 2, len(batch), -1)
    # Per strand: ref, alt, alt sequence + ref features, ref sequence + alt features.
    stacked_one_hot = np.concatenate([one_hot[:, 0], one_hot[:, 1], one_hot[:, 1],
                                      one_hot[:, 0]], axis=1)
    stacked_features = np.concatenate([feats[:, 0], feats[:, 1], feats[:, 0],
                                       feats[:, 1]], axis=1)
    predictions = model(stacked_one_hot.reshape(-1, length, 4),
                        stacked_features.reshape(-1, feats.shape[-1]))
    writer.write(_rows(batch, predictions, names, strands, classifier))
    batch.clear()
    windows.clear()
    features.clear()

  ok = False
  try:
    for variant in stream:
      start0 = variant.pos - 1
      if variant.sequence is not None:
        window = windows_in_sequence(variant.sequence, start0, variant.ref, variant.alt,
                                     length)
        observed = variant.sequence[start0:start0 + len(variant.ref)].upper()
      else:
        if variant.chrom not in contigs:
          skipped["contig_not_in_reference"] += 1
          continue
        size = contigs[variant.chrom]
        if start0 + len(variant.ref) > size:
          skipped["position_past_contig_end"] += 1
          continue
        fetch = lambda b, e, c=variant.chrom: genome.fetch(c, b, e)  # noqa: E731
        window = make_windows(fetch, size, start0, variant.ref, variant.alt, length)
        observed = genome.fetch(variant.chrom, start0, start0 + len(variant.ref)).upper()
      mismatch = observed != variant.ref
      if mismatch:
        if config.ref_mismatch == "error":
          raise InputError(
              f"REF {variant.ref} differs from the reference ({observed}) at "
              f"{variant.chrom}:{variant.pos} (set --ref_mismatch=flag to score it "
              "anyway, flagged)", path=source, record=variant.locator)
        stats["flagged_ref_mismatch"] += 1
      begin = start0 - length // 2
      features.append(provided.values(variant, begin, begin + length, source))
      stats["padded"] += window.padded
      batch.append((variant, mismatch, window.padded))
      windows.append(window)
      stats["variants"] += 1
      if len(batch) >= config.batch_size:
        flush()
        now = time.monotonic()
        if now - last >= config.progress_seconds:
          last = now
          logging.info("%d variants scored (%.0f/s)", stats["variants"],
                       stats["variants"] / (now - start))
    if batch:
      flush()
    if stats["variants"] == 0:
      raise InputError(f"no variant could be scored (skipped: {dict(skipped)})",
                       path=source)
    ok = True
  finally:
    writer.close(ok, skipped, config.command)
    provided.close()
    if genome is not None:
      genome.close()
  stats.update({"seconds": time.monotonic() - start, "skipped": dict(skipped),
                "output": config.output})
  if skipped:
    logging.warning("Skipped %s", ", ".join(f"{k}: {v}" for k, v in skipped.items()))
  logging.info("%d variants scored in %.1f s -> %s", stats["variants"], stats["seconds"],
               config.output)
  return stats
