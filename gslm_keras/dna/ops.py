"""DNA encoding as TensorFlow ops: raw strings to fixed windows, one-hot, codes.

All ops are vectorised table lookups over bytes (`tf.io.decode_raw` plus a
256-entry table), with no per-base Python, so they run inside tf.data, inside an
exported serving graph and inside variant scoring alike. Their plain-Python
twins are test oracles (tests/oracles.py).
"""

from __future__ import annotations

import tensorflow as tf

from gslm_keras.dna import alphabet


def window_bytes(sequences: tf.Tensor, length: int, align: str = "center",
                 shift: tf.Tensor | None = None, max_shift: int = 0) -> tf.Tensor:
  """Crops or pads raw sequences to one window length.

  Args:
    sequences: tf.string [batch], raw sequences of any length and case.
    length: window length L.
    align: "center" (start at floor((len - L) / 2): an odd excess is cropped one
      more at the right end, an odd shortfall padded one more at the left),
      "left" (start at 0) or "right" (start at len - L).
    shift: optional int32 [batch]; moves each window by that many bases along its
      sequence (positive: towards the 3' end). Bases beyond the sequence are N.
    max_shift: bound on |shift|, needed to size the padding.

  Returns:
    tf.uint8 [batch, L]: the window's bytes, padded with N.
  """
  sequences = tf.convert_to_tensor(sequences, dtype=tf.string)
  seq_len = tf.strings.length(sequences)
  if align == "center":
    start = tf.math.floordiv(seq_len - length, 2)
  elif align == "left":
    start = tf.zeros_like(seq_len)
  elif align == "right":
    start = seq_len - length
  else:
    raise ValueError(f"align={align!r}: expected center, left or right")
  if shift is not None:
    start = start + tf.cast(shift, tf.int32)
  # Padding on both sides makes every window a plain substring.
  pad_len = length + int(max_shift)
  pad = alphabet.PAD_LETTER * pad_len
  padded = tf.strings.join([pad, sequences, pad])
  window = tf.strings.substr(padded, start + pad_len, tf.fill(tf.shape(start), length))
  return tf.io.decode_raw(window, tf.uint8, fixed_length=length)


def _lookup(table, byte_seqs):
  return tf.gather(tf.constant(table), tf.cast(byte_seqs, tf.int32))


def one_hot(byte_seqs: tf.Tensor, ambiguous: str = "zeros") -> tf.Tensor:
  """uint8 [..., L] -> float32 [..., L, 4] in A, C, G, T order."""
  return _lookup(alphabet.one_hot_table(ambiguous), byte_seqs)


def base_codes(byte_seqs: tf.Tensor) -> tf.Tensor:
  """uint8 [..., L] -> int32 [..., L]: A=0, C=1, G=2, T/U=3, anything else 4."""
  return _lookup(alphabet.BASE_CODES, byte_seqs)


def reverse_complement_bytes(byte_seqs: tf.Tensor) -> tf.Tensor:
  """Reverse complement of uint8 [..., L] windows (IUPAC codes complemented)."""
  return tf.reverse(_lookup(alphabet.COMPLEMENT, byte_seqs), axis=[-1])


def encode_strings(sequences: tf.Tensor, length: int, align: str = "center",
                   ambiguous: str = "zeros") -> tf.Tensor:
  """tf.string [batch] -> float32 [batch, L, 4]; the common case in one call."""
  return one_hot(window_bytes(sequences, length, align), ambiguous)
