r"""Training epoch time of model presets side by side, on one dataset, in one run.

  python -m benchmarks.epoch_time --data=../shared/data/gue/tf/0 \
      --presets=relu,default,global --repeats=3 \
      --output=benchmarks/results/epoch_time.json

A name is a preset of `gslm_keras.models` or a design of `benchmarks.fusion`
(`relu`: the flatten design, the default until 2026-12-05; issue 22 asks the new
default's epoch to take at most 1.3 times its).

For each repeat, each preset in turn (interleaved, so that a slower machine
moment falls on both): a fresh model, one full epoch over the train split (the
recipe of `models/default.flags`: batch 64, AdamW, cosine schedule) timed from the
first step to the last, without evaluation. Reports each preset's median epoch
and spread, and the ratio of each median to the first preset's.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import tempfile
import time

from benchmarks import common
from benchmarks.task_runs import COMPUTED


def epoch_seconds(config, info) -> tuple[float, float]:
  """Wall seconds of (one epoch of a freshly built model, compiled, then timed; one
  `--recalibrate_norms` recalibration of it, which runs before each dev evaluation,
  the training sample read before the clock starts, as training reads it once)."""
  import keras

  from gslm_keras.training import recipe, session

  keras.backend.clear_session()
  recipe.set_seeds(0, False)
  plan = session.plan_for(config, info, 1)
  model = session.build_for_dataset(config, info, "float32")
  loss, metrics = recipe.compile_spec(info.task, 1)
  model.compile(optimizer=recipe.make_optimizer(config.optim, plan, "float32"),
                loss=loss, metrics=metrics)
  stream, _ = session.train_datasets(config, info, config.data.batch_size)
  steps = math.ceil(info.num_records("train") / config.data.batch_size)
  model.fit(stream, epochs=1, steps_per_epoch=5, verbose=0)  # Traces the step.
  start = time.perf_counter()
  model.fit(stream, epochs=1, steps_per_epoch=steps, verbose=0)
  epoch = time.perf_counter() - start
  from gslm_keras.training import batch_norm

  sample = batch_norm.training_sample(config.data.data_dir, info, 0)
  start = time.perf_counter()
  batch_norm.recalibrate(model, sample)
  return epoch, time.perf_counter() - start


def main():
  parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
  parser.add_argument("--data", default="../shared/data/gue/tf/0")
  parser.add_argument("--presets", default="relu,default,global",
                      help="presets of gslm_keras.models or designs of benchmarks.fusion")
  parser.add_argument("--repeats", type=int, default=3)
  parser.add_argument("--output", default="benchmarks/results/epoch_time.json")
  args = parser.parse_args()
  for name in ("train.csv", "dev.csv", "test.csv"):
    if not os.path.exists(os.path.join(args.data, name)):
      sys.exit(f"error: {os.path.join(args.data, name)} not found")
  os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
  from benchmarks.task_runs import build
  from gslm_keras.data.dataset_info import DatasetInfo
  from benchmarks.fusion import VARIANTS, design
  from gslm_keras.models import preset
  from gslm_keras.training.config import TrainConfig

  names = args.presets.split(",")
  models = {name: design(name) if name in VARIANTS else preset(name) for name in names}
  results = common.header("benchmarks.epoch_time")
  results.update({"data": args.data, "features": COMPUTED,
                  "models": {n: m.to_json() for n, m in models.items()}, "seconds": {},
                  "recalibration_seconds": {}})
  with tempfile.TemporaryDirectory() as tmp:
    data_dir = os.path.join(tmp, "data")
    build(data_dir, 0, train=[os.path.join(args.data, "train.csv")],
          dev=[os.path.join(args.data, "dev.csv")],
          test=[os.path.join(args.data, "test.csv")])
    info = DatasetInfo.load(data_dir, verify="none")
    results["train_records"] = info.num_records("train")
    for repeat in range(args.repeats):
      for name in names:
        config = TrainConfig.create(
            data_dir=data_dir, model_dir=os.path.join(tmp, "model"), model=models[name],
            epochs=1, batch_size=64, optimizer="adamw", learning_rate=2e-3,
            weight_decay=1e-4, lr_schedule="cosine", warmup_steps=50, verbose=0)
        seconds, recalibration = epoch_seconds(config, info)
        results["seconds"].setdefault(name, []).append(seconds)
        results["recalibration_seconds"].setdefault(name, []).append(recalibration)
        print(f"repeat {repeat}: {name} {seconds:.1f} s, recalibration "
              f"{recalibration:.1f} s", flush=True)
  common.write_results(args.output, results, markdown(results))
  print(markdown(results))


def markdown(results: dict) -> str:
  names = list(results["seconds"])
  first = common.median(results["seconds"][names[0]])
  lines = ["# Training epoch time, presets side by side", "", common.machine_lines(results),
           f"One epoch over the train split of `{results['data']}` "
           f"({results['train_records']:,} records, batch 64, float32, features of the "
           "accuracy suite), after 5 traced steps, no evaluation. Presets interleaved, "
           f"{len(results['seconds'][names[0]])} repeats each.", "",
           "A name is a preset, or a design of `benchmarks/fusion.py` (`relu`: the "
           "flatten design, the default until 2026-12-05).", "",
           f"| preset | epoch seconds (per repeat) | median | ratio to `{names[0]}` "
           "| one `--recalibrate_norms` recalibration: median seconds | its share of "
           "an epoch |", "|---|---|---:|---:|---:|---:|"]
  recalibrations = results.get("recalibration_seconds", {})  # Since 2026-12-07.
  for name in names:
    values = results["seconds"][name]
    median = common.median(values)
    cells = ["-", "-"]
    if name in recalibrations:
      recalibration = common.median(recalibrations[name])
      cells = [f"{recalibration:.1f}", f"{recalibration / median:.2f}"]
    lines.append(f"| {name} | {', '.join(f'{v:.1f}' for v in values)} | {median:.1f} | "
                 f"{median / first:.2f} | " + " | ".join(cells) + " |")
  return "\n".join(lines) + "\n"


if __name__ == "__main__":
  common.run(main)
