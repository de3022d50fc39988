r"""Input pipeline and dataset build throughput on GUE tf/0, against a naive baseline.

  python -m benchmarks.pipeline --data=../shared/data/gue/tf/0 \
      --output=benchmarks/results/pipeline.json

Measures, in one run on one machine:
- `make_dataset` examples/s over the train split (32,378 x 101 bp, computed
  features GC content and the 3-mer spectrum), train mode with shuffling, with
  and without augmentation, and eval mode;
- a naive baseline: a Python generator doing per-sequence numpy one-hot and
  per-sequence GC / 3-mer counting, fed through `tf.data.Dataset.from_generator`;
- `build_dataset` sequences/s and peak RSS, on the train file and on the same
  rows repeated ten times (streaming: peak memory should not grow with input).
Each rate is the median of --repeats full passes after one warm-up pass.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

from benchmarks import common

FEATURES = ["gc_content", "kmer:k=3"]

_BUILD_CHILD = r"""
import json, resource, sys, time
from gslm_keras.data.builder.builder import BuildConfig, build_dataset
from gslm_keras.data.readers import InputSpec
from gslm_keras.features import parse_specs
args = json.loads(sys.argv[1])
start = time.perf_counter()
info = build_dataset(BuildConfig(
    output_dir=args["output_dir"], train=(InputSpec(args["train"]),),
    computed_features=parse_specs(args["features"]), num_workers=args["workers"],
    progress_seconds=1e9))
seconds = time.perf_counter() - start
print(json.dumps({
    "seconds": seconds, "records": info.num_records("train"),
    "peak_rss_main_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    "peak_rss_worker_mib": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
}))
"""


def build_in_child(train_csv: str, output_dir: str, workers: int) -> dict:
  """Builds in a fresh process, so its peak RSS is the build's own."""
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
  args = json.dumps({"train": train_csv, "output_dir": output_dir,
                     "features": FEATURES, "workers": workers})
  result = subprocess.run([sys.executable, "-c", _BUILD_CHILD, args], env=env,
                          capture_output=True, text=True, check=False)
  if result.returncode != 0:
    raise RuntimeError(f"build failed:\n{result.stderr[-3000:]}")
  return json.loads(result.stdout.strip().splitlines()[-1])


def repeat_csv(source: str, target: str, times: int) -> None:
  with open(source) as handle:
    header, *rows = handle.read().splitlines()
  with open(target, "w") as handle:
    handle.write(header + "\n")
    for _ in range(times):
      handle.write("\n".join(rows) + "\n")


def naive_dataset(csv_path: str, batch_size: int, mean, std, seed: int):
  """The baseline: what a script without gslm_keras typically does."""
  import tensorflow as tf

  with open(csv_path) as handle:
    next(handle)
    rows = [line.rstrip("\n").split(",") for line in handle]
  length = len(rows[0][0])
  kmers = {"".join(p): i for i, p in enumerate(itertools.product("ACGT", repeat=3))}
  bases = np.array(list("ACGT"))

  def generate():
    order = np.random.default_rng(seed).permutation(len(rows))
    for index in order:
      sequence, label = rows[index]
      one_hot = (np.array(list(sequence))[:, None] == bases).astype(np.float32)
      counts = np.zeros(64, np.float32)
      for i in range(len(sequence) - 2):
        word = sequence[i:i + 3]
        if word in kmers:
          counts[kmers[word]] += 1
      gc = (sequence.count("G") + sequence.count("C")) / len(sequence)
      features = np.concatenate([[gc], counts / max(counts.sum(), 1)]).astype(np.float32)
      yield ({"sequence": one_hot, "features": (features - mean) / std}, int(label))

  signature = ({"sequence": tf.TensorSpec([length, 4], tf.float32),
                "features": tf.TensorSpec([65], tf.float32)},
               tf.TensorSpec([], tf.int32))
  dataset = tf.data.Dataset.from_generator(generate, output_signature=signature)
  return dataset.batch(batch_size).prefetch(tf.data.AUTOTUNE)


def examples_per_second(dataset, repeats: int) -> list[float]:
  rates = []
  for attempt in range(repeats + 1):
    start = time.perf_counter()
    n = 0
    for _, label in dataset:
      n += int(label.shape[0])
    rate = n / (time.perf_counter() - start)
    if attempt:  # The first pass warms up tracing and caches.
      rates.append(rate)
  return rates


