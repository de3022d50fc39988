"""Measuring a nucleotide language model against its yardsticks, on the same
masked positions (DESIGN "Language model").

Evaluation masks 15% of single positions (all set to N: no random or kept
bases), with a fixed seed, and reports at those positions:
- `bits_per_base`: the mean cross-entropy of the true base, in bits;
- `accuracy`: the share of positions whose most probable base is the true one;
- the same for base frequencies and for the bidirectional k-mer model
  (`lm_baselines.KmerModel`, counted on training windows masked the same way,
  k chosen on the dev split), overall and per source (species).
Windows come from a corpus split, or from any FASTA cut at the corpus's length.
"""

from __future__ import annotations

import dataclasses
from typing import Iterable, Iterator

import numpy as np

from gslm_keras.encoding.masking import NucleotideMasker
from gslm_keras.evaluation import lm_baselines

EVAL_RATE = 0.15
KMER_CHOICES = (1, 2, 3, 4)


def eval_masker() -> NucleotideMasker:
  """15% of single positions, all masked (N)."""
  return NucleotideMasker(rate=EVAL_RATE, span=1, mask_share=1.0, random_share=0.0)


@dataclasses.dataclass
class MaskedBatch:
  """One batch: masked input codes [B, L] (4 = masked or no base), targets [B, L]
  (-1 where not chosen), the masked one-hot input, and the source of each row."""

  codes: np.ndarray
  targets: np.ndarray
  one_hot: np.ndarray
  sources: np.ndarray


def corpus_batches(data_dir: str, split: str, seed: int, batch_size: int = 256,
                   limit: int | None = None) -> Iterator[MaskedBatch]:
  """Masked batches of a corpus split, in manifest order."""
  from gslm_keras.data.corpus_pipeline import make_lm_dataset

  dataset = make_lm_dataset(data_dir, split, "eval", batch_size, masker=eval_masker(),
                            seed=seed, limit=limit, with_sources=True, verify="none")
  for x, y, sources in dataset:
    x = x.numpy()
    yield MaskedBatch(lm_baselines.codes(x), y.numpy()[..., 0].astype(np.int64), x,
                      np.array([s.decode() for s in sources.numpy()]))


def sequence_batches(sequences: Iterable[tuple], length: int, seed: int,
                     batch_size: int = 256) -> Iterator[MaskedBatch]:
  """Masked batches of (source, sequence[, first scored position]) windows of
  `length` (shorter ones padded with N), masked as a corpus split would be; the
  positions before a window's first scored one are never targets (another
  window scores them)."""
  import tensorflow as tf

  from gslm_keras.dna import ops

  masker = eval_masker()
  chunk: list[tuple[str, str]] = []

  def flush(index):
    windows = ops.window_bytes(tf.constant([item[1] for item in chunk]), length, "left")
    out = masker(ops.one_hot(windows), seed=tf.constant([seed, index * 2], tf.int64))
    x = out["sequence"].numpy()
    targets = out["targets"].numpy().astype(np.int64)
    for row, item in enumerate(chunk):
      targets[row, :item[2] if len(item) > 2 else 0] = -1
    return MaskedBatch(lm_baselines.codes(x), targets, x,
                       np.array([item[0] for item in chunk]))

  index = 0
  for item in sequences:
    chunk.append(item)
    if len(chunk) == batch_size:
      yield flush(index)
      chunk, index = [], index + 1
  if chunk:
    yield flush(index)


