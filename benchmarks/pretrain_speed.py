r"""Pretraining throughput of the language model, against this machine's matmul.

  python -m benchmarks.pretrain_speed --output=benchmarks/results/pretrain_speed.json

Measures, in one run on one machine (run it on an idle machine):
- dense float32 matmul FLOP/s (2048 x 2048, median of repeats; the yardstick of
  `benchmarks.training`);
- training steps of the language model (models/pretrain.flags: default trunk,
  128-base windows) fed by the real pipeline (masking in tf.data) over the corpus
  of the bundled genomes, at batch 128 and 256 with the steps per call pretrain
  uses, and at batch 128 with one step per call (Keras' default): wall-clock time
  per step (median of repeated timed fits after a warm-up), bases per second, and
  the FLOP/s that achieves (forward FLOPs per window counted by TensorFlow's
  profiler on the frozen graph, x3 for forward and backward); and with XLA;
- where the FLOPs go: the forward FLOPs of each layer, and the time of a
  forward-and-backward step of each convolution alone at the same shapes, which
  shows what limits the fraction of matmul FLOP/s.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

from benchmarks import common
from benchmarks.training import forward_flops, matmul_flops

CORPUS_FLAGS = "datasets/genomes/lm_corpus.flags"


def lm_forward_flops(model, length: int) -> int:
  import tensorflow as tf

  return forward_flops(model, tf.TensorSpec([1, length, 4], tf.float32))


def _layer_shapes(config, length: int):
  """(name, layer, input channels, positions) of every Conv1D/Dense of the LM."""
  import keras

  pooled = -(-length // config.stem_pool)
  stem = config.stem_filters * len(config.stem_widths)
  out = [(f"stem_conv_w{w}", keras.layers.Conv1D(config.stem_filters, w, padding="same"),
          4, length) for w in config.stem_widths]
  out.append(("tower_project", keras.layers.Conv1D(config.tower_filters, 1), stem, pooled))
  for block in range(config.tower_blocks):
    out.append((f"tower_block_{block}/conv_1", keras.layers.Conv1D(
        config.tower_filters, config.tower_kernel, padding="same",
        dilation_rate=config.dilation_base**block), config.tower_filters, pooled))
    out.append((f"tower_block_{block}/conv_2", keras.layers.Conv1D(config.tower_filters, 1),
                config.tower_filters, pooled))
  out += [("lm_local", keras.layers.Conv1D(64, 5, padding="same"), 4, length),
          ("lm_hidden", keras.layers.Dense(64), config.tower_filters + 64, length),
          ("nucleotide_head", keras.layers.Dense(4), 64, length)]
  return out


def conv_profile(config, batch: int, length: int, repeats: int = 20) -> list[dict]:
  """Each Conv1D/Dense of the LM alone, forward and backward at its shapes: its
  FLOPs (x3 of the forward multiply-adds), median time and FLOP/s."""
  import tensorflow as tf

  rows = []
  for name, layer, channels, steps in _layer_shapes(config, length):
    x = tf.random.normal([batch, steps, channels])
    layer.build(x.shape)
    flops = 2 * batch * steps * int(tf.size(layer.kernel))

    @tf.function
    def step(x, layer=layer):
      with tf.GradientTape() as tape:
        tape.watch(x)
        y = layer(x)
        loss = tf.reduce_sum(y * y)
      return tape.gradient(loss, [x, *layer.trainable_weights])

    [g.numpy() for g in step(x)]
    times = []
    for _ in range(repeats):
      start = time.perf_counter()
      [g.numpy() for g in step(x)]
      times.append(time.perf_counter() - start)
    seconds = common.median(times)
    rows.append({"layer": name, "input": [batch, steps, channels],
                 "kernel": list(layer.kernel.shape), "train_flops": 3 * flops,
                 "seconds": seconds, "flops_per_second": 3 * flops / seconds})
  return rows


def _model_and_corpus(tmp: str):
  from gslm_keras.data.builder.builder import build_dataset
  from gslm_keras.data.builder.flags import config_from_flagfile

  corpus = os.path.join(tmp, "corpus")
  build_dataset(config_from_flagfile(CORPUS_FLAGS, output_dir=corpus,
                                     progress_seconds=1e9))
  return corpus


def main():
  parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
  parser.add_argument("--output", default="benchmarks/results/pretrain_speed.json")
  parser.add_argument("--timing_steps", type=int, default=48,
                      help="steps per timed fit (wall clock, a multiple of 8)")
  parser.add_argument("--repeats", type=int, default=7, help="timed fits per setting")
  parser.add_argument("--batches", default="128,256")
  args = parser.parse_args()
  import keras

  from gslm_keras.data.corpus_pipeline import make_lm_dataset
  from gslm_keras.models import preset
  from gslm_keras.models.language import MaskedAccuracy, build_language_model, lm_loss
  from gslm_keras.training.pretrain import STEPS_PER_EXECUTION

  results = common.header("benchmarks.pretrain_speed")
  print("matmul FLOP/s ...", flush=True)
  peaks = [matmul_flops()]
  peak = peaks[0]
  length = 128
  runs = []
  with tempfile.TemporaryDirectory() as tmp:
    corpus = _model_and_corpus(tmp)
    settings = [(int(b), STEPS_PER_EXECUTION, False) for b in args.batches.split(",")]
    settings += [(128, 1, False), (128, STEPS_PER_EXECUTION, True)]
    prepared = []
    for batch, per_call, xla in settings:
      model = build_language_model(preset("default"))
      model.compile(optimizer=keras.optimizers.AdamW(2e-3, weight_decay=1e-4,
                                                      clipnorm=1.0),
                    loss=lm_loss, metrics=[MaskedAccuracy()],
                    steps_per_execution=per_call, jit_compile=xla)
      stream = make_lm_dataset(corpus, "train", "train", batch, seed=0, repeat=True,
                               reverse_complement=True)
      model.fit(stream, epochs=1, steps_per_epoch=16, verbose=0)  # Warm-up, tracing.
      prepared.append((model, stream, []))
    # The settings take turns, so that the machine's slow and fast spells (a shared
    # VM's step times swing by 1.5x) fall on all of them alike.
    for repeat in range(args.repeats):
      print(f"timing round {repeat + 1} of {args.repeats} ...", flush=True)
      for model, stream, walls in prepared:
        start = time.perf_counter()
        model.fit(stream, epochs=1, steps_per_epoch=args.timing_steps, verbose=0)
        walls.append((time.perf_counter() - start) / args.timing_steps)
    for (batch, per_call, xla), (model, _, walls) in zip(settings, prepared):
      step = common.median(walls)
      flops = lm_forward_flops(model, length)
      windows = batch / step
      runs.append({"batch_size": batch, "steps_per_execution": per_call, "xla": xla,
                   "median_step_seconds": step,
                   "step_seconds_min_max": [min(walls), max(walls)],
                   "bases_per_second": windows * length,
                   "forward_flops_per_window": flops,
                   "achieved_flops_per_second": 3 * flops * windows,
                   "fraction_of_matmul_flops": 3 * flops * windows / peak})
    peaks.append(matmul_flops())  # Before and after: the machine's spread.
    peak = max(peaks)
    results["matmul_flops_per_second"] = peak
    results["matmul_flops_before_after"] = peaks
    for run in runs:
      run["fraction_of_matmul_flops"] = run["achieved_flops_per_second"] / peak
    results["parameters"] = model.count_params()
    results["window_length"] = length
    results["training"] = runs
    print("profiling layers ...", flush=True)
    results["layers"] = conv_profile(preset("default"), 128, length)
    total = sum(row["seconds"] for row in results["layers"])
    results["layers_total_seconds"] = total
  common.write_results(args.output, results, markdown(results))
  print(markdown(results))


def markdown(results: dict) -> str:
  peak = results["matmul_flops_per_second"]
  lines = ["# Pretraining throughput", "",
           f"{results['date']}, `{results['command']}`, {results['machine']['cpu']} "
           f"({results['machine']['cores']} cores).", "",
           f"Dense float32 matmul (2048^2): {peak / 1e9:.1f} GFLOP/s (the better of "
           "before and after: "
           f"{', '.join(f'{p / 1e9:.1f}' for p in results['matmul_flops_before_after'])}"
           "). Language model: "
           f"default trunk, {results['parameters']:,} parameters, "
           f"{results['window_length']}-base windows, masking in tf.data.", "",
           "| batch | steps per call | XLA | step, wall clock (median, min-max) | "
           "bases/s | achieved GFLOP/s | of matmul |", "|---|---|---|---|---|---|---|"]
  for run in results["training"]:
    lo, hi = run["step_seconds_min_max"]
    lines.append(f"| {run['batch_size']} | {run['steps_per_execution']} | "
                 f"{'yes' if run['xla'] else 'no'} | "
                 f"{run['median_step_seconds'] * 1000:.0f} ms "
                 f"({lo * 1000:.0f}-{hi * 1000:.0f}) | {run['bases_per_second']:,.0f} | "
                 f"{run['achieved_flops_per_second'] / 1e9:.2f} | "
                 f"{100 * run['fraction_of_matmul_flops']:.0f}% |")
  lines += ["", "Each layer alone, forward and backward (batch 128; the convolutions "
            f"and dense layers alone take {results['layers_total_seconds'] * 1000:.0f} "
            "ms of the step's time):", "",
            "| layer | input | GFLOP per step | ms | GFLOP/s | of matmul |",
            "|---|---|---|---|---|---|"]
  for row in results["layers"]:
    lines.append(f"| {row['layer']} | {row['input']} | {row['train_flops'] / 1e9:.3f} | "
                 f"{row['seconds'] * 1000:.1f} | {row['flops_per_second'] / 1e9:.1f} | "
                 f"{100 * row['flops_per_second'] / peak:.0f}% |")
  return "\n".join(lines) + "\n"


if __name__ == "__main__":
  common.run(main)