def main():
  parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
  parser.add_argument("--data", default="../shared/data/gue/tf/0",
                      help="directory with train.csv (sequence,label)")
  parser.add_argument("--output", default="benchmarks/results/pipeline.json")
  parser.add_argument("--batch_size", type=int, default=256)
  parser.add_argument("--repeats", type=int, default=3)
  parser.add_argument("--scale", type=int, default=10,
                      help="input multiple for the build memory check")
  parser.add_argument("--workers", type=int, default=0, help="build workers, 0 = CPUs")
  args = parser.parse_args()
  train_csv = os.path.join(args.data, "train.csv")
  if not os.path.exists(train_csv):
    sys.exit(f"error: {train_csv} not found (pass --data=<dir with train.csv>)")
  os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

  from gslm_keras import make_dataset
  from gslm_keras.data.dataset_info import DatasetInfo

  results = common.header("benchmarks.pipeline")
  results.update({"data": train_csv, "computed_features": FEATURES,
                  "batch_size": args.batch_size, "repeats": args.repeats})
  with tempfile.TemporaryDirectory() as tmp:
    print("building the dataset (1x) ...", flush=True)
    build_1x = build_in_child(train_csv, os.path.join(tmp, "ds"), args.workers)
    big_csv = os.path.join(tmp, f"train_x{args.scale}.csv")
    repeat_csv(train_csv, big_csv, args.scale)
    print(f"building the dataset ({args.scale}x) ...", flush=True)
    build_big = build_in_child(big_csv, os.path.join(tmp, "ds_big"), args.workers)
    for entry in (build_1x, build_big):
      entry["sequences_per_second"] = entry["records"] / entry["seconds"]
    results["build"] = {"x1": build_1x, f"x{args.scale}": build_big,
                        "peak_rss_main_ratio": build_big["peak_rss_main_mib"]
                        / build_1x["peak_rss_main_mib"]}

    data_dir = os.path.join(tmp, "ds")
    info = DatasetInfo.load(data_dir)
    mean, std = info.normalization()
    print("timing make_dataset ...", flush=True)
    pipelines = {
        "make_dataset_train": make_dataset(data_dir, "train", "train", args.batch_size,
                                           seed=0),
        "make_dataset_train_augmented": make_dataset(
            data_dir, "train", "train", args.batch_size, seed=0, reverse_complement=True,
            max_shift=3),
        "make_dataset_eval": make_dataset(data_dir, "train", "eval", args.batch_size),
    }
    rates = {name: examples_per_second(ds, args.repeats) for name, ds in pipelines.items()}
    print("timing the naive baseline ...", flush=True)
    rates["naive_from_generator"] = examples_per_second(
        naive_dataset(train_csv, args.batch_size, mean, std, seed=0), args.repeats)
  results["examples_per_second"] = {
      name: {"median": common.median(values), "runs": values}
      for name, values in rates.items()}
  baseline = results["examples_per_second"]["naive_from_generator"]["median"]
  results["speedup_vs_naive"] = {
      name: entry["median"] / baseline
      for name, entry in results["examples_per_second"].items()
      if name != "naive_from_generator"}
  common.write_results(args.output, results, markdown(results, args.scale))
  print(markdown(results, args.scale))


def markdown(results: dict, scale: int) -> str:
  eps = results["examples_per_second"]
  speed = results["speedup_vs_naive"]
  build = results["build"]
  big = build[f"x{scale}"]
  lines = [
      "# Input pipeline and dataset build: GUE tf/0 train",
      "",
      common.machine_lines(results),
      f"Data: `{results['data']}`; computed features {', '.join(results['computed_features'])}; "
      f"batch {results['batch_size']}; medians of {results['repeats']} full passes after "
      "a warm-up pass.",
      "",
      "| pipeline | examples/s (median) | vs naive |",
      "|---|---:|---:|",
  ]
  for name, entry in eps.items():
    ratio = speed.get(name)
    lines.append(f"| {name} | {entry['median']:,.0f} | "
                 f"{'1.0x (baseline)' if ratio is None else f'{ratio:.1f}x'} |")
  lines += [
      "",
      "| build_dataset | records | seconds | sequences/s | peak RSS main (MiB) | "
      "peak RSS worker (MiB) |",
      "|---|---:|---:|---:|---:|---:|",
  ]
  for name, entry in (("1x", build["x1"]), (f"{scale}x", big)):
    lines.append(f"| {name} | {entry['records']:,} | {entry['seconds']:.1f} | "
                 f"{entry['sequences_per_second']:,.0f} | {entry['peak_rss_main_mib']:.0f} | "
                 f"{entry['peak_rss_worker_mib']:.0f} |")
  lines += ["", f"Peak RSS of the building process grows {build['peak_rss_main_ratio']:.2f}x "
            f"when the input grows {scale}x.", ""]
  return "\n".join(lines)


if __name__ == "__main__":
  common.run(main)
