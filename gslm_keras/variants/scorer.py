"""`score_variants(config)`: variant effects through both branches of a model.

Each variant's reference and alternate windows are cut from the genome (or the
given context) as strings, then go to the model in one direction: one
TensorFlow call per batch windows them, reverse-complements them (strand
averaging), one-hot encodes them and recomputes their computed features with
the dataset's `SequenceEncoder`, and scores four inputs per strand in one model
call: ref, alt, alt sequence with ref features (the sequence path) and ref
sequence with alt features (the feature path). Input streams in batches;
memory holds one batch.
"""

from __future__ import annotations

import collections
from typing import Any

import numpy as np

from gslm_keras.errors import ConfigError, InputError
from gslm_keras.inference.model import LoadedModel
from gslm_keras.io.genome import Genome
from gslm_keras.tasks.language import MASKED_NUCLEOTIDE
from gslm_keras.tasks.supervised import SUPERVISED
from gslm_keras.variants import frame, io, report, scoring
from gslm_keras.variants.frame import Prepared, check_ref
from gslm_keras.variants.config import ScoreConfig
from gslm_keras.variants.predictor import Predictor
from gslm_keras.variants.windows import (anchored_windows, make_windows,
                                         windows_in_sequence)

ROW_KEYS = report.ROW_KEYS
PATH_SCORES = ("seq_path_diff", "feature_path_diff")


def score_columns(columns: list[str], classifier: bool, strands: int = 1) -> list[str]:
  """Row keys and, per model output column, its predictions and scores; with two
  strands read, each strand's alt minus ref too (to inspect the mean)."""
  names = scoring.SCORES_CLASSIFIER if classifier else scoring.SCORES_REGRESSION
  out = list(ROW_KEYS)
  for column in columns:
    out += [f"ref_{column}", f"alt_{column}"] + [f"{s}_{column}" for s in names]
    out += [f"{s}_{column}" for s in PATH_SCORES]
    if strands == 2:
      out += [f"{s}_{column}" for s in report.STRAND_SCORES]
  return out


def _rows(batch, predictions: np.ndarray, columns: list[str], classifier: bool):
  """Output rows of a batch from the `Predictor`'s output: ref and alt averaged over
  strands on the probability scale (in log space for classifiers), every score
  from those means."""
  logs = None
  if classifier:
    log_mean = [scoring.log_mean_over_strands(values) for values in predictions]
    values = np.exp(np.asarray(predictions[0], np.float64))  # [strands, 4, n, columns]
    mean = np.exp(log_mean[0])  # [4, n, columns]
    logs = tuple((log_mean[0][a], log_mean[1][a]) for a in (0, 1))
  else:
    values = predictions[0]
    mean = scoring.mean_over_strands(values)
  ref_pred, alt_pred = mean[0], mean[1]
  per_strand = ({name: values[s, 1] - values[s, 0]
                 for s, name in enumerate(report.STRAND_SCORES)}
                if values.shape[0] == 2 else {})
  averaged = scoring.scores(ref_pred, alt_pred, classifier, logs)
  seq_path, feature_path = mean[2] - mean[0], mean[3] - mean[0]
  rows = []
  for i, (variant, mismatch, padded) in enumerate(batch):
    row: dict[str, Any] = variant.row(mismatch, padded)
    for j, column in enumerate(columns):
      row[f"ref_{column}"] = float(ref_pred[i, j])
      row[f"alt_{column}"] = float(alt_pred[i, j])
      for score, values in averaged.items():
        row[f"{score}_{column}"] = float(values[i, j])
      row[f"seq_path_diff_{column}"] = float(seq_path[i, j])
      row[f"feature_path_diff_{column}"] = float(feature_path[i, j])
      for score, values in per_strand.items():
        row[f"{score}_{column}"] = float(values[i, j])
    rows.append(row)
  return rows


class _Alleles:
  """Provided-feature vectors of ref and alt for each variant (the dataset's plan)."""

  def __init__(self, model: LoadedModel, config: ScoreConfig):
    self.plan = model.info.provided_plan()
    self.policy = config.provided_policy
    if (config.vcf is not None or config.all_snvs) and self.plan.columns:
      raise ConfigError(
          f"the model takes provided feature column(s) {', '.join(self.plan.columns)}, "
          "which a VCF or --all_snvs does not carry; score a --variants table that "
          "has them")

  def table_columns(self) -> list[str]:
    return self.plan.columns + [f"{c}_alt" for c in self.plan.columns]

  def values(self, variant: io.Variant, begin: int, end: int, path: str):
    if not len(self.plan):
      return [], []
    texts = variant.values or {}
    for name in self.plan.columns:
      if name not in texts:
        raise InputError(f"provided feature column {name!r} missing from the variant "
                         "table", path=path, record=variant.locator)
    ref = self.plan.values(texts, variant.chrom, begin, end, path, variant.locator)
    if self.policy == "hold" or not self.plan.columns:
      return ref, ref
    alt_texts = dict(texts)
    for name in self.plan.columns:
      if f"{name}_alt" not in texts:
        raise InputError(f"provided_policy=per_allele needs column {name}_alt",
                         path=path, record=variant.locator)
      alt_texts[name] = texts[f"{name}_alt"]
    return ref, self.plan.values(alt_texts, variant.chrom, begin, end, path,
                                 variant.locator)


