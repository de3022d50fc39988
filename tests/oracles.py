"""Plain-Python and numpy twins of the TF encoding ops: test oracles, not library code.

Each is written from the rule, not from the op, so that a test comparing the two
checks the op against an independent reading of the same contract.
"""

from __future__ import annotations

import numpy as np

from gslm_keras.dna import alphabet


def window_start(seq_len: int, length: int, align: str) -> int:
  """Start of the `length` window in sequence coordinates (may be negative).

  centre: floor((seq_len - length) / 2), so an odd excess is cropped one more at
  the right end and an odd shortfall is padded one more at the left end;
  left: 0 (keep the start); right: seq_len - length (keep the end).
  """
  if align == "center":
    return (seq_len - length) // 2
  if align == "left":
    return 0
  if align == "right":
    return seq_len - length
  raise ValueError(f"align={align!r}: expected center, left or right")


def fit_length(sequence: str, length: int, align: str = "center", shift: int = 0) -> str:
  """One sequence cropped or padded with N to `length` (twin of `ops.window_bytes`)."""
  start = window_start(len(sequence), length, align) + shift
  return "".join(sequence[pos] if 0 <= pos < len(sequence) else alphabet.PAD_LETTER
                 for pos in range(start, start + length))


def one_hot(sequence: str, ambiguous: str = "zeros") -> np.ndarray:
  """[len, 4] float32 one-hot of one sequence (twin of `ops.one_hot`)."""
  rows = []
  for letter in sequence.upper().replace("U", "T"):
    bases = alphabet.IUPAC_CODES.get(letter, "")
    row = np.zeros(4, np.float32)
    if len(bases) == 1 or (ambiguous == "iupac" and 1 < len(bases) < 4):
      for base in bases:
        row[alphabet.BASES.index(base)] = 1.0 / len(bases)
    rows.append(row)
  return np.array(rows, np.float32).reshape(len(sequence), 4)


def one_hot_batch(sequences) -> np.ndarray:
  """[N, L, 4] of sequences of one length L."""
  return np.stack([one_hot(s) for s in sequences])


def reverse_complement(sequence: str) -> str:
  """Reverse complement from Biopython, an implementation independent of ours."""
  from Bio.Seq import reverse_complement as biopython_reverse_complement

  return biopython_reverse_complement(sequence)
