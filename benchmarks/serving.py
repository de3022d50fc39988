r"""Serving speed: the raw-DNA signature against the one-hot signature, same export.

  python -m gslm_keras.train --flagfile=models/quickstart.flags   # the model
  python -m benchmarks.serving --model_dir=build/models/quickstart \
      --output=benchmarks/results/serving.json

Exports the model, loads the SavedModel as TF Serving would, and measures in one
run: predictions/s through `serving_default` (raw strings: window, one-hot and
computed features in the graph) and through `predict_onehot` (inputs encoded
beforehand, outside the timing), at batch 256; and latency p50 / p99 of both at
batch 1 and batch 64. The difference is the cost of in-graph encoding.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time

import numpy as np

from benchmarks import common


def _timed(fn, repeats: int) -> list[float]:
  times = []
  for _ in range(repeats):
    start = time.perf_counter()
    fn()
    times.append(time.perf_counter() - start)
  return times


def main():
  parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
  parser.add_argument("--model_dir", default="build/models/quickstart")
  parser.add_argument("--output", default="benchmarks/results/serving.json")
  parser.add_argument("--throughput_batch", type=int, default=256)
  parser.add_argument("--repeats", type=int, default=30)
  parser.add_argument("--latency_calls", type=int, default=300)
  parser.add_argument("--note", default="",
                      help="context worth recording (e.g. other load on the machine)")
  args = parser.parse_args()
  if not os.path.exists(os.path.join(args.model_dir, "model.keras")):
    sys.exit(f"error: {args.model_dir} holds no trained model; run the quickstart "
             "(python -m gslm_keras.train --flagfile=models/quickstart.flags) first")
  os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
  import tensorflow as tf

  from gslm_keras.data.dataset_info import DatasetInfo
  from gslm_keras.encoding.schema import parse_spec
  from gslm_keras.inference.model import LoadedModel
  from gslm_keras.run_dir import data_dir_of
  from gslm_keras.serving.export import export_model

  results = common.header("benchmarks.serving")
  results["note"] = args.note
  model = LoadedModel(args.model_dir)
  info, encoder = model.info, model.encoder
  # Real sequences: the test split of the model's dataset.
  records = tf.data.TFRecordDataset(
      DatasetInfo.load(data_dir_of(model.config)).shard_paths("test"), info.compression)
  sequences = [tf.io.parse_single_example(r, parse_spec())["sequence"].numpy().decode()
               for r in records.take(args.throughput_batch)]
  with tempfile.TemporaryDirectory() as tmp:
    path = export_model(args.model_dir, tmp, "bench", 1)
    loaded = tf.saved_model.load(path)
    raw = loaded.signatures["serving_default"]
    onehot = loaded.signatures["predict_onehot"]

    def inputs(batch):
      strings = tf.constant(sequences[:batch])
      encoded = encoder(strings)
      return ({"sequence": strings},
              {"sequence": encoded["sequence"], "features": encoded["features"]})

    measures = {}
    big_raw, big_onehot = inputs(args.throughput_batch)
    for name, fn, kwargs in (("raw_strings", raw, big_raw),
                             ("one_hot", onehot, big_onehot)):
      fn(**kwargs)  # warm-up
      times = _timed(lambda: fn(**kwargs)["probabilities"].numpy(), args.repeats)
      measures[name] = {"batch": args.throughput_batch,
                        "predictions_per_second": args.throughput_batch
                        / common.median(times), "runs": len(times)}
    latency = {}
    for batch in (1, 64):
      raw_in, onehot_in = inputs(batch)
      for name, fn, kwargs in (("raw_strings", raw, raw_in), ("one_hot", onehot, onehot_in)):
        fn(**kwargs)
        times = np.array(_timed(lambda: fn(**kwargs)["probabilities"].numpy(),
                                args.latency_calls)) * 1000
        latency[f"{name}_batch{batch}"] = {"p50_ms": float(np.percentile(times, 50)),
                                           "p99_ms": float(np.percentile(times, 99))}
  results.update({
      "model_dir": args.model_dir, "window": info.length_rule.length,
      "computed_features": [str(f) for f in info.computed_features],
      "throughput": measures,
      "encoding_overhead": 1 - measures["raw_strings"]["predictions_per_second"]
      / measures["one_hot"]["predictions_per_second"],
      "latency": latency})
  common.write_results(args.output, results, markdown(results))
  print(markdown(results))


def markdown(results: dict) -> str:
  t, lat = results["throughput"], results["latency"]
  lines = [
      "# Serving: raw-DNA signature vs one-hot signature (same SavedModel)", "",
      common.machine_lines(results),
      f"Model: `{results['model_dir']}` ({results['window']} bp windows; computed "
      f"features {', '.join(results['computed_features'])}).", "",
      "| signature | predictions/s (batch "
      f"{t['raw_strings']['batch']}, median of {t['raw_strings']['runs']}) |",
      "|---|---:|",
      f"| serving_default (raw strings) | {t['raw_strings']['predictions_per_second']:,.0f} |",
      f"| predict_onehot (encoded beforehand) | "
      f"{t['one_hot']['predictions_per_second']:,.0f} |", "",
      f"In-graph encoding and features cost {100 * results['encoding_overhead']:.1f}% of "
      "the throughput.", "",
      "| latency | p50 ms | p99 ms |", "|---|---:|---:|"]
  for key, value in lat.items():
    lines.append(f"| {key.replace('_', ' ')} | {value['p50_ms']:.2f} | "
                 f"{value['p99_ms']:.2f} |")
  return "\n".join(lines) + "\n"


if __name__ == "__main__":
  common.run(main)
