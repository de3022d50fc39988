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

from gslm_keras import cli, config_flags
from gslm_keras.variants.config import ScoreConfig

# One flag per field of ScoreConfig, its documentation as help (config_flags).
OPTIONS = config_flags.define(ScoreConfig, exclude=("command",), module_name=__name__)


def main(argv):
  del argv
  config = OPTIONS.build(command=cli.command_line("gslm_keras.score_variants"))
  from gslm_keras.variants.scorer import score_variants

  stats = score_variants(config)
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
