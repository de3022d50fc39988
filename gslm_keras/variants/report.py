"""What a score output says about itself: each column's meaning (VCF INFO
descriptions), which strands were read and why, and the header notes."""

from __future__ import annotations

# Row keys of every score output (not scores).
ROW_KEYS = ["id", "chrom", "pos", "ref", "alt", "ref_mismatch", "padded"]


# Each strand's own alt minus ref, when two are read and averaged.
STRAND_SCORES = ("diff_forward", "diff_reverse")
# What each score is, for the VCF header (INFO Description) and the README.
_DESCRIPTIONS = {
    "diff_forward": "{c}: alternate minus reference, read on the forward strand alone",
    "diff_reverse": "{c}: alternate minus reference, read on the reverse-complement "
                    "strand alone",
    "ref": "model output {c} for the reference window",
    "alt": "model output {c} for the alternate window",
    "diff": "{c}: alternate minus reference",
    "log_ratio": "{c}: log(p_alt) - log(p_ref), natural log",
    "log_odds_ratio": "{c}: logit(p_alt) - logit(p_ref), natural log",
    "seq_path_diff": "{c}: alternate sequence with the reference's features, minus "
                     "reference (the effect through the sequence branch)",
    "feature_path_diff": "{c}: reference sequence with the alternate's features, "
                         "minus reference (the effect through the feature branch)",
}
# Zero-shot scores of a language model (whole column names).
LLR_DESCRIPTIONS = {
    "llr": "log P(alt) - log P(ref) at the masked variant position, natural log "
           "(language model, zero-shot)",
    "llr_forward": "llr read on the forward strand alone (llr is the mean of both)",
    "llr_reverse": "llr read on the reverse strand alone, at the complementary bases "
                   "(llr is the mean of both)",
    "log_p_ref": "log P(ref) at the masked variant position, natural log",
    "log_p_alt": "log P(alt) at the masked variant position, natural log",
    "embedding_l2": "L2 distance between the mean backbone embeddings of the reference "
                    "and alternate windows (language model, zero-shot)",
    "embedding_cosine": "1 - cosine similarity of the mean backbone embeddings of the "
                        "reference and alternate windows (language model, zero-shot)",
}


def describe_column(name: str, strands: str) -> str:
  """What one score column holds, e.g. for `diff_prob_promoter`."""
  if name in LLR_DESCRIPTIONS:
    # A strand's own llr is read on that strand, whatever the others average.
    return (LLR_DESCRIPTIONS[name] if name in ("llr_forward", "llr_reverse")
            else f"{LLR_DESCRIPTIONS[name]} ({strands})")
  for prefix in sorted(_DESCRIPTIONS, key=len, reverse=True):
    if name.startswith(prefix + "_"):
      text = _DESCRIPTIONS[prefix].format(c=name[len(prefix) + 1:])
      return text if prefix in STRAND_SCORES else f"{text} ({strands})"
  raise KeyError(name)


def info_fields(columns: list[str], strands: str) -> dict[str, tuple[str, str]]:
  return {f"GSLM_{c.upper()}": (c, f"gslm_keras {describe_column(c, strands)}")
          for c in columns if c not in ROW_KEYS}


def strand_choice(model, strand_average: bool | None
                  ) -> tuple[int, str, str]:
  """(strands the scorer reads, what its header says, what the score columns say).

  A model that reads both strands itself (rc_average) is read once. Otherwise
  the user's choice, or the model's: both strands for one trained with
  reverse-complement augmentation, the forward strand for a strand-oriented one.
  """
  symmetric = model.strand_symmetry()
  if symmetric == "rc_average":
    return 1, ("both strands, averaged inside the model (rc_average)"), "both strands"
  if strand_average is None:
    if symmetric == "reverse_complement":
      return 2, ("both strands, averaged (default for this model: it was trained with "
                 "reverse-complement augmentation, so it reads both strands alike)"
                 ), "mean over both strands"
    return 1, ("forward strand only (default for this model: it was trained without "
               "reverse-complement augmentation or rc_average, so its predictions "
               "depend on the strand; --strand_average averages both)"), "forward strand"
  if strand_average:
    return 2, "both strands, averaged (--strand_average)", "mean over both strands"
  return 1, "forward strand only (--nostrand_average)", "forward strand"


def header_notes(strands: str, classifier: bool, padded: int) -> list[str]:
  scale = "probabilities" if classifier else "values"
  return [f"strands: {strands}",
          "logarithms: natural (base e) in every log score (log_ratio, log_odds_ratio, "
          "llr, log_p_*)",
          f"scores: every score of a column is computed from the strand-averaged ref "
          f"and alt {scale}, so the scores of one variant agree in sign",
          f"padded: {padded} variant(s) whose window ran past the end of its contig or "
          "context sequence, filled with N (column padded, VCF flag GSLM_PADDED)"]
