"""The sequence length rule: one window length, how to crop or pad, what to refuse."""

from __future__ import annotations

import dataclasses
from typing import Any

from gslm_keras.errors import ConfigError, InputError

ALIGNS = ("center", "left", "right")
ON_LONGER = ("error", "crop", "skip")
ON_SHORTER = ("error", "pad", "skip")
# What a trained model does with a sequence of another length at prediction time:
# follow its dataset's rule, or crop / pad whatever the rule said (reported).
LENGTH_MISMATCH = ("rule", "adjust")


@dataclasses.dataclass(frozen=True)
class LengthRule:
  """How raw sequences of any length become windows of one fixed length.

  The dataset stores every sequence as read; the rule is applied when a window is
  made (tf.data pipeline, serving signature, variant scoring), and checked when
  the dataset is built, where `on_longer` / `on_shorter` decide what happens to a
  sequence of another length.

  Attributes:
    length: window length in bases the model sees.
    align: where the window sits on the sequence: "center" (crop or pad both
      ends), "left" (keep the start, crop or pad the end), "right" (keep the end).
    on_longer: a longer sequence is an "error", is "crop"ped, or is "skip"ped
      (counted in the manifest).
    on_shorter: a shorter sequence is an "error", is "pad"ded with N, or is
      "skip"ped (counted in the manifest).
  """

  length: int
  align: str = "center"
  on_longer: str = "error"
  on_shorter: str = "error"

  def __post_init__(self):
    if not isinstance(self.length, int) or self.length < 1:
      raise ConfigError(f"sequence length={self.length!r}: expected an integer >= 1")
    for name, value, allowed in (("align", self.align, ALIGNS),
                                 ("on_longer", self.on_longer, ON_LONGER),
                                 ("on_shorter", self.on_shorter, ON_SHORTER)):
      if value not in allowed:
        raise ConfigError(f"{name}={value!r}: expected one of {', '.join(allowed)}")

  def action(self, seq_len: int) -> str:
    """What the rule does to a sequence of `seq_len`: keep, crop, pad, skip or error."""
    if seq_len > self.length:
      return {"error": "error", "crop": "crop", "skip": "skip"}[self.on_longer]
    if seq_len < self.length:
      return {"error": "error", "pad": "pad", "skip": "skip"}[self.on_shorter]
    return "keep"

  def describe_violation(self, seq_len: int) -> str:
    side = "longer" if seq_len > self.length else "shorter"
    flag = "--on_longer=crop|skip" if side == "longer" else "--on_shorter=pad|skip"
    return (f"sequence length {seq_len} is {side} than the window length "
            f"{self.length} (set {flag} to accept it)")

  def at_prediction(self, seq_len: int, length_mismatch: str = "rule") -> str:
    """What prediction does to a sequence of `seq_len`: "keep", "pad", "crop", or
    "refuse" (the dataset's rule was error or skip, and no --length_mismatch=adjust).
    """
    if length_mismatch not in LENGTH_MISMATCH:
      raise ConfigError(f"length_mismatch={length_mismatch!r}: expected rule or adjust")
    if seq_len == self.length:
      return "keep"
    adjusted = "crop" if seq_len > self.length else "pad"
    if length_mismatch == "adjust" or self.action(seq_len) == adjusted:
      return adjusted
    return "refuse"

  def refusal(self, longer: bool, fix: str = "pass --length_mismatch=adjust") -> str:
    """Why prediction refuses a longer (shorter) sequence, and how to accept it."""
    side, rule = ("longer", "on_longer") if longer else ("shorter", "on_shorter")
    verb = "crop" if longer else "pad with N"
    return (f"{side} than the model's {self.length} bp window, and its training data "
            f"did not accept such sequences ({rule}={getattr(self, rule)}); {fix} to "
            f"{verb} ({self.align}-aligned) and have it reported")

  def describe_refusal(self, seq_len: int) -> str:
    return f"sequence length {seq_len} is {self.refusal(seq_len > self.length)}"

  def adjustment(self, seq_len: int, length_mismatch: str, path: str,
                 record: str) -> str:
    """What prediction reports for a sequence of `seq_len`: "none", "padded" or
    "cropped"; an InputError naming the record when the rule refuses it."""
    action = self.at_prediction(seq_len, length_mismatch)
    if action == "refuse":
      raise InputError(self.describe_refusal(seq_len), path=path, record=record)
    return {"keep": "none", "pad": "padded", "crop": "cropped"}[action]

  def to_json(self) -> dict[str, Any]:
    return dataclasses.asdict(self)

  @classmethod
  def from_json(cls, data: dict[str, Any]) -> "LengthRule":
    return cls(**data)