class Yardsticks:
  """Base frequencies and bidirectional k-mer models counted on training windows."""

  def __init__(self, ks: Iterable[int] = KMER_CHOICES):
    self.base_counts = np.ones(4)
    self.models = {k: lm_baselines.KmerModel(k) for k in ks}
    self.k: int | None = None

  def fit(self, batches: Iterable[MaskedBatch]) -> "Yardsticks":
    for batch in batches:
      bases = batch.targets[batch.targets >= 0]
      self.base_counts += np.bincount(bases, minlength=4)
      for model in self.models.values():
        model.fit(batch.codes, batch.targets)
    return self

  def choose_k(self, batches: Iterable[MaskedBatch]) -> dict[int, float]:
    """Picks the k of least bits on `batches` (the dev split); bits per k."""
    nll = dict.fromkeys(self.models, 0.0)
    count = 0
    for batch in batches:
      for k, model in self.models.items():
        p = np.clip(model.probabilities(batch.codes, batch.targets), 1e-12, 1.0)
        nll[k] += float(-np.log2(p).sum())
      count += int((batch.targets >= 0).sum())
    scores = {k: value / max(count, 1) for k, value in nll.items()}
    self.k = min(scores, key=scores.get)
    return scores

  def probabilities(self, batch: MaskedBatch) -> dict[str, np.ndarray]:
    """[n_chosen, 4] per yardstick, rows in row-major order of the chosen positions."""
    n = int((batch.targets >= 0).sum())
    freq = np.tile(self.base_counts / self.base_counts.sum(), (n, 1))
    out = {"frequencies": freq}
    if self.k is not None:
      out["kmer"] = self.models[self.k].distribution(batch.codes, batch.targets)
    return out

  def save(self, path: str) -> None:
    from gslm_keras.io.files import save_npz

    save_npz(path, base_counts=self.base_counts, k=self.k,
             kmer_counts=self.models[self.k].counts.astype(np.float32))

  @classmethod
  def load(cls, path: str) -> "Yardsticks":
    from gslm_keras.io.model_files import load_npz

    with load_npz(path, "the language model's yardsticks; restore the model folder "
                  "from a copy") as data:
      k = int(data["k"])
      out = cls(ks=(k,))
      out.base_counts = data["base_counts"]
      out.models[k].counts = data["kmer_counts"].astype(np.float64)
      out.k = k
    return out


class _Tally:
  def __init__(self):
    self.nll = 0.0
    self.hits = 0
    self.n = 0

  def add(self, probabilities: np.ndarray, targets: np.ndarray):
    p = np.clip(probabilities[np.arange(len(targets)), targets], 1e-12, 1.0)
    self.nll += float(-np.log2(p).sum())
    self.hits += int((probabilities.argmax(-1) == targets).sum())
    self.n += len(targets)

  def to_json(self) -> dict:
    return {"bits_per_base": self.nll / max(self.n, 1),
            "accuracy": self.hits / max(self.n, 1), "positions": self.n}


def measure(predict, batches: Iterable[MaskedBatch], yardsticks: Yardsticks | None
            ) -> dict:
  """The LM's and the yardsticks' bits and accuracy on the batches' masked
  positions, overall and per source. `predict(one_hot)` -> probabilities [B, L, 4]."""
  tallies: dict[tuple[str, str], _Tally] = {}
  for batch in batches:
    rows, cols = np.nonzero(batch.targets >= 0)
    targets = batch.targets[rows, cols]
    candidates = {"language_model": np.asarray(predict(batch.one_hot))[rows, cols]}
    if yardsticks is not None:
      candidates.update(yardsticks.probabilities(batch))
    for name, probabilities in candidates.items():
      for source in ["all", *np.unique(batch.sources[rows])]:
        keep = slice(None) if source == "all" else batch.sources[rows] == source
        tallies.setdefault((source, name), _Tally()).add(probabilities[keep],
                                                         targets[keep])
  return _report(tallies, yardsticks)


def _report(tallies: dict, yardsticks: Yardsticks | None) -> dict:
  def section(source):
    entry = {name: tally.to_json() for (s, name), tally in tallies.items() if s == source}
    lm = entry.pop("language_model")
    out = {**lm, "yardsticks": entry}
    if "kmer" in entry:
      out["margin_over_kmer_bits"] = entry["kmer"]["bits_per_base"] - lm["bits_per_base"]
      out["beats_kmer"] = out["margin_over_kmer_bits"] > 0
    return out

  report = section("all")
  report["masking"] = {"rate": EVAL_RATE, "span": 1, "replacement": "all N"}
  if yardsticks is not None:
    report["kmer_k"] = yardsticks.k
  sources = sorted({s for s, _ in tallies} - {"all"})
  report["by_source"] = {s: section(s) for s in sources}
  return report


