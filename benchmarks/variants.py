r"""Variant scoring throughput: variants per second through score_variants.

  python -m benchmarks.variants --model_dir=build/models/quickstart \
      --output=benchmarks/results/variants.json

Writes a VCF of random SNVs and short indels on a reference (the bundled Y. pestis
plasmid by default), scores it with and without strand averaging (median of
--repeats runs each) and records variants per second. Each variant costs 4 model
inputs per strand (ref, alt, and the two path splits), encoded from raw strings.

With --all_snvs_bases=N it scores instead every possible SNV of the first N
bases after position 100 (`score_variants --all_snvs --regions`, 3 per base) into
a tabix-indexed `.bgz`, the genome-scale path.

The bound, measured in the same run: the model's own prediction rate on already
encoded inputs, for the same number of forward passes (4 per strand per variant,
in the same batches). score_variants cannot be faster than that; the ratio says
how much the windows, the encoding, reading and writing cost on top.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time

import numpy as np

from benchmarks import common


def write_vcf(path: str, reference: str, count: int, seed: int) -> None:
  from Bio import SeqIO

  record = next(SeqIO.parse(reference, "fasta"))
  sequence = str(record.seq).upper()
  contig = record.id
  rng = np.random.default_rng(seed)
  lines = ["##fileformat=VCFv4.2", f"##contig=<ID={contig},length={len(sequence)}>",
           "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO"]
  for i, position in enumerate(np.sort(rng.integers(10, len(sequence) - 10, size=count))):
    ref = sequence[position]
    kind = i % 10
    if kind == 8:  # deletion
      ref, alt = sequence[position:position + 3], sequence[position]
    elif kind == 9:  # insertion
      alt = ref + "".join(rng.choice(list("ACGT"), size=2))
    else:
      alt = "ACGT"[("ACGT".index(ref) + 1 + kind % 3) % 4] if ref in "ACGT" else "A"
    lines.append(f"{contig}\t{position + 1}\tv{i}\t{ref}\t{alt}\t.\t.\t.")
  with open(path, "w") as handle:
    handle.write("\n".join(lines) + "\n")


def model_bound(model_dir: str, batch: int, strands: int, repeats: int) -> float:
  """Variants per second if scoring cost only the model's forward passes (4 per
  strand per variant)."""
  passes = 4 * strands
  return common.forward_rate(model_dir, batch * passes, max(repeats, 3) * 3) / passes


def main():
  parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
  parser.add_argument("--model_dir", default="build/models/quickstart")
  parser.add_argument("--reference", default="datasets/genomes/NC_005816.fna")
  parser.add_argument("--variants", type=int, default=5000)
  parser.add_argument("--repeats", type=int, default=3)
  parser.add_argument("--all_snvs_bases", type=int, default=0,
                      help="score every SNV of this many bases (--all_snvs) instead")
  parser.add_argument("--output", default="benchmarks/results/variants.json")
  parser.add_argument("--note", default="",
                      help="context worth recording (e.g. other load on the machine)")
  args = parser.parse_args()
  if not os.path.exists(os.path.join(args.model_dir, "model.keras")):
    sys.exit(f"error: {args.model_dir} holds no trained model (run the quickstart)")
  os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
  from gslm_keras.variants.scorer import ScoreConfig, score_variants

  results = common.header("benchmarks.variants")
  results["note"] = args.note
  results.update({"model_dir": args.model_dir, "reference": args.reference,
                  "variants": args.variants})
  with tempfile.TemporaryDirectory() as tmp:
    reference = os.path.join(tmp, "reference.fa")
    with open(args.reference) as source, open(reference, "w") as target:
      target.write(source.read())  # A copy: pyfaidx writes its index beside it.
    vcf = os.path.join(tmp, "variants.vcf")
    write_vcf(vcf, reference, args.variants, seed=0)
    inputs = {"vcf": vcf, "output": os.path.join(tmp, "scores.tsv")}
    if args.all_snvs_bases:
      bed = os.path.join(tmp, "regions.bed")
      with open(bed, "w") as handle:
        contig = open(reference).readline()[1:].split()[0]
        handle.write(f"{contig}\t100\t{100 + args.all_snvs_bases}\n")
      inputs = {"all_snvs": True, "regions": bed, "output": os.path.join(tmp, "s.bgz")}
      results["all_snvs_bases"] = args.all_snvs_bases
    for strand_average in (True, False):
      rates = []
      for repeat in range(args.repeats):
        start = time.perf_counter()
        stats = score_variants(ScoreConfig(
            model=args.model_dir, reference=reference, strand_average=strand_average,
            batch_size=256, progress_seconds=1e9, overwrite=True, **inputs))
        rates.append(stats["variants"] / (time.perf_counter() - start))
      key = "both_strands" if strand_average else "forward_strand"
      bound = model_bound(args.model_dir, 256, 2 if strand_average else 1, args.repeats)
      results[key] = {"variants_per_second": common.median(rates), "runs": rates,
                      "bound_variants_per_second": bound,
                      "fraction_of_bound": common.median(rates) / bound}
  common.write_results(args.output, results, markdown(results))
  print(markdown(results))


def markdown(results: dict) -> str:
  return "\n".join([
      "# Variant scoring throughput", "", common.machine_lines(results),
      (f"Every SNV of {results['all_snvs_bases']:,} bases ({3 * results['all_snvs_bases']:,} "
       f"variants, `--all_snvs`) of `{results['reference']}`, model "
       f"`{results['model_dir']}`, batches of 256, including the bgzip TSV and its "
       "tabix index." if results.get("all_snvs_bases") else
       f"{results['variants']} variants (SNVs, 10% deletions, 10% insertions) on "
       f"`{results['reference']}`, model `{results['model_dir']}`, batches of 256, "
       "including VCF reading and TSV writing."), "",
      "The bound is the model's own prediction rate on encoded inputs for the same "
      "forward passes (4 per strand per variant), measured in the same run.", "",
      "| scoring | variants/s (median) | bound | fraction of bound |",
      "|---|---:|---:|---:|",
      *(f"| {label} | {results[key]['variants_per_second']:,.0f} | "
        f"{results[key]['bound_variants_per_second']:,.0f} | "
        f"{results[key]['fraction_of_bound']:.0%} |"
        for label, key in (("both strands (default)", "both_strands"),
                           ("forward strand only", "forward_strand"))),
      ""])


if __name__ == "__main__":
  common.run(main)
