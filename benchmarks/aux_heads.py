r"""Per-branch auxiliary heads on dev: does a loss of its own for each branch make the
dual-input model add its branches up?

  python -m benchmarks.aux_heads --data_root=../shared/data/gue \
      --tasks=mouse/2,mouse/3,mouse/0,prom/prom_300_tata --seeds=2 \
      --output=benchmarks/results/aux_heads.json --resume

Issue 22's sweep item "per-branch auxiliary heads and losses" (gradient blending,
Wang et al. 2020: a multimodal network learns the easier modality first and
under-trains the other; a loss per modality counters it). Measured before it was
built into the trainer; the training model is now the trainer's own
(`--aux_weight`, gslm_keras/training/aux_heads.py): the default model (binary
tasks) with two more outputs, a logistic unit over the sequence branch's pooled
positions and one over the feature branch, each trained with the main output's
loss times `--aux_weight`. Every arm here is trained by this file's own loop
(AdamW 2e-3, cosine with warm-up 50, 15 epochs, the kept epoch the best dev AUROC,
patience 4), so that the control (`pair`, weight 0) differs from `pair+aux` only
by the auxiliary losses; the sequence-only and features-only arms use the same loop.
The arm `isolated` (`--isolate_branches`, weight 1): each branch learns from its own
head only, the fusion and the wide path from the main output only (uni-modal
learning, Du et al. 2023, "On uni-modal feature learning in supervised multi-modal
learning"). Its first runs (2026-12-06, mouse/2, mouse/3, prom_300_tata, mouse/0)
were made with this file's own training step, which applied the two losses'
gradients to the two sets of weights; the trainer's option does the same with a
stop-gradient where the branches enter the fusion (the same gradients, tested).
Scores: MCC x100 on dev at the dev-chosen threshold (the sweep chooses on dev); test
scores are kept in the JSON and chose nothing. Results are written after every run.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time

import numpy as np

from benchmarks import common

ARMS = ("pair", "pair+aux", "isolated", "sequence", "features")
# (arm, baseline): the paired differences of dev MCC, seed by seed, in the report.
COMPARISONS = (("pair+aux", "pair"), ("isolated", "pair"), ("isolated", "pair+aux"),
               ("isolated", "sequence"))


def _probabilities(model, data_dir: str, split: str) -> tuple[np.ndarray, np.ndarray]:
  """(labels, P(positive)) of a split, in manifest order."""
  from gslm_keras import make_dataset

  labels, probs = [], []
  for x, y in make_dataset(data_dir, split, "eval", 256, verify="none"):
    labels.append(np.asarray(y).reshape(-1))
    probs.append(np.asarray(model(x, training=False)).reshape(-1))
  return np.concatenate(labels).astype(int), np.concatenate(probs)


def train_arm(data_dir: str, info, arm: str, seed: int, args) -> dict:
  """Trains one arm with this file's loop; its dev and test scores."""
  import keras
  import tensorflow as tf
  from sklearn import metrics as skm

  from benchmarks.task_runs import _binary_scores
  from gslm_keras import make_dataset
  from gslm_keras.evaluation.threshold import dev_threshold
  from gslm_keras.models import build_model, preset
  from gslm_keras.training import aux_heads

  keras.utils.set_random_seed(seed)
  ablation = {"pair": "both", "pair+aux": "both", "isolated": "both"}.get(arm, arm)
  config = preset("default").replace(ablation=ablation, rc_average=args.rc)
  mean, std = info.normalization()
  model = build_model(config, length=info.length_rule.length, n_features=info.n_features,
                      task="binary", n_outputs=1, feature_mean=mean, feature_std=std)
  weight = {"pair+aux": args.aux_weight, "isolated": 1.0}.get(arm, 0.0)
  trainer = aux_heads.training_model(model, "binary", weight, isolate=arm == "isolated")
  train = make_dataset(data_dir, "train", "train", 64, seed=seed, verify="none").map(
      lambda x, y: (x, tf.cast(y, tf.float32)[:, None]))
  # Counting the batches reads the split once before training. That pass also
  # advances the seeded shuffle, so the epochs see the orders that the stored
  # results saw (the manifest's count gives the same steps but other orders).
  steps = sum(1 for _ in train) * args.epochs
  schedule = keras.optimizers.schedules.CosineDecay(
      0.0, max(steps - 50, 1), warmup_target=2e-3, warmup_steps=50)
  trainer.compile(optimizer=keras.optimizers.AdamW(schedule, weight_decay=1e-4),
                  loss="binary_crossentropy")
  best, best_weights, waited = -1.0, None, 0
  for epochs in range(1, args.epochs + 1):
    trainer.fit(train, epochs=1, verbose=0)
    auroc = skm.roc_auc_score(*_probabilities(model, data_dir, "dev"))
    if auroc > best:
      best, best_weights, waited = auroc, model.get_weights(), 0
    else:
      waited += 1
      if waited >= 4:
        break
  model.set_weights(best_weights)
  dev, test = (_probabilities(model, data_dir, split) for split in ("dev", "test"))
  threshold = dev_threshold(*dev)
  return {"dev_mcc": _binary_scores(*dev, threshold)["mcc"],
          "test_mcc": _binary_scores(*test, threshold)["mcc"], "dev_auroc": float(best),
          "threshold": float(threshold), "epochs": epochs}


