r"""Scores variants with a trained model: alt minus ref through both branches.

  python -m gslm_keras.score_variants --model=build/models/prom \
      --reference=hg38.fa --vcf=variants.vcf.gz --output=scores.tsv
  python -m gslm_keras.score_variants --model=build/models/prom \
      --variants=variants.tsv --output=scores.parquet

VCF input (plain, gzip or bgzip; SNVs, MNVs, short indels; multi-allelic records
split; symbolic alleles, unknown contigs and positions past a contig end skipped
and counted) with a reference FASTA, or a table of explicit context sequences
(columns sequence, position, ref, alt, optional id). Windows of the model's
length are centred on each variant's start; the alternate window keeps the left
flank and refills the right from the reference. For every model output: alt and
ref predictions, diff, log_ratio and log_odds_ratio (classifiers), and the
sequence-path and feature-path diffs, all computed from ref and alt predictions
averaged over both strands for a strand-symmetric model (trained with
reverse-complement augmentation or rc_average) or from the forward strand for a
strand-oriented one (--strand_average / --nostrand_average to choose; the header
says which). A window past a contig end is padded with N and flagged (column
padded, VCF INFO GSLM_PADDED). A language model (python -m gslm_keras.pretrain, or a
preset such as gslm-lm-multispecies) writes llr = log P(alt) - log P(ref) at the
masked variant position, both strands (single-base substitutions). Output: TSV, Parquet or VCF (.vcf / .vcf.gz, INFO
fields declared and described in the header); several at once, comma-separated.
"""

from __future__ import annotations

from absl import flags

from gslm_keras import cli

_MODEL = flags.DEFINE_string(
    "model", None, "model_dir of a training run, an export, a language model (pretrain; "
    "zero-shot llr) or a preset name.")
_VCF = flags.DEFINE_string("vcf", None, "VCF of variants (with --reference).")
_REFERENCE = flags.DEFINE_string("reference", None, "Reference genome FASTA.")
_VARIANTS = flags.DEFINE_string("variants", None, "Table of explicit variants instead.")
_OUTPUT = flags.DEFINE_string(
    "output", None, ".tsv, .parquet, .vcf or .vcf.gz; several joined by commas write "
    "the same scores to each (e.g. scores.tsv,scores.vcf.gz).")
_BATCH_SIZE = flags.DEFINE_integer("batch_size", 128, "Variants per batch.")
_STRAND_AVERAGE = flags.DEFINE_boolean(
    "strand_average", None, "Average ref and alt predictions over both strands before "
    "scoring. Unset: decided by the model (both strands when it was trained with "
    "reverse-complement augmentation or rc_average, else the forward strand); the "
    "output header says which.")
_REF_MISMATCH = flags.DEFINE_enum(
    "ref_mismatch", "error", ["error", "flag"], "REF disagreeing with the reference: "
    "stop, or score and flag the row.")
_PROVIDED_POLICY = flags.DEFINE_enum(
    "provided_policy", "hold", ["hold", "per_allele"], "Provided features of the "
    "alternate allele: the reference's value, or table columns <name>_alt.")
_ON_ERROR = flags.DEFINE_enum(
    "on_error", "stop", ["stop", "skip"], "A variant that cannot be scored (REF "
    "mismatch, bad position or letters, missing feature value): stop, or skip it "
    "(listed with its reason in <output>.rejects.tsv and counted in the header).")
_ANCHOR = flags.DEFINE_enum(
    "anchor", "variant", ["variant", "sequence"], "Windows centred on each variant, or "
    "(a --variants table) the context sequence itself as the window with the allele "
    "edited in place: for models trained on element-anchored windows, e.g. promoters "
    "around their TSS.")
_OVERWRITE = flags.DEFINE_boolean(
    "overwrite", False, "Replace existing --output files (and their side files: "
    "rejects, summary); without it an existing output is refused, as every tool does.")
_PROGRESS_SECONDS = flags.DEFINE_float("progress_seconds", 10.0,
                                       "Seconds between progress lines.")


def main(argv):
  del argv
  from gslm_keras.variants.scorer import ScoreConfig, score_variants

  cli.require(_MODEL, _OUTPUT)
  stats = score_variants(ScoreConfig(
      model=_MODEL.value, output=_OUTPUT.value, vcf=_VCF.value,
      reference=_REFERENCE.value, variants=_VARIANTS.value, batch_size=_BATCH_SIZE.value,
      strand_average=_STRAND_AVERAGE.value, ref_mismatch=_REF_MISMATCH.value,
      provided_policy=_PROVIDED_POLICY.value, on_error=_ON_ERROR.value,
      progress_seconds=_PROGRESS_SECONDS.value, anchor=_ANCHOR.value,
      overwrite=_OVERWRITE.value,
      command=cli.command_line("gslm_keras.score_variants")))
  skipped = ", ".join(f"{k} {v}" for k, v in stats["skipped"].items()) or "none"
  print(f"{stats['variants']} variants scored in {stats['seconds']:.1f} s "
        f"({stats['variants'] / max(stats['seconds'], 1e-9):.0f}/s) -> {stats['output']}")
  print(f"strands: {stats['strands']}")
  print(f"skipped: {skipped}; REF mismatches flagged: {stats['flagged_ref_mismatch']}; "
        f"windows padded with N past a contig end: {stats['padded']}")
  if stats["rejected"]:
    print(f"{stats['rejected']} variants rejected: {stats['rejects']}")


def run():
  cli.run(main)


if __name__ == "__main__":
  run()
