r"""Dataset building on Apache Beam against the streaming builder, same inputs.

  python -m benchmarks.beam_build --shared_data=../shared/data \
      --output=benchmarks/results/beam_build.json

Two inputs, each built by both engines in a fresh process, whose peak memory is
sampled (the resident memory of the process and all its children, summed, every
0.1 s):
- `labelled_x10`: GUE tf/0 train repeated ten times (323,780 x 101 bp), computed
  features GC content and the 3-mer spectrum (the input of `benchmarks.pipeline`),
  and `labelled_x1`, the train file once, for how memory grows with the input;
- `corpus`: every genome and FASTA file in the shared data (the C. trachomatis
  genome, the A. thaliana chloroplast, the Y. pestis plasmid, the CNNProm FASTA
  files, the CAGI5 elements) cut into 128-base windows at stride 50, both
  strands, split by 2-kb blocks.
Engines: `streaming` (--num_workers=2), `beam_1` (the FnApiRunner in one
process) and `beam_2` (--direct_running_mode=multi_processing
--direct_num_workers=2). Each build is run --repeats times; the medians are
quoted, with the spread. Every Beam build is checked to hold the streaming
build's records (the same serialized records per split). From the per-worker
rate, the time of a whole human genome on a cluster is estimated (see the .md).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time

from benchmarks import common

ENGINES = {
    "streaming": ["--num_workers=2"],
    "beam_1": ["--engine=beam"],
    "beam_2": ["--engine=beam", "--beam_pipeline_options=--direct_running_mode="
               "multi_processing --direct_num_workers=2"],
}
HUMAN_GENOME_BASES = 3.1e9
INPUT_NAMES = ("labelled_x1", "labelled_x10", "corpus")  # The keys of `inputs`.


def corpus_inputs(shared: str) -> list[str]:
  """Every genome and FASTA file in the shared data, each its own source (a
  GenBank file whose FASTA twin is there is left out: the same sequence)."""
  genomes = os.path.join(shared, "genomes")
  inputs = [f"{genomes}/chlamydia_trachomatis_CHLTCG.fasta:source=c_trachomatis",
            f"{genomes}/NC_000932.gb:source=a_thaliana_chloroplast",
            f"{genomes}/NC_005816.fna:source=y_pestis_plasmid",
            f"{shared}/cagi5/elements_hg19.fa:source=cagi5_elements"]
  cnnprom = os.path.join(shared, "cnnprom")
  inputs += [f"{cnnprom}/{name}:source={name.rsplit('.', 1)[0].lower()}"
             for name in sorted(os.listdir(cnnprom)) if name.endswith(".fa")]
  return inputs


def inputs(shared: str, workdir: str) -> dict[str, list[str]]:
  """The build arguments (without output and engine) of each input."""
  repeated = os.path.join(workdir, "tf0_train_x10.csv")
  if not os.path.exists(repeated):
    with open(os.path.join(shared, "gue", "tf", "0", "train.csv")) as handle:
      header, *rows = handle.read().splitlines()
    with open(repeated, "w") as handle:
      handle.write(header + "\n")
      for _ in range(10):
        handle.write("\n".join(rows) + "\n")
  features = "--computed_features=gc_content,kmer:k=3"
  return {
      "labelled_x1": [f"--train={os.path.join(shared, 'gue', 'tf', '0', 'train.csv')}",
                      features],
      "labelled_x10": [f"--train={repeated}", features],
      "corpus": ["--task=unlabelled", "--input=" + ",".join(corpus_inputs(shared)),
                 "--length=128", "--stride=50", "--both_strands", "--on_shorter=pad",
                 "--split_block=2000"],
  }


def _tree_rss_mib(pid: int) -> float:
  """Resident memory of `pid` and all its descendants, MiB."""
  parents: dict[int, int] = {}
  rss: dict[int, int] = {}
  for entry in filter(str.isdigit, os.listdir("/proc")):
    try:
      with open(f"/proc/{entry}/stat") as handle:
        fields = handle.read().split(") ")[1].split()
      parents[int(entry)] = int(fields[1])
      rss[int(entry)] = int(fields[21]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, IndexError, ValueError):
      continue
  tree, todo = {pid}, [pid]
  while todo:
    parent = todo.pop()
    for child, its_parent in parents.items():
      if its_parent == parent and child not in tree:
        tree.add(child)
        todo.append(child)
  return sum(rss.get(p, 0) for p in tree) / 2**20


def build(args: list[str], output_dir: str) -> dict:
  """One build in a fresh process: wall seconds, records, peak tree memory."""
  command = [sys.executable, "-m", "gslm_keras.build_dataset", *args,
             f"--output_dir={output_dir}", "--overwrite", "--progress_seconds=1e9"]
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
  start = time.perf_counter()
  process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
  peak = [0.0]

  def sample():
    while process.poll() is None:
      peak[0] = max(peak[0], _tree_rss_mib(process.pid))
      time.sleep(0.1)

  sampler = threading.Thread(target=sample, daemon=True)
  sampler.start()
  stdout, stderr = process.communicate()
  seconds = time.perf_counter() - start
  sampler.join()
  if process.returncode != 0:
    raise RuntimeError(f"{' '.join(command)} failed:\n{stderr[-3000:]}")
  with open(os.path.join(output_dir, "dataset_info.json")) as handle:
    manifest = json.load(handle)
  records = sum(s["num_records"] for s in manifest["splits"].values())
  return {"seconds": seconds, "records": records,
          "records_per_second": records / seconds, "peak_rss_mib": peak[0]}


def same_records(a: str, b: str) -> bool:
  """The two datasets hold the same serialized records per split."""
  import tensorflow as tf

  from gslm_keras.data.dataset_info import DatasetInfo

  first, second = DatasetInfo.load(a), DatasetInfo.load(b)

  def records(info, split):
    return sorted(raw.numpy() for path in info.shard_paths(split)
                  for raw in tf.data.TFRecordDataset(path, info.compression))

  return all(records(first, s) == records(second, s) for s in first.splits)


def summarise(runs: list[dict]) -> dict:
  rates = [r["records_per_second"] for r in runs]
  return {"runs": runs, "records": runs[0]["records"],
          "median_seconds": statistics.median(r["seconds"] for r in runs),
          "median_records_per_second": statistics.median(rates),
          "records_per_second_range": [min(rates), max(rates)],
          "median_peak_rss_mib": statistics.median(r["peak_rss_mib"] for r in runs)}


def estimate(results: dict) -> dict:
  """A whole human genome (128-base windows at stride 50, both strands) from the
  per-worker rate of the two-worker Beam corpus build. A chromosome is cut into
  pieces of `PIECE_BASES` bases of window starts, each one worker's element, so
  no run is shorter than one piece takes."""
  from gslm_keras.data.beam.corpus import PIECE_BASES

  rate = results["corpus"]["beam_2"]["median_records_per_second"] / 2
  windows = 2 * HUMAN_GENOME_BASES / 50
  piece = 2 * PIECE_BASES / 50
  floor = piece / rate / 3600
  return {"windows": windows, "per_worker_records_per_second": rate,
          "worker_hours": windows / rate / 3600,
          "piece_windows": piece, "piece_hours": floor,
          "hours_on": {str(n): max(windows / rate / n / 3600, floor)
                       for n in (16, 64, 256)}}


ENGINE_NAMES = {"streaming": "streaming builder, 2 worker processes",
                "beam_1": "Beam, FnApiRunner in one process",
                "beam_2": "Beam, DirectRunner multi_processing, 2 workers"}


def markdown(results: dict) -> str:
  """The tables of the .md beside the JSON."""
  lines = ["# Dataset building: Beam against the streaming builder\n",
           f"{results['date']}, `{results['command']}`, {results['machine']['cpu']}, "
           f"{results['machine']['cores']} cores. Wall time of the whole command (start-up "
           "and TensorFlow import included), medians of the runs, the range of rates in "
           "brackets; peak memory is the resident memory of the build and all its worker "
           "processes, summed.\n"]
  for name, run in results.get("earlier_runs", {}).items():
    lines.append(f"`{name}` is from an earlier run: {run['date']}, `{run['command']}`.\n")
  for name in INPUT_NAMES:
    if name not in results:
      continue
    engines = results[name]
    lines += [f"## {name} ({engines['streaming']['records']:,} records)\n",
              "| engine | seconds | records/s | vs streaming | peak memory MiB | same records |",
              "|---|---|---|---|---|---|"]
    for engine, label in ENGINE_NAMES.items():
      e = engines[engine]
      low, high = e["records_per_second_range"]
      lines.append(
          f"| {label} | {e['median_seconds']:.1f} | {e['median_records_per_second']:,.0f} "
          f"[{low:,.0f}-{high:,.0f}] | {e.get('rate_ratio_to_streaming', 1.0):.2f}x | "
          f"{e['median_peak_rss_mib']:,.0f} | "
          + ("(reference) |" if engine == "streaming" else
             f"{'yes' if e['same_records_as_streaming'] else 'NO'} |"))
    lines.append("")
  if "human_genome_estimate" in results:
    est = results["human_genome_estimate"]
    lines += ["## A whole human genome (estimate)\n",
              f"{est['windows']:,.0f} windows (3.1 Gb, 128 bases at stride 50, both "
              f"strands) at {est['per_worker_records_per_second']:,.0f} windows/s per "
              f"worker (the two-worker corpus build's rate, halved): "
              f"{est['worker_hours']:.1f} worker-hours. A chromosome is cut into pieces "
              f"of {est['piece_windows']:,.0f} windows, each one worker's element "
              f"({est['piece_hours'] * 3600:.0f} s): "
              + ", ".join(f"{h * 60:.0f} min on {n} workers"
                          for n, h in est["hours_on"].items())
              + ", before the runner's own start-up and shuffle costs.\n"]
  return "\n".join(lines)


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("--shared_data", default="../shared/data")
  parser.add_argument("--output", default="benchmarks/results/beam_build.json")
  parser.add_argument("--repeats", type=int, default=3)
  parser.add_argument("--inputs", default="labelled_x1,labelled_x10,corpus")
  parser.add_argument("--markdown_only", action="store_true",
                      help="Rewrite the .md from the JSON at --output; run nothing.")
  args = parser.parse_args()
  if args.markdown_only:
    with open(args.output) as handle:
      results = json.load(handle)
    results["human_genome_estimate"] = estimate(results)
    common.write_results(args.output, results, markdown(results))
    return
  results = common.header("benchmarks.beam_build")
  wanted = args.inputs.split(",")
  if os.path.exists(args.output):  # Inputs not run this time keep their results.
    with open(args.output) as handle:
      earlier = json.load(handle)
    kept = [name for name in INPUT_NAMES if name in earlier and name not in wanted]
    results.update({name: earlier[name] for name in kept})
    previous = earlier.get("earlier_runs", {})
    results["earlier_runs"] = {
        name: previous.get(name, {"date": earlier["date"], "command": earlier["command"]})
        for name in kept}
  workdir = tempfile.mkdtemp(prefix="beam_build_")
  try:
    for name, build_args in inputs(args.shared_data, workdir).items():
      if name not in wanted:
        continue
      results[name] = {}
      for engine, engine_args in ENGINES.items():
        runs = []
        for repeat in range(args.repeats):
          out = os.path.join(workdir, f"{name}_{engine}")
          runs.append(build(build_args + engine_args, out))
          print(name, engine, repeat, json.dumps(runs[-1]), flush=True)
        results[name][engine] = summarise(runs)
        if engine != "streaming":
          results[name][engine]["same_records_as_streaming"] = same_records(
              os.path.join(workdir, f"{name}_streaming"), out)
      streaming = results[name]["streaming"]["median_records_per_second"]
      for engine in ("beam_1", "beam_2"):
        results[name][engine]["rate_ratio_to_streaming"] = (
            results[name][engine]["median_records_per_second"] / streaming)
    if "corpus" in results:
      results["human_genome_estimate"] = estimate(results)
  finally:
    shutil.rmtree(workdir, ignore_errors=True)
  common.write_results(args.output, results, markdown(results))
  print(json.dumps({k: v for k, v in results.items() if k not in ("machine",)},
                   indent=1)[:4000])


if __name__ == "__main__":
  common.run(main)
