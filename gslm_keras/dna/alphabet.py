"""The DNA alphabet as 256-entry byte tables: the one definition of the letters.

Every encoding step is a table lookup over the sequence's bytes, so that the same
tables drive the TF ops (`gslm_keras.dna.ops`), input validation and string-level
reverse complements here, and any exported graph. Channel order is A, C, G, T.
(Plain numpy twins of the TF ops live in the tests, as oracles.)

Rules:
- Case-insensitive. U is read as T.
- `ambiguous="zeros"`: every letter other than A, C, G, T/U is all zeros.
- `ambiguous="iupac"`: two- and three-base IUPAC codes are fractions of their bases
  (R = 0.5 A + 0.5 G, B = C/G/T thirds ...). N stays all zeros in both modes, as the
  model contract requires (N = all zeros), and so does window padding.
- Base codes for computed features: A=0, C=1, G=2, T=3, anything else 4. Features
  count only unambiguous bases.
"""

from __future__ import annotations

import numpy as np

BASES = "ACGT"
# Letters a VCF allele may hold (VCF 4.2: A, C, G, T, N, any case).
ALLELE_LETTERS = "ACGTN"
# IUPAC nucleotide codes and the bases each stands for (NC-IUB 1984).
IUPAC_CODES = {
    "A": "A", "C": "C", "G": "G", "T": "T", "U": "T",
    "R": "AG", "Y": "CT", "S": "CG", "W": "AT", "K": "GT", "M": "AC",
    "B": "CGT", "D": "AGT", "H": "ACT", "V": "ACG", "N": "ACGT",
}
_COMPLEMENT_PAIRS = {
    "A": "T", "C": "G", "G": "C", "T": "A", "U": "A", "R": "Y", "Y": "R",
    "S": "S", "W": "W", "K": "M", "M": "K", "B": "V", "V": "B", "D": "H",
    "H": "D", "N": "N",
}
AMBIGUOUS_MODES = ("zeros", "iupac")
# Every letter the datasets accept, upper and lower case, for regexes in graphs.
VALID_LETTERS = "".join(IUPAC_CODES) + "".join(IUPAC_CODES).lower()
PAD_LETTER = "N"
INVALID_CODE = 4


def _build_tables():
  valid = np.zeros(256, dtype=bool)
  codes = np.full(256, INVALID_CODE, dtype=np.int32)
  complement = np.arange(256, dtype=np.uint8)
  one_hot_zeros = np.zeros((256, 4), dtype=np.float32)
  one_hot_iupac = np.zeros((256, 4), dtype=np.float32)
  for letter, bases in IUPAC_CODES.items():
    for byte in (ord(letter), ord(letter.lower())):
      valid[byte] = True
      if len(bases) == 1:
        index = BASES.index(bases)
        codes[byte] = index
        one_hot_zeros[byte, index] = 1.0
      if len(bases) < 4:
        for base in bases:
          one_hot_iupac[byte, BASES.index(base)] = 1.0 / len(bases)
  for letter, partner in _COMPLEMENT_PAIRS.items():
    complement[ord(letter)] = ord(partner)
    complement[ord(letter.lower())] = ord(partner.lower())
  for table in (valid, codes, complement, one_hot_zeros, one_hot_iupac):
    table.setflags(write=False)
  return valid, codes, complement, one_hot_zeros, one_hot_iupac


VALID_BYTES, BASE_CODES, COMPLEMENT, ONE_HOT_ZEROS, ONE_HOT_IUPAC = _build_tables()


def one_hot_table(ambiguous: str) -> np.ndarray:
  """The [256, 4] float32 byte-to-one-hot table for an ambiguity mode."""
  if ambiguous == "zeros":
    return ONE_HOT_ZEROS
  if ambiguous == "iupac":
    return ONE_HOT_IUPAC
  raise ValueError(
      f"ambiguous={ambiguous!r}: expected one of {', '.join(AMBIGUOUS_MODES)}")


def find_invalid(sequence: str) -> tuple[int, str] | None:
  """First (position, character) outside the IUPAC alphabet, or None.

  Non-ASCII characters, digits, spaces, gaps and 'X' are all invalid.
  """
  # Each non-ASCII character becomes one '?', so positions stay aligned.
  raw = sequence.encode("ascii", errors="replace")
  array = np.frombuffer(raw, dtype=np.uint8)
  bad = np.flatnonzero(~VALID_BYTES[array])
  if bad.size:
    pos = int(bad[0])
    return pos, sequence[pos]
  return None


def check_letters(sequence: str, path: str | None, record: str | None,
                  what: str = "", hint: str | None = None) -> str:
  """`sequence`, or InputError naming the file, the record and the first
  character outside the IUPAC codes (or an empty sequence): the one rule every
  tool reads sequences by.

  Args:
    sequence: the text read.
    path, record: where it was read, for the message.
    what: words after the position ("of the sequence"), for a record that holds
      more than one sequence.
    hint: what to do, in the message only (see InputError).
  """
  from gslm_keras.errors import InputError

  if not sequence or not sequence.strip():
    raise InputError("empty sequence", path=path, record=record)
  bad = find_invalid(sequence)
  if bad is not None:
    position, char = bad
    raise InputError(
        f"character {char!r} at position {position + 1}{' ' + what if what else ''} is "
        "not a IUPAC nucleotide code (ACGTUN RYSWKMBDHV, any case)", path=path,
        record=record, hint=hint)
  return sequence


def replace_invalid(sequence: str, letter: str = "N") -> str:
  """`sequence` with every character outside the IUPAC codes replaced by `letter`."""
  raw = np.frombuffer(sequence.encode("ascii", errors="replace"), dtype=np.uint8)
  return np.where(VALID_BYTES[raw], raw, ord(letter)).astype(np.uint8).tobytes().decode()


def reverse_complement(sequence: str) -> str:
  """Reverse complement of a string, keeping case and IUPAC codes.

  The string-level counterpart of `ops.reverse_complement_bytes`, from the same
  table (for sequences read in Python, such as '-' strand BED windows).
  """
  array = np.frombuffer(sequence.encode("ascii"), dtype=np.uint8)
  return COMPLEMENT[array][::-1].tobytes().decode("ascii")


def all_in(text: str, letters: str) -> bool:
  """Whether every character of `text` is one of `letters` (case-insensitive)."""
  allowed = set(letters.upper()) | set(letters.lower())
  return bool(text) and all(char in allowed for char in text)
