"""What `interpret` needs (a plain dataclass: the command declares its flags from
it before TensorFlow loads). Each option says which of the commands use it
(`USED_BY`); a command given another's option refuses it in one line."""

from __future__ import annotations

import dataclasses
from typing import ClassVar

from gslm_keras.dna.length import LENGTH_MISMATCH
from gslm_keras.errors import ConfigError

COMMANDS = ("ism", "attribute", "motifs", "modisco")
STEPS = {"attribute": 128, "modisco": 32}  # Integration steps when not given.
METHODS = ("integrated_gradients", "gradient_x_input")


@dataclasses.dataclass(frozen=True)
class InterpretConfig:
  """One `interpret` command.

  Attributes:
    command: "ism", "attribute", "motifs" or "modisco" (the command line's
      positional word).
    model: model_dir of a training run; for ism also a language model or a preset
      name (the LLR map: every substitution, its position masked).
    output_dir: where the results go.
    output_name: class or target to explain (default: the positive class, or the
      first).
    sequence: ism: a raw DNA sequence.
    fasta: ism: FASTA whose records to mutate (the first --limit).
    provided: ism: provided feature values.
    length_mismatch: ism: a sequence whose length is not the model's window: follow
      the training dataset's length rule, or crop / pad it.
    data_dir: attribute / motifs / modisco: dataset (default: the model's).
    split: attribute, modisco (default test) / motifs (default train): split.
    limit: sequences used (ism: records of --fasta).
    method: attribute: integrated gradients or gradient x input.
    steps: attribute / modisco: integration steps (default 128 / 32).
    max_q: motifs / modisco: q-value cut-off (Tomtom p-values calibrated on
      column-shuffled motifs, Benjamini-Hochberg over all motif-JASPAR pairs).
    families: motifs / modisco: report which known motif families the filters
      (patterns) recover (promoter: TBP, SP/KLF, NRF1, NFY, ETS, YY1, CREB) in
      families.json (patterns_families.json).
    tax_group: motifs / modisco: JASPAR taxonomic group ('' for all).
    max_seqlets: modisco: seqlets kept per sign of contribution.
  """

  CHOICES: ClassVar[dict[str, tuple]] = {
      "length_mismatch": LENGTH_MISMATCH, "method": METHODS, "families": ("promoter",)}
  # Options of one or two commands; the others are every command's.
  USED_BY: ClassVar[dict[str, tuple[str, ...]]] = {
      "sequence": ("ism",), "fasta": ("ism",), "provided": ("ism",),
      "length_mismatch": ("ism",), "data_dir": ("attribute", "motifs", "modisco"),
      "split": ("attribute", "motifs", "modisco"), "method": ("attribute",),
      "steps": ("attribute", "modisco"), "max_q": ("motifs", "modisco"),
      "families": ("motifs", "modisco"), "tax_group": ("motifs", "modisco"),
      "max_seqlets": ("modisco",)}

  command: str
  model: str
  output_dir: str
  output_name: str | None = None
  sequence: str | None = None
  fasta: str | None = None
  provided: tuple[float, ...] | None = None
  length_mismatch: str = "rule"
  data_dir: str | None = None
  split: str | None = None
  limit: int = 500
  method: str = "integrated_gradients"
  steps: int | None = None
  max_q: float = 0.05
  families: str | None = None
  tax_group: str = "vertebrates"
  max_seqlets: int = 2000

  def __post_init__(self):
    if self.command not in COMMANDS:
      raise ConfigError(f"interpret: command {self.command!r}: expected one of "
                        f"{', '.join(COMMANDS)}")
    for name, allowed in self.CHOICES.items():
      value = getattr(self, name)
      if value is not None and value not in allowed:
        raise ConfigError(f"{name}={value!r}: expected one of {', '.join(allowed)}")
    if self.command == "ism" and not (self.sequence or self.fasta):
      raise ConfigError("ism needs --sequence or --fasta")
    if self.limit < 1 or (self.steps is not None and self.steps < 1) or (
        self.max_seqlets < 1):
      raise ConfigError(f"limit={self.limit}, steps={self.steps}, max_seqlets="
                        f"{self.max_seqlets}: expected >= 1")

  @classmethod
  def refuse_unused(cls, command: str, given) -> None:
    """One line for the first option in `given` that `command` does not use."""
    for name in given:
      users = cls.USED_BY.get(name)
      if users and command not in users:
        raise ConfigError(f"--{name}: an option of interpret {' / '.join(users)}; "
                          f"interpret {command} does not use it: drop it")
