r"""Training throughput of the default model on GUE tf/0, against this machine.

  python -m benchmarks.training --data=../shared/data/gue/tf/0 \
      --output=benchmarks/results/training.json

Measures, in one run on one machine:
- this machine's dense float32 matmul FLOP/s (2048 x 2048, median of repeats);
- training sequences/s of the default model (models/default.flags) on the tf/0
  train split (32,378 x 101 bp; computed features GC and 3-mer spectrum), from the
  median step time after warm-up, and the FLOP/s that achieves (model FLOPs counted
  layer by layer, x3 for forward and backward);
- the input pipeline alone on the same stream: batches/s, and its share of a
  training step (the pipeline runs in parallel with the step, prefetched);
- the wall time until the dev AUROC reached its final best value, and the test
  AUROC / MCC of the selected model.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time

from benchmarks import common

FEATURES = ["gc_content", "kmer:k=3"]


def matmul_flops(size: int = 2048, repeats: int = 10) -> float:
  import tensorflow as tf

  a = tf.random.normal([size, size])
  b = tf.random.normal([size, size])
  matmul = tf.function(lambda x, y: tf.matmul(x, y))
  matmul(a, b).numpy()
  times = []
  for _ in range(repeats):
    start = time.perf_counter()
    matmul(a, b).numpy()
    times.append(time.perf_counter() - start)
  return 2 * size**3 / common.median(times)


def forward_flops(model, spec=None) -> int:
  """Floating-point operations of one forward pass of one example, counted by
  TensorFlow's profiler on the frozen inference graph. `spec`: the input's
  TensorSpec (batch 1); the model's named inputs when None."""
  import tensorflow as tf
  from tensorflow.python.framework.convert_to_constants import (
      convert_variables_to_constants_v2)

  if spec is None:
    spec = {name: tf.TensorSpec([1, *tensor.shape[1:]], tf.float32)
            for name, tensor in model.input.items()}
  concrete = tf.function(lambda inputs: model(inputs, training=False)
                         ).get_concrete_function(spec)
  graph_def = convert_variables_to_constants_v2(concrete).graph.as_graph_def()
  with tf.Graph().as_default() as graph:
    tf.graph_util.import_graph_def(graph_def, name="")
    profile = tf.compat.v1.profiler.profile(
        graph=graph, run_meta=tf.compat.v1.RunMetadata(), cmd="op",
        options=tf.compat.v1.profiler.ProfileOptionBuilder.float_operation())
  return int(profile.total_float_ops)


class StepTimer:
  """Keras callback recording the wall time of each training batch."""

  def __new__(cls):
    import keras

    class _Timer(keras.callbacks.Callback):
      def __init__(self):
        super().__init__()
        self.times = []

      def on_train_batch_begin(self, batch, logs=None):
        self._start = time.perf_counter()

      def on_train_batch_end(self, batch, logs=None):
        self.times.append(time.perf_counter() - self._start)

    return _Timer()


