"""Computed features against independent plain-Python / Biopython computations.

Each reference below is written from the feature's published definition, without
the package's TF code, and compared on real sequences from the bundled data (with
planted ambiguity codes) to 1e-5.
"""

from __future__ import annotations

import itertools
import math
import re

import numpy as np
import pytest
import tensorflow as tf
from Bio.Seq import Seq, reverse_complement
from Bio.SeqUtils import MeltingTemp, gc_fraction

from gslm_keras.dna import ops
from gslm_keras.errors import ConfigError
from gslm_keras.features import FeatureSpec, compute_features, output_names, parse_specs
from gslm_keras.features import physchem

TOL = 1e-5


def _compute(sequences, spec_texts):
  specs = parse_specs(spec_texts)
  length = max(len(s) for s in sequences)
  windows = ops.window_bytes(tf.constant(sequences), length, "left")
  return compute_features(ops.base_codes(windows), specs).numpy()


def _clean(seq):
  """Only unambiguous bases, as every feature counts them."""
  return [c for c in seq.upper().replace("U", "T")]


# -- references ---------------------------------------------------------------


def ref_cpg_oe(seq):
  s = seq.upper()
  n = sum(s.count(b) for b in "ACGT")
  c, g = s.count("C"), s.count("G")
  cpg = sum(1 for i in range(len(s) - 1) if s[i:i + 2] == "CG")
  return cpg * n / (c * g) if c and g else 0.0


def ref_kmer(seq, k, canonical):
  s = seq.upper()
  names = ["".join(p) for p in itertools.product("ACGT", repeat=k)]
  counts = dict.fromkeys(names, 0)
  for i in range(len(s) - k + 1):
    word = s[i:i + k]
    if all(ch in "ACGT" for ch in word):
      counts[word] += 1
  if canonical:
    merged = {}
    for word, n in counts.items():
      key = min(word, reverse_complement(word))
      merged[key] = merged.get(key, 0) + n
    counts = dict(sorted(merged.items()))
  total = sum(counts.values())
  return [n / total if total else 0.0 for n in counts.values()]


def ref_entropy(seq, k):
  probabilities = ref_kmer(seq, k, False)
  return -sum(p * math.log2(p) for p in probabilities if p > 0)


# Fickett (1982) Table 1, written out in the paper's row order (lowest range first)
# and reversed here, independently of the package's copy.
_POS_BOUNDS = [0.0, 1.1, 1.2, 1.3, 1.4, 1.5, 1.6, 1.7, 1.8, 1.9]
_POS_PROB = {"A": [0.22, 0.20, 0.34, 0.45, 0.68, 0.58, 0.93, 0.84, 0.68, 0.94],
             "C": [0.23, 0.30, 0.33, 0.51, 0.48, 0.66, 0.81, 0.70, 0.70, 0.80],
             "G": [0.08, 0.08, 0.16, 0.27, 0.48, 0.53, 0.64, 0.74, 0.88, 0.90],
             "T": [0.09, 0.09, 0.20, 0.54, 0.44, 0.69, 0.68, 0.91, 0.97, 0.97]}
_POS_WEIGHT = {"A": 0.26, "C": 0.18, "G": 0.31, "T": 0.33}
_CONTENT_BOUNDS = [0.0, 0.17, 0.19, 0.21, 0.23, 0.25, 0.27, 0.29, 0.31, 0.33]
_CONTENT_PROB = {"A": [0.21, 0.81, 0.65, 0.67, 0.49, 0.62, 0.55, 0.44, 0.49, 0.28],
                 "C": [0.31, 0.39, 0.44, 0.43, 0.59, 0.59, 0.64, 0.51, 0.64, 0.82],
                 "G": [0.29, 0.33, 0.41, 0.41, 0.73, 0.64, 0.64, 0.47, 0.54, 0.40],
                 "T": [0.58, 0.51, 0.69, 0.56, 0.75, 0.55, 0.40, 0.39, 0.24, 0.28]}
_CONTENT_WEIGHT = {"A": 0.11, "C": 0.12, "G": 0.15, "T": 0.14}


def _range_index(value, bounds):
  index = 0
  for i, bound in enumerate(bounds):
    if value >= bound:
      index = i
  return index


