"""What `score_variants` needs (a plain dataclass: the command declares its flags
from it before TensorFlow loads)."""

from __future__ import annotations

import dataclasses
from typing import ClassVar, Sequence

from gslm_keras.errors import ConfigError

REF_MISMATCH = ("error", "flag")
PROVIDED_POLICIES = ("hold", "per_allele")
ANCHORS = ("variant", "sequence")
ON_ERROR = ("stop", "skip")


@dataclasses.dataclass(frozen=True)
class ScoreConfig:
  """What `score_variants` needs.

  Attributes:
    model: a training run's directory, a SavedModel export, a language model (a
      pretrain run: zero-shot llr) or a preset name.
    output: .tsv, .parquet, .vcf, .vcf.gz or .bgz (a bgzip TSV with chrom, pos,
      ref, alt first, and its tabix index `.tbi`); several (a list, or names
      joined by commas) write the same rows to each, e.g. a TSV and a VCF.
    vcf: VCF input (with `reference`), or None.
    reference: reference genome FASTA for VCF input or --all_snvs (plain or
      bgzip; a missing .fai index is built).
    variants: a table of explicit variants instead (see `io.read_variant_table`).
    all_snvs: score every possible single-base substitution (3 per A, C, G or T
      base; other letters skipped and counted) in --regions of --reference.
    regions: BED file of the regions --all_snvs covers (0-based, half-open;
      sorted and merged here).
    batch_size: variants per batch.
    strand_average: read both strands and average ref and alt predictions over
      them; None decides from the model: both for a strand-symmetric model
      (trained with reverse-complement augmentation or rc_average), the forward
      strand for a strand-oriented one. The choice and its reason go in the
      output's header.
    ref_mismatch: REF that disagrees with the reference: "error", or "flag" the
      row (scored on the genome's sequence with the given alleles).
    provided_policy: provided features of the alternate allele: "hold" the
      reference value, or "per_allele" (table columns `<name>_alt`).
    on_error: "stop" at the first variant that cannot be scored, or "skip" it:
      skipped variants go to `<output>.rejects.tsv` with their reasons.
    progress_seconds: seconds between progress lines.
    anchor: "variant" (each window centred on the variant's start) or "sequence"
      (table input: the context sequence is the window, cut by the dataset's
      length rule, with the allele edited in place; for models trained on windows
      anchored to an element, e.g. a promoter's TSS).
    command: the command line, recorded in the output header.
    overwrite: replace existing outputs (and their side files); without it an
      existing output is refused before any work.
  """

  CHOICES: ClassVar[dict[str, tuple[str, ...]]] = {
      "ref_mismatch": REF_MISMATCH, "provided_policy": PROVIDED_POLICIES,
      "on_error": ON_ERROR, "anchor": ANCHORS}

  model: str
  output: str | Sequence[str]
  vcf: str | None = None
  reference: str | None = None
  variants: str | None = None
  all_snvs: bool = False
  regions: str | None = None
  batch_size: int = 128
  strand_average: bool | None = None
  ref_mismatch: str = "error"
  provided_policy: str = "hold"
  on_error: str = "stop"
  progress_seconds: float = 10.0
  anchor: str = "variant"
  command: str | None = None
  overwrite: bool = False

  def __post_init__(self):
    paths = (self.output.split(",") if isinstance(self.output, str)
             else list(self.output))
    paths = tuple(p.strip() for p in paths if p.strip())
    if not paths:
      raise ConfigError("--output is required")
    if len(set(paths)) != len(paths):
      raise ConfigError(f"--output names a file twice: {','.join(paths)}")
    object.__setattr__(self, "output", paths)
    inputs = [self.vcf is not None, self.variants is not None, self.all_snvs]
    if sum(inputs) != 1:
      raise ConfigError("give one input: --vcf (with --reference), --variants, or "
                        "--all_snvs (with --regions and --reference)")
    if self.all_snvs and not (self.regions and self.reference):
      raise ConfigError("--all_snvs needs --regions (a BED file) and --reference")
    if self.regions and not self.all_snvs:
      raise ConfigError("--regions is for --all_snvs")
    if self.all_snvs and self.anchor == "sequence":
      raise ConfigError("--anchor=sequence scores a --variants table in its context "
                        "sequences; --all_snvs scores windows centred on each variant")
    if self.vcf is not None and not self.reference:
      raise ConfigError("--vcf needs --reference (the genome FASTA)")
    if self.ref_mismatch not in REF_MISMATCH:
      raise ConfigError(f"ref_mismatch={self.ref_mismatch!r}: expected error or flag")
    if self.provided_policy not in PROVIDED_POLICIES:
      raise ConfigError(f"provided_policy={self.provided_policy!r}: expected hold or "
                        "per_allele")
    if self.batch_size < 1:
      raise ConfigError(f"batch_size={self.batch_size}: expected >= 1")
    if self.on_error not in ON_ERROR:
      raise ConfigError(f"on_error={self.on_error!r}: expected stop or skip")
    if self.anchor not in ANCHORS:
      raise ConfigError(f"anchor={self.anchor!r}: expected variant or sequence")
    if self.anchor == "sequence" and self.vcf is not None:
      raise ConfigError("--anchor=sequence scores a --variants table in its context "
                        "sequences; VCF variants are scored in windows centred on them")
    if any(p.endswith((".vcf", ".vcf.gz")) for p in paths) and self.vcf is None:
      raise ConfigError("VCF output needs VCF input")

  @property
  def first_output(self) -> str:
    """The output the rejects file and summary sit beside."""
    return self.output[0]
