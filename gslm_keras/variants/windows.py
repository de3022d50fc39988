"""Reference and alternate windows of a variant, as plain string operations.

The rule (both windows have the model's length L):
- the variant's first reference base sits at window position L // 2 in both
  windows (the window is centred on the variant's start);
- the reference window is the reference sequence [start - L//2, start - L//2 + L);
- the alternate window is the same left flank, the ALT allele, then the reference
  sequence after the REF allele, cropped to L: an insertion pushes the right end
  out of the window, a deletion pulls more of the reference in;
- positions beyond the contig are N (counted as `padded` by the caller).

This keeps the two windows aligned on everything left of the variant, so a
difference in score comes from the allele and what it shifts, not from a moved
window. A variant whose ALT equals its REF gives identical windows.

A model trained on windows anchored to an element (a promoter's TSS at a fixed
position) does not recognise the element in a window centred elsewhere; for such
models `anchored_windows` keeps the element's own sequence as the window and
edits the allele in place.
"""

from __future__ import annotations

import dataclasses


@dataclasses.dataclass(frozen=True)
class Windows:
  """The two windows of one variant.

  Attributes:
    ref: reference window, length L, upper case.
    alt: alternate window, length L, upper case.
    padded: whether either window ran past the contig (filled with N).
  """

  ref: str
  alt: str
  padded: bool


def _slice(fetch, size: int, start: int, end: int) -> tuple[str, bool]:
  """[start, end) of a contig of `size`, N beyond its ends."""
  left = max(0, -start)
  right = max(0, end - size)
  inner = fetch(max(start, 0), min(end, size)) if min(end, size) > max(start, 0) else ""
  return "N" * left + inner.upper() + "N" * right, bool(left or right)


def make_windows(fetch, contig_size: int, start: int, ref: str, alt: str,
                 length: int) -> Windows:
  """Windows of a variant whose REF starts at 0-based `start` of a contig.

  Args:
    fetch: `fetch(begin, end) -> str`, the contig's bases [begin, end).
    contig_size: the contig's length.
    start: 0-based position of REF's first base.
    ref, alt: the alleles (A/C/G/T/N strings; empty for a pure insertion or
      deletion in a padded representation).
    length: window length L.
  """
  begin = start - length // 2
  ref_window, padded_ref = _slice(fetch, contig_size, begin, begin + length)
  left = ref_window[: length // 2]
  # Enough right flank to refill the window after any deletion.
  needed = length - len(left) - len(alt)
  after = start + len(ref)
  right, padded_right = _slice(fetch, contig_size, after, after + max(needed, 0))
  alt_window = (left + alt.upper() + right)[:length]
  return Windows(ref_window, alt_window, padded_ref or padded_right)


def windows_in_sequence(sequence: str, start: int, ref: str, alt: str,
                        length: int) -> Windows:
  """Windows of a variant given on an explicit context sequence."""
  return make_windows(lambda b, e: sequence[b:e], len(sequence), start, ref, alt, length)


def anchored_windows(sequence: str, start: int, ref: str, alt: str, length: int
                     ) -> Windows:
  """Windows of a variant scored in its element's own window: the reference window
  is the given sequence, the alternate the same sequence with REF replaced by ALT
  in place. Both are then cut to the model's window by the dataset's length rule
  (an indel changes the alternate's length, so its crop can move by half the
  difference). `padded` when the sequence is shorter than the window."""
  edited = sequence[:start] + alt + sequence[start + len(ref):]
  return Windows(sequence.upper(), edited.upper(), len(sequence) < length)