def main():
  parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
  parser.add_argument("--data", default="../shared/data/gue/tf/0")
  parser.add_argument("--output", default="benchmarks/results/training.json")
  parser.add_argument("--epochs", type=int, default=10)
  parser.add_argument("--timing_steps", type=int, default=200,
                      help="steps timed for the step rate, after 20 warm-up steps")
  args = parser.parse_args()
  for name in ("train.csv", "dev.csv", "test.csv"):
    if not os.path.exists(os.path.join(args.data, name)):
      sys.exit(f"error: {os.path.join(args.data, name)} not found")
  os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
  from gslm_keras.data.builder.builder import BuildConfig, build_dataset
  from gslm_keras.data.readers import InputSpec
  from gslm_keras.features import parse_specs
  from gslm_keras.models import preset
  from gslm_keras.training import recipe, session, trainer
  from gslm_keras.training.config import TrainConfig

  results = common.header("benchmarks.training")
  results["data"] = args.data
  print("matmul FLOP/s ...", flush=True)
  peak = matmul_flops()
  results["matmul_flops_per_second"] = peak
  with tempfile.TemporaryDirectory() as tmp:
    data_dir = os.path.join(tmp, "tf0")
    build_dataset(BuildConfig(
        output_dir=data_dir, train=(InputSpec(os.path.join(args.data, "train.csv")),),
        dev=(InputSpec(os.path.join(args.data, "dev.csv")),),
        test=(InputSpec(os.path.join(args.data, "test.csv")),),
        computed_features=parse_specs(FEATURES), progress_seconds=1e9))
    # The recipe of models/default.flags.
    config = TrainConfig.create(
        data_dir=data_dir, model_dir=os.path.join(tmp, "model"), model=preset("default"),
        epochs=args.epochs, batch_size=64, optimizer="adamw", learning_rate=2e-3,
        weight_decay=1e-4, lr_schedule="cosine", warmup_steps=50,
        early_stopping_patience=6, evaluate_splits=("dev", "test"), verbose=0)
    info = session.load_dataset(config)
    batch_size = config.data.batch_size

    # Step rate and pipeline share, on a separate short run of the same setup.
    plan = session.plan_for(config, info, 1)
    model = session.build_for_dataset(config, info, "float32")
    loss, metrics = recipe.compile_spec(info.task, 1)
    model.compile(optimizer=recipe.make_optimizer(config.optim, plan, "float32"),
                  loss=loss, metrics=metrics)
    stream, _ = session.train_datasets(config, info, batch_size)
    timer = StepTimer()
    print("timing training steps ...", flush=True)
    model.fit(stream, epochs=1, steps_per_epoch=20 + args.timing_steps, callbacks=[timer],
              verbose=0)
    step = common.median(timer.times[20:])
    print("timing the input pipeline ...", flush=True)
    iterator = iter(stream)
    for _ in range(20):
      next(iterator)
    start = time.perf_counter()
    for _ in range(args.timing_steps):
      next(iterator)
    pipeline_batch = (time.perf_counter() - start) / args.timing_steps
    flops = forward_flops(model)
    sequences_per_second = batch_size / step
    results["model"] = {"preset": "default", "parameters": model.count_params(),
                        "forward_flops_per_example": flops,
                        "batch_size": batch_size}
    results["training"] = {
        "median_step_seconds": step, "sequences_per_second": sequences_per_second,
        "achieved_flops_per_second": 3 * flops * sequences_per_second,
        "fraction_of_matmul_flops": 3 * flops * sequences_per_second / peak}
    results["input_pipeline"] = {
        "seconds_per_batch": pipeline_batch,
        "sequences_per_second": batch_size / pipeline_batch,
        "share_of_step_time": pipeline_batch / step,
        "times_faster_than_training": step / pipeline_batch}

    print(f"training {args.epochs} epochs ...", flush=True)
    start = time.time()
    result = trainer.train(config)
    total = time.time() - start
    with open(os.path.join(config.model_dir, "history.json")) as handle:
      history = json.load(handle)
    best = result.best["best"]
    reached = next(h for h in history if h.get("val_auroc") == best)
    results["run"] = {
        "epochs_run": history[-1]["epoch"], "steps": result.steps,
        "wall_seconds": total, "best_dev_auroc": best,
        "seconds_to_best_dev_auroc": reached["time"] - start,
        "epoch_of_best": reached["epoch"],
        "test_auroc": result.metrics["test"]["auroc"],
        "test_mcc": result.metrics["test"]["mcc"],
        "test_accuracy": result.metrics["test"]["accuracy"]}
  common.write_results(args.output, results, markdown(results))
  print(markdown(results))


def markdown(results: dict) -> str:
  t, p, r, m = (results["training"], results["input_pipeline"], results["run"],
                results["model"])
  return "\n".join([
      "# Training throughput: default model on GUE tf/0",
      "",
      common.machine_lines(results),
      f"Model: default preset, {m['parameters']:,} parameters, "
      f"{m['forward_flops_per_example'] / 1e6:.1f} MFLOP forward per example, batch "
      f"{m['batch_size']}, float32.",
      "",
      "| measure | value |",
      "|---|---:|",
      f"| dense matmul (2048^2, float32) | {results['matmul_flops_per_second'] / 1e9:.1f} "
      "GFLOP/s |",
      f"| training step (median) | {t['median_step_seconds'] * 1000:.1f} ms |",
      f"| training sequences/s | {t['sequences_per_second']:,.0f} |",
      f"| achieved training FLOP/s | {t['achieved_flops_per_second'] / 1e9:.2f} GFLOP/s "
      f"({100 * t['fraction_of_matmul_flops']:.0f}% of matmul) |",
      f"| input pipeline alone | {p['sequences_per_second']:,.0f} sequences/s "
      f"({p['times_faster_than_training']:.1f}x the training rate) |",
      f"| pipeline time per batch / step time | {100 * p['share_of_step_time']:.1f}% |",
      f"| time to best dev AUROC ({r['best_dev_auroc']:.4f}, epoch "
      f"{r['epoch_of_best']:.0f}) | {r['seconds_to_best_dev_auroc']:.0f} s |",
      f"| whole run ({r['epochs_run']:.0f} epochs, {r['steps']} steps, with evaluation) "
      f"| {r['wall_seconds']:.0f} s |",
      f"| test AUROC / MCC / accuracy | {r['test_auroc']:.4f} / {r['test_mcc']:.4f} / "
      f"{r['test_accuracy']:.4f} |",
      "",
      "The pipeline runs in parallel with the step (prefetched), so its share is the "
      "headroom it leaves, not time added to each step.",
      "",
  ])


if __name__ == "__main__":
  common.run(main)