def record_windows(length: int, size: int) -> list[tuple[int, int]]:
  """(start, first scored offset) of the windows that cover a record of `length`
  bases, each base scored in exactly one window: windows of `size` side by side,
  and, where the record does not end on a window's end, one more that ends with
  it and scores only the bases the others left (a record no longer than `size`
  is one window, padded later)."""
  starts = list(range(0, max(1, length - size + 1), size))
  out = [(start, 0) for start in starts]
  covered = starts[-1] + size
  if covered < length:
    out.append((length - size, covered - (length - size)))
  return out


def fasta_windows(path: str, length: int, source: str, tally: dict
                  ) -> Iterator[tuple[str, str, int]]:
  """(source, window, first scored offset) of every FASTA record, each base of each
  record in one window's scored part (`record_windows`); letters are checked as
  every tool checks them. Counts records, bases and windows into `tally`."""
  from gslm_keras.data.readers import read_fasta
  from gslm_keras.dna.alphabet import check_letters

  for record in read_fasta(path):
    sequence = check_letters(record.sequence, path, record.locator).upper()
    tally["records"] += 1
    tally["bases"] += len(sequence)
    for start, first in record_windows(len(sequence), length):
      tally["windows"] += 1
      yield source, sequence[start:start + length], first


def evaluate_language_model(model_dir: str, input_path: str | None = None,
                            output: str | None = None, split: str = "test",
                            source: str | None = None, seed: int = 1234) -> dict:
  """Bits per base and accuracy of a language model on 15% masked single
  positions (seeded), with its yardsticks when the model kept them.

  With `input_path` (FASTA), every base of every record is eligible for masking
  once, in windows of the corpus length (`record_windows`; the report's `scored`
  says how many records, bases and windows), letters outside IUPAC are refused,
  and a file with no A, C, G or T to mask is an error; the report goes to
  `output` (JSON). Without, the corpus's `split` is measured and
  the report goes to `<model_dir>/metrics/<split>.json`.
  """
  import os

  from gslm_keras.errors import ConfigError, DatasetError, InputError
  from gslm_keras.inference.language import LanguageModel
  from gslm_keras.io.files import read_json, sha256_file, write_json_atomic
  from gslm_keras.io.outputs import exclusive_output
  from gslm_keras.run_dir import RunDir, data_dir_of

  model = LanguageModel(model_dir)
  stored = model.yardsticks_path()
  yardsticks = Yardsticks.load(stored) if stored else None
  if input_path is not None:
    if not output:
      raise ConfigError("--input needs --output (the JSON report)")
    name = source or os.path.splitext(os.path.basename(input_path))[0]
    tally = {"records": 0, "bases": 0, "windows": 0}
    batches = sequence_batches(fasta_windows(input_path, model.length, name, tally),
                               model.length, seed)
    report = measure(model.probabilities, batches, yardsticks)
    if report["positions"] == 0:
      raise InputError(
          f"no position to score in {tally['records']} records of {tally['bases']} "
          "bases: a language model is measured on masked A, C, G and T, and these "
          "are all N or ambiguity codes", path=input_path)
    report.update(input=input_path, input_sha256=sha256_file(input_path),
                  model=model.path, window_length=model.length,
                  scored={**tally, "rule": "every base of every record is eligible "
                          "once: windows side by side, the last one overlapping and "
                          f"scoring only new bases; {EVAL_RATE:.0%} of the A/C/G/T "
                          "bases masked (seeded)"})
    with exclusive_output(output, "report"):
      write_json_atomic(output, report)
    return report
  from gslm_keras import presets

  if presets.is_preset(model.path):
    raise ConfigError(f"{model_dir} is a shipped preset: its metrics are in its "
                      "folder; measure it on a FASTA file with --input=<fasta> "
                      "--output=<json>")
  run = RunDir(model.path)
  data_dir = data_dir_of(read_json(run.config)) if os.path.exists(run.config) else None
  if not data_dir or not os.path.exists(os.path.join(data_dir, "dataset_info.json")):
    raise DatasetError(f"the corpus of {model_dir} ({data_dir}) is not here; measure "
                       "on a FASTA file with --input=<fasta> --output=<json>")
  report = measure(model.probabilities, corpus_batches(data_dir, split, seed),
                   yardsticks)
  report["split"] = split
  with exclusive_output(run.metrics(split), "metrics"):
    write_json_atomic(run.metrics(split), report)
  return report