def main():
  parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
  parser.add_argument("--data_root", default="../shared/data/gue")
  parser.add_argument("--tasks", default="mouse/2")
  parser.add_argument("--arms", default=",".join(ARMS))
  parser.add_argument("--seeds", type=int, default=2)
  parser.add_argument("--epochs", type=int, default=15)
  parser.add_argument("--aux_weight", type=float, default=0.5)
  parser.add_argument("--output", default="benchmarks/results/aux_heads.json")
  parser.add_argument("--resume", action="store_true")
  parser.add_argument("--report_only", action="store_true")
  args = parser.parse_args()
  if args.report_only:
    with open(args.output) as handle:
      results = json.load(handle)
    common.write_results(args.output, results, markdown(results))
    print(markdown(results))
    return
  os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
  from benchmarks import task_runs
  from benchmarks.task_runs import RC_TASKS, build_task
  from gslm_keras.models import preset

  results = common.header("benchmarks.aux_heads")
  results.update(aux_weight=args.aux_weight, epochs=args.epochs, runs=[],
                 model=preset("default").to_json())
  if args.resume and os.path.exists(args.output):
    with open(args.output) as handle:
      previous = json.load(handle)
    task_runs.refuse_another_model(args.output, previous, results["model"], "--resume")
    for key in ("aux_weight", "epochs"):
      if previous.get(key) != results[key]:
        sys.exit(f"error: --resume: {args.output} was made with {key}={previous.get(key)}, "
                 f"now {results[key]}; give another --output or the same {key}")
    results["runs"] = previous["runs"]
    common.keep_earlier(results, previous)
    if "provenance" in previous:
      results["provenance"] = previous["provenance"]
  done = {(r["task"], r["arm"], r["seed"]) for r in results["runs"]}
  with tempfile.TemporaryDirectory() as tmp:
    for task in args.tasks.split(","):
      _, data_dir, info = build_task(args.data_root, task, tmp)
      args.rc = task.startswith(RC_TASKS)  # As the accuracy suite does.
      for seed in range(args.seeds):
        for arm in args.arms.split(","):
          if (task, arm, seed) in done:
            continue
          start = time.time()
          run = {"task": task, "arm": arm, "seed": seed,
                 **train_arm(data_dir, info, arm, seed, args),
                 "seconds": time.time() - start}
          results["runs"].append(run)
          print(json.dumps(run), flush=True)
          common.write_results(args.output, results, markdown(results))
  print(markdown(results))


def markdown(results: dict) -> str:
  groups: dict[tuple, list] = {}
  for run in results["runs"]:
    groups.setdefault((run["task"], run["arm"]), []).append(run)
  tasks = list(dict.fromkeys(task for task, _ in groups))
  lines = ["# Per-branch auxiliary heads on dev (issue 22's sweep)", "",
           common.machine_lines(results),
           f"Auxiliary weight {results['aux_weight']} (the arm `pair+aux`; `isolated`: "
           "weight 1, each branch trained by its own head only), up to "
           f"{results['epochs']} epochs. "
           "Every arm trained by `benchmarks/aux_heads.py`'s own loop (see its "
           "docstring), the default model (RC-averaged on the TF and mouse tasks). "
           "Dev MCC x100 at the dev-chosen threshold, mean ± sd over seeds (per seed); "
           "test scores are in the JSON and chose nothing."
           + (f" {results['provenance']}" if results.get("provenance") else ""), "",
           "| task | " + " | ".join(ARMS) + " | "
           + " | ".join(f"{a} - {b} (paired)" for a, b in COMPARISONS) + " |",
           "|---|" + "---:|" * (len(ARMS) + len(COMPARISONS))]
  for task in tasks:
    cells = []
    for arm in ARMS:
      runs = groups.get((task, arm), [])
      mccs = [100 * r["dev_mcc"] for r in runs]
      cells.append("-" if not mccs else f"{np.mean(mccs):.1f}" + (
          f" ± {np.std(mccs, ddof=1):.1f}" if len(mccs) > 1 else "") +
          f" ({', '.join(f'{m:.1f}' for m in mccs)})")
    for arm, baseline in COMPARISONS:
      base = {r["seed"]: r["dev_mcc"] for r in groups.get((task, baseline), [])}
      diffs = [100 * (r["dev_mcc"] - base[r["seed"]]) for r in groups.get((task, arm), [])
               if r["seed"] in base]
      cells.append(f"{np.mean(diffs):+.1f} ({sum(d > 0 for d in diffs)} of {len(diffs)})"
                   if diffs else "-")
    lines.append(f"| {task} | " + " | ".join(cells) + " |")
  return "\n".join(lines) + "\n"


if __name__ == "__main__":
  common.run(main)