def ref_fickett(seq):
  s = seq.upper()
  total = sum(s.count(b) for b in "ACGT")
  if total < 2:
    return 0.0
  score = 0.0
  for base in "ACGT":
    phases = [s[p::3].count(base) for p in range(3)]
    content = sum(phases) / total
    position = max(phases) / (min(phases) + 1.0)
    score += _CONTENT_PROB[base][_range_index(content, _CONTENT_BOUNDS)] * (
        _CONTENT_WEIGHT[base])
    score += _POS_PROB[base][_range_index(position, _POS_BOUNDS)] * _POS_WEIGHT[base]
  return score


def ref_orf_fraction(seq, require_stop):
  """Longest ATG-initiated ORF over 6 frames, by translating with Biopython."""
  s = seq.upper()
  total = sum(s.count(b) for b in "ACGT")
  if not total:
    return 0.0
  best = 0
  for strand in (s, reverse_complement(s)):
    for frame in range(3):
      part = strand[frame:]
      part = part[:len(part) // 3 * 3]
      # Codons with any non-ACGT letter translate to X (or an ambiguous amino
      # acid): those end an ORF, like the sequence end does.
      protein = "".join(
          aa if all(b in "ACGT" for b in part[3 * i:3 * i + 3]) else "X"
          for i, aa in enumerate(str(Seq(part).translate())))
      for match in re.finditer(r"M[^*X]*(\*?)", protein):
        if require_stop and not match.group(1):
          continue
        best = max(best, len(match.group(0)))
  return 3 * best / total


def ref_dinucleotide(seq, table):
  s = seq.upper()
  values = [table[s[i:i + 2]] for i in range(len(s) - 1)
            if s[i] in "ACGT" and s[i + 1] in "ACGT"]
  return sum(values) / len(values) if values else 0.0


def biopython_nn_free_energy():
  """DeltaG37 per step from Biopython's copy of the unified NN table."""
  table = {}
  for key, (dh, ds) in MeltingTemp.DNA_NN3.items():
    if "/" not in key or key.startswith("init") or key == "sym":
      continue
    top = key.split("/")[0]
    value = dh - 310.15 * ds / 1000.0
    table[top] = value
    table[reverse_complement(top)] = value
  return table


# -- tests ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def sequences(real_sequences, ambiguous_sequences):
  return real_sequences + ambiguous_sequences


def test_gc_content_matches_biopython(real_sequences):
  # Biopython counts S as G/C; N-free and IUPAC-free sequences compare directly,
  # and N only shortens the denominator in both.
  with_n = [s[:20] + "NNNN" + s[20:] for s in real_sequences[:30]]
  sequences = real_sequences + with_n
  got = _compute(sequences, ["gc_content"])[:, 0]
  np.testing.assert_allclose(got, [gc_fraction(s) for s in sequences], atol=TOL)


def test_cpg_oe(sequences):
  got = _compute(sequences, ["cpg_oe"])[:, 0]
  np.testing.assert_allclose(got, [ref_cpg_oe(s) for s in sequences], atol=TOL)


@pytest.mark.parametrize("k,canonical", [(1, False), (2, True), (3, False), (3, True),
                                         (4, True), (6, False)])
def test_kmer_spectrum(sequences, k, canonical):
  spec = f"kmer:k={k}:canonical={str(canonical).lower()}"
  got = _compute(sequences[:80], [spec])
  expected = np.array([ref_kmer(s, k, canonical) for s in sequences[:80]])
  assert got.shape == expected.shape
  np.testing.assert_allclose(got, expected, atol=TOL)
  names = FeatureSpec.parse(spec).output_names()
  assert len(names) == expected.shape[1]
  if canonical and k % 2 == 0:
    assert len(names) == (4**k + 4**(k // 2)) // 2


@pytest.mark.parametrize("k", [1, 2, 3])
def test_entropy(sequences, k):
  got = _compute(sequences, [f"entropy:k={k}"])[:, 0]
  np.testing.assert_allclose(got, [ref_entropy(s, k) for s in sequences], atol=TOL)


def test_fickett(sequences):
  got = _compute(sequences, ["fickett"])[:, 0]
  np.testing.assert_allclose(got, [ref_fickett(s) for s in sequences], atol=TOL)


def test_fickett_separates_coding_from_promoters(real_sequences):
  # Sanity of the tables, not only of the arithmetic: CDS of the Y. pestis plasmid
  # score higher than human promoter regions on average.
  scores = _compute(real_sequences, ["fickett"])[:, 0]
  promoters, coding = scores[:120], scores[240:]
  assert coding.mean() > promoters.mean() + 0.1


@pytest.mark.parametrize("require_stop", [False, True])
def test_orf_fraction(sequences, require_stop):
  spec = f"orf_fraction:require_stop={str(require_stop).lower()}"
  got = _compute(sequences, [spec])[:, 0]
  expected = [ref_orf_fraction(s, require_stop) for s in sequences]
  np.testing.assert_allclose(got, expected, atol=TOL)


def test_orf_fraction_of_whole_cds_is_one(real_sequences):
  # A CDS that starts with ATG and ends in its stop is one ORF spanning it all.
  coding = [s for s in real_sequences[240:]
            if s.startswith("ATG") and len(s) % 3 == 0 and s[-3:] in ("TAA", "TAG", "TGA")]
  assert len(coding) >= 5
  got = _compute(coding, ["orf_fraction:require_stop=true"])[:, 0]
  np.testing.assert_allclose(got, 1.0, atol=TOL)


@pytest.mark.parametrize("scale", sorted(physchem.SCALES))
def test_dinucleotide_scales(sequences, scale):
  table = (biopython_nn_free_energy() if scale == "nn_free_energy"
           else physchem.SCALES[scale])
  got = _compute(sequences, [f"dinucleotide:scale={scale}"])[:, 0]
  np.testing.assert_allclose(got, [ref_dinucleotide(s, table) for s in sequences],
                             atol=TOL)


def test_dinucleotide_scales_are_strand_symmetric():
  # Each published table describes a base-pair step, so a step and its reverse
  # complement must carry the same value.
  for scale, table in physchem.SCALES.items():
    for step, value in table.items():
      assert table[reverse_complement(step)] == pytest.approx(value), (scale, step)


def test_padding_and_n_do_not_change_features(real_sequences):
  specs = ["gc_content", "cpg_oe", "kmer:k=2", "entropy", "fickett", "orf_fraction",
           "dinucleotide:scale=deformability"]
  sequences = real_sequences[:40]
  padded = ["N" * 7 + s + "N" * 5 for s in sequences]
  np.testing.assert_allclose(_compute(sequences, specs), _compute(padded, specs),
                             atol=TOL)


def test_empty_and_all_n_give_zeros():
  got = _compute(["NNNNNN", "ACGTAC"], ["gc_content", "cpg_oe", "entropy", "fickett",
                                        "orf_fraction", "dinucleotide"])
  assert not got[0].any()
  assert np.isfinite(got).all()


def test_spec_parsing_and_errors():
  spec = FeatureSpec.parse("kmer:k=4:canonical=yes")
  assert spec.param_dict == {"k": 4, "canonical": True}
  assert str(spec) == "kmer:canonical=true:k=4"
  assert FeatureSpec.from_json(spec.to_json()) == spec
  assert output_names(parse_specs(["gc_content", "entropy:k=2"])) == [
      "gc_content", "entropy_k2"]
  with pytest.raises(ConfigError, match="not registered"):
    FeatureSpec.parse("gc")
  with pytest.raises(ConfigError, match="has no parameter 'q'"):
    FeatureSpec.parse("kmer:q=3")
  with pytest.raises(ConfigError, match="k=9"):
    FeatureSpec.parse("kmer:k=9")
  with pytest.raises(ConfigError, match="not an integer"):
    FeatureSpec.parse("kmer:k=three")
  with pytest.raises(ConfigError, match="expected one of"):
    FeatureSpec.parse("dinucleotide:scale=twist")
  with pytest.raises(ConfigError, match="appears twice"):
    parse_specs(["gc_content", "gc_content"])
  with pytest.raises(ConfigError, match="not key=value"):
    FeatureSpec.parse("kmer:3")
