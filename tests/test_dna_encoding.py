"""DNA encoding ops against their numpy twins and Biopython."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf
from Bio.Seq import reverse_complement

from gslm_keras.dna import alphabet, ops
from gslm_keras.dna.length import LengthRule
from gslm_keras.errors import ConfigError
from gslm_keras.models.layers import ReverseComplement
import oracles


def _window_strings(sequences, length, align, shift=None, max_shift=0):
  windows = ops.window_bytes(tf.constant(sequences), length, align,
                             shift=None if shift is None else tf.constant(shift),
                             max_shift=max_shift)
  return [row.tobytes().decode() for row in windows.numpy()]


def test_one_hot_order_case_and_n():
  x = ops.one_hot(ops.window_bytes(tf.constant(["AcGtNu"]), 6)).numpy()[0]
  expected = [[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1], [0, 0, 0, 0],
              [0, 0, 0, 1]]
  np.testing.assert_array_equal(x, expected)


def test_iupac_fractions_and_n_stays_zero():
  x = ops.one_hot(ops.window_bytes(tf.constant(["RYBn"]), 4), "iupac").numpy()[0]
  np.testing.assert_allclose(x[0], [0.5, 0, 0.5, 0])  # R = A/G
  np.testing.assert_allclose(x[1], [0, 0.5, 0, 0.5])  # Y = C/T
  np.testing.assert_allclose(x[2], [0, 1 / 3, 1 / 3, 1 / 3])  # B = C/G/T
  np.testing.assert_array_equal(x[3], [0, 0, 0, 0])  # N: model contract
  zeros = ops.one_hot(ops.window_bytes(tf.constant(["RYBn"]), 4), "zeros").numpy()
  assert not zeros.any()


def test_every_iupac_row_sums_to_one_or_zero():
  for letter, bases in alphabet.IUPAC_CODES.items():
    row = alphabet.ONE_HOT_IUPAC[ord(letter)]
    assert row.sum() == pytest.approx(0.0 if letter == "N" else 1.0), letter
    assert (row > 0).sum() == (0 if letter == "N" else len(set(bases))), letter


def test_one_hot_matches_numpy_twin(real_sequences, ambiguous_sequences):
  sequences = real_sequences[:50] + ambiguous_sequences
  length = 120
  for ambiguous in ("zeros", "iupac"):
    got = ops.encode_strings(tf.constant(sequences), length, "center", ambiguous).numpy()
    for seq, row in zip(sequences, got):
      expected = oracles.one_hot(oracles.fit_length(seq, length, "center"), ambiguous)
      np.testing.assert_array_equal(row, expected)


@pytest.mark.parametrize("align", ["center", "left", "right"])
def test_window_matches_plain_python_for_all_lengths(align):
  rng = np.random.default_rng(0)
  sequences = ["".join(rng.choice(list("ACGT"), size=n)) for n in range(0, 23)]
  for length in (1, 7, 10, 11):
    got = _window_strings(sequences, length, align)
    assert got == [oracles.fit_length(s, length, align) for s in sequences]


def test_window_rules_by_example():
  assert _window_strings(["ABCDEFGHIJ"], 7, "center") == ["BCDEFGH"]
  assert _window_strings(["ABCDE"], 8, "center") == ["NNABCDEN"]
  assert _window_strings(["ABCDEFGHIJ"], 4, "left") == ["ABCD"]
  assert _window_strings(["ABCDEFGHIJ"], 4, "right") == ["GHIJ"]
  assert _window_strings(["ABC"], 5, "right") == ["NNABC"]
  assert _window_strings(["ABC"], 5, "left") == ["ABCNN"]


def test_shift_moves_window_along_sequence():
  got = _window_strings(["AACCGGTTAC"] * 3, 6, "center", shift=[-3, 0, 3], max_shift=3)
  expected = [oracles.fit_length("AACCGGTTAC", 6, "center", s) for s in (-3, 0, 3)]
  assert got == expected == ["NAACCG", "CCGGTT", "GTTACN"]


def test_reverse_complement_matches_biopython(real_sequences, ambiguous_sequences):
  sequences = real_sequences[:40] + ambiguous_sequences
  length = max(len(s) for s in sequences)
  windows = ops.window_bytes(tf.constant(sequences), length, "left")
  rc = ops.reverse_complement_bytes(windows).numpy()
  for seq, row in zip(sequences, rc):
    padded = oracles.fit_length(seq, length, "left")
    assert row.tobytes().decode() == reverse_complement(padded)
    assert alphabet.reverse_complement(padded) == reverse_complement(padded)


def test_one_hot_reverse_complement_commutes(ambiguous_sequences):
  windows = ops.window_bytes(tf.constant(ambiguous_sequences), 90, "center")
  for ambiguous in ("zeros", "iupac"):
    a = ReverseComplement()(ops.one_hot(windows, ambiguous))
    b = ops.one_hot(ops.reverse_complement_bytes(windows), ambiguous)
    np.testing.assert_array_equal(a.numpy(), b.numpy())


def test_find_invalid_names_first_bad_character():
  assert alphabet.find_invalid("ACGTNRYacgtn") is None
  assert alphabet.find_invalid("ACGXT") == (3, "X")
  assert alphabet.find_invalid("AC GT") == (2, " ")
  assert alphabet.find_invalid("AC1GT") == (2, "1")
  assert alphabet.find_invalid("ACéGT") == (2, "é")
  assert alphabet.find_invalid("AC-GT") == (2, "-")


def test_length_rule_actions_and_validation():
  rule = LengthRule(10, "center", on_longer="crop", on_shorter="skip")
  assert [rule.action(n) for n in (9, 10, 11)] == ["skip", "keep", "crop"]
  assert LengthRule(10).action(11) == "error"
  assert LengthRule.from_json(rule.to_json()) == rule
  with pytest.raises(ConfigError, match="align='middle'"):
    LengthRule(10, align="middle")
  with pytest.raises(ConfigError, match="length=0"):
    LengthRule(0)
