r"""Genome scan: windows per second against the model's own forward-pass rate, and
peak memory on chromosomes of 10 and 100 Mb.

  python -m benchmarks.scan --model_dir=build/models/quickstart \
      --output=benchmarks/results/scan.json

Speed: `scan` over a genome (the bundled C. trachomatis chromosome by default,
1.04 Mb) at --stride, end to end in one process (reading the FASTA, tiling,
encoding, scoring, the bigWig and BED written), median of --repeats runs; beside
it, measured in the same run, the model's forward passes alone on already encoded
windows in the same batches (the bound: scan cannot be faster).

Memory: a fresh process scans a synthetic chromosome of random bases (one FASTA
record, gzip) of each size in --rss_megabases with stride --rss_stride, and
reports its peak resident set size; a process that only loads the model is the
floor. Constant memory means the 100 Mb peak stays near the 10 Mb one.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

from benchmarks import common

CHILD = """
import json, resource, sys, time
start = time.perf_counter()
from gslm_keras.startup import quiet_tensorflow
quiet_tensorflow()
from gslm_keras import api
from gslm_keras.inference.model import LoadedModel
model, genome, out, stride = sys.argv[1:5]
if genome == "-":
  LoadedModel(model)
  summary = {"scored": 0}
else:
  summary = api.scan(model=model, genome=genome, output=out, stride=int(stride),
                     progress_seconds=1e9)
print(json.dumps({"peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "seconds": time.perf_counter() - start, "windows": summary["scored"]}))
"""


def write_chromosome(path: str, megabases: float, seed: int) -> None:
  """One FASTA record of random bases, 60 per line, gzip."""
  rng = np.random.default_rng(seed)
  bases = np.frombuffer(b"ACGT", np.uint8)
  total = int(megabases * 1e6)
  with gzip.open(path, "wb", compresslevel=1) as handle:
    handle.write(b">chrSynthetic\n")
    for lo in range(0, total, 6_000_000):
      n = min(6_000_000, total - lo)
      block = bases[rng.integers(0, 4, size=n)].tobytes()
      handle.write(b"\n".join(block[i:i + 60] for i in range(0, n, 60)) + b"\n")


def child(model_dir: str, genome: str, out: str, stride: int) -> dict:
  result = subprocess.run([sys.executable, "-c", CHILD, model_dir, genome, out, str(stride)],
                          capture_output=True, text=True, check=False)
  if result.returncode:
    raise SystemExit(f"error: the scan of {genome} failed: {result.stderr.strip()[-500:]}")
  return json.loads(result.stdout.strip().splitlines()[-1])


def main():
  parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
  parser.add_argument("--model_dir", default="build/models/quickstart")
  parser.add_argument("--genome",
                      default="../shared/data/genomes/chlamydia_trachomatis_CHLTCG.fasta")
  parser.add_argument("--stride", type=int, default=10)
  parser.add_argument("--batch_size", type=int, default=256)
  parser.add_argument("--repeats", type=int, default=3)
  parser.add_argument("--rss_megabases", default="10,100")
  parser.add_argument("--rss_stride", type=int, default=2000)
  parser.add_argument("--output", default="benchmarks/results/scan.json")
  parser.add_argument("--note", default="")
  args = parser.parse_args()
  if not os.path.exists(os.path.join(args.model_dir, "model.keras")):
    sys.exit(f"error: {args.model_dir} holds no trained model (run the quickstart)")
  from gslm_keras import api

  results = common.header("benchmarks.scan")
  results.update({"note": args.note, "model_dir": args.model_dir, "genome": args.genome,
                  "stride": args.stride, "batch_size": args.batch_size})
  with tempfile.TemporaryDirectory() as tmp:
    rates, whole = [], []
    for _ in range(args.repeats):
      start = time.perf_counter()
      summary = api.scan(model=args.model_dir, genome=args.genome, stride=args.stride,
                         output=f"{tmp}/t.bw", batch_size=args.batch_size,
                         progress_seconds=1e9, overwrite=True)
      whole.append(summary["scored"] / (time.perf_counter() - start))
      rates.append(summary["scored"] / summary["seconds"])
    bound = common.forward_rate(args.model_dir, args.batch_size, max(args.repeats, 3) * 5)
    results["speed"] = {"windows": summary["scored"], "window": summary["window"],
                        "both_strands": summary["both_strands"],
                        "windows_per_second": common.median(rates), "runs": rates,
                        "with_model_loading": common.median(whole),
                        "forward_windows_per_second": bound,
                        "fraction_of_forward": common.median(rates) / bound}
    memory = [{"megabases": 0, **child(args.model_dir, "-", "", 0)}]
    for megabases in map(float, args.rss_megabases.split(",")):
      genome = f"{tmp}/chr_{megabases:g}mb.fa.gz"
      write_chromosome(genome, megabases, seed=1)
      memory.append({"megabases": megabases, **child(args.model_dir, genome,
                                                      f"{tmp}/m{megabases:g}.bw",
                                                      args.rss_stride)})
      os.remove(genome)
    results["memory"] = {"stride": args.rss_stride, "runs": memory}
  common.write_results(args.output, results, markdown(results))
  print(markdown(results))


def markdown(results: dict) -> str:
  speed = results["speed"]
  lines = [
      "# Genome scan: speed and memory", "", common.machine_lines(results),
      f"Speed: `scan` of `{results['genome']}` with `{results['model_dir']}` "
      f"({speed['window']} bp windows, stride {results['stride']}, "
      f"{'both strands' if speed['both_strands'] else 'forward strand'}, batches of "
      f"{results['batch_size']}, {speed['windows']:,} windows): the scan's own time "
      "(the summary's seconds: reading the FASTA twice, tiling, encoding, scoring, "
      "writing the bigWig). With loading the model (a fixed cost of a few seconds) "
      f"it scanned {speed['with_model_loading']:,.0f} windows/s. The bound is the "
      "model's forward passes alone on already encoded windows in the same batches, "
      "measured in the same run.",
      "",
      "| | windows/s (median) | model's forward passes | fraction | goal (>= 80%) |",
      "|---|---:|---:|---:|---|",
      f"| scan | {speed['windows_per_second']:,.0f} | "
      f"{speed['forward_windows_per_second']:,.0f} | "
      f"{speed['fraction_of_forward']:.0%} | "
      f"{'met' if speed['fraction_of_forward'] >= 0.8 else 'not met'} |", "",
      f"Memory: a fresh process scans one synthetic chromosome (gzip FASTA, stride "
      f"{results['memory']['stride']}); peak resident set size of the process. The "
      "first row only loads the model.", "",
      "| chromosome | windows | seconds | peak RSS (MiB) |", "|---|---:|---:|---:|"]
  for run in results["memory"]["runs"]:
    name = f"{run['megabases']:g} Mb" if run["megabases"] else "model only"
    lines.append(f"| {name} | {run['windows']:,} | {run['seconds']:.0f} | "
                 f"{run['peak_rss_mib']:,.0f} |")
  return "\n".join(lines + [""])


if __name__ == "__main__":
  common.run(main)