def _windows(variant: io.Variant, genome: Genome | None, rule, anchor: str,
             skipped: collections.Counter, source: str):
  """(windows, observed REF) of a variant, or None when it is skipped."""
  start0 = variant.pos - 1
  length = rule.length
  if anchor == "sequence":
    if rule.at_prediction(len(variant.sequence)) == "refuse":
      raise InputError(
          f"with --anchor=sequence the context sequence is the window, and its length "
          f"{len(variant.sequence)} is not the model's {length} bp, which its training "
          f"data did not accept; give context sequences of {length} bp", path=source,
          record=variant.locator)
    window = anchored_windows(variant.sequence, start0, variant.ref, variant.alt, length)
    return window, variant.sequence[start0:start0 + len(variant.ref)].upper()
  if variant.sequence is not None:
    window = windows_in_sequence(variant.sequence, start0, variant.ref, variant.alt,
                                 length)
    return window, variant.sequence[start0:start0 + len(variant.ref)].upper()
  if variant.chrom not in genome.lengths:
    skipped["contig_not_in_reference"] += 1
    return None
  size = genome.lengths[variant.chrom]
  if start0 + len(variant.ref) > size:
    skipped["position_past_contig_end"] += 1
    return None
  fetch = lambda b, e: genome.fetch(variant.chrom, b, e)  # noqa: E731
  window = make_windows(fetch, size, start0, variant.ref, variant.alt, length)
  return window, fetch(start0, start0 + len(variant.ref)).upper()


class ClassifierScorer:
  """The frame's scorer for a supervised model: four inputs per variant and
  strand (ref, alt and each path), batched; see the module docstring."""

  def __init__(self, model: LoadedModel, config: ScoreConfig):
    self.model = model
    self.config = config
    self.classifier = model.task.probabilities
    self.alleles = _Alleles(model, config)
    n_strands, self.strands, self.info_strands = report.strand_choice(
        model, config.strand_average)
    self.columns = score_columns(model.columns, self.classifier, n_strands)
    self.predictor = Predictor(model, n_strands)
    self.rows: list = []
    self.inputs: dict[str, list] = {"ref": [], "alt": [], "provided_ref": [],
                                    "provided_alt": []}

  def table_columns(self) -> list[str]:
    return self.alleles.table_columns()

  def __enter__(self):
    self.alleles.plan.__enter__()
    return self

  def __exit__(self, *error):
    return self.alleles.plan.__exit__(*error)

  def prepare(self, variant, genome, skipped, source) -> Prepared | None:
    rule = self.model.info.length_rule
    made = _windows(variant, genome, rule, self.config.anchor, skipped, source)
    if made is None:
      return None
    window, observed = made
    mismatch = check_ref(variant, observed, self.config.ref_mismatch, source)
    begin = variant.pos - 1 - rule.length // 2
    provided = self.alleles.values(variant, begin, begin + rule.length, source)
    return Prepared(variant, mismatch, window.padded, (window, *provided))

  def add(self, prepared: Prepared, writer) -> None:
    """Queues one variant; scores the batch when it is full."""
    window, provided_ref, provided_alt = prepared.inputs
    for key, value in (("ref", window.ref), ("alt", window.alt),
                       ("provided_ref", provided_ref), ("provided_alt", provided_alt)):
      self.inputs[key].append(value)
    self.rows.append((prepared.variant, prepared.mismatch, prepared.padded))
    if len(self.rows) >= self.config.batch_size:
      self.flush(writer)

  def flush(self, writer) -> None:
    if not self.rows:
      return
    predictions = self.predictor(**self.inputs)
    writer.write(_rows(self.rows, predictions, self.model.columns, self.classifier))
    self.rows.clear()
    for values in self.inputs.values():
      values.clear()

  def notes(self, stats: dict) -> list[str]:
    return report.header_notes(self.strands, self.classifier, stats["padded"])


def score_variants(config: ScoreConfig) -> dict[str, Any]:
  """Scores every variant of the input; returns counts, skips, rejects and timing.

  The model's task picks the scorer (`ClassifierScorer`, or a language model's
  `zero_shot.LlrScorer`); `frame.run` does the rest. Each output is taken with a
  lock and appears only when complete.

  Raises:
    InputError: a REF that disagrees with the reference (ref_mismatch=error), a
      malformed VCF or table, or every record skipped.
    ConfigError: inconsistent options or a model whose features cannot be had.
  """
  from gslm_keras.inference.manifest import for_task
  from gslm_keras.variants.zero_shot import LlrScorer

  scorer = for_task(config.model, {
      SUPERVISED: lambda: ClassifierScorer(LoadedModel(config.model), config),
      MASKED_NUCLEOTIDE.objective: lambda: LlrScorer(config)})
  return frame.run(config, scorer())
