r"""Label efficiency: fine-tuned against scratch on 1%, 10%, 100% of the train labels.

  python -m benchmarks.label_efficiency --data_root=../shared/data/gue \
      --tasks=mouse/0,tf/1,prom/prom_core_notata --fractions=0.01,0.1,1 \
      --inits=scratch,gslm-lm-multispecies \
      --reuse=benchmarks/results/gue_transfer.json,benchmarks/results/gue.json \
      --reuse_only --output=benchmarks/results/label_efficiency.json --resume

Each task folder holds train.csv, dev.csv and test.csv (sequence,label[,id]).
For a fraction below 1, seed s trains on a stratified subset of train.csv drawn
with seed s (each class keeps the fraction, at least 2 rows); every init sees the
same subset for the same seed, so the comparison is paired. Dev and test are never
subsampled. The dataset is built from the subset only (its normalisation
statistics too), as a user holding only those labels would. The settings are those
of benchmarks.accuracy (up to 15 epochs, patience 4, model selection and threshold
on dev). `--reuse` takes the 100% runs from a `benchmarks.accuracy --init_from
--compare_scratch` result made with the same settings instead of training them
again (`--reuse_only`: never train a 100% run). Writes JSON, markdown and a
learning-curve plot (PNG) beside --output.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import json
import os
import sys
import tempfile
import time

import numpy as np

from benchmarks import common, task_runs


def subset(rows: list[dict], fraction: float, seed: int) -> list[dict]:
  """A stratified subset: each label keeps round(fraction * n) rows (at least 2),
  drawn with `seed`; the original order is kept."""
  if fraction >= 1:
    return rows
  rng = np.random.default_rng(seed)
  keep = []
  for label in sorted({r["label"] for r in rows}):
    members = [i for i, r in enumerate(rows) if r["label"] == label]
    n = max(2, round(fraction * len(members)))
    keep += rng.choice(members, size=min(n, len(members)), replace=False).tolist()
  return [rows[i] for i in sorted(keep)]


def _read(path: str) -> list[dict]:
  with open(path, newline="") as handle:
    return list(csv.DictReader(handle))


def _write(path: str, rows: list[dict]) -> None:
  with open(path, "w", newline="") as handle:
    writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)


def init_name(init: str) -> str:
  return "scratch" if init == "scratch" else os.path.basename(os.path.normpath(init))


def reused_runs(paths: str | None, settings: task_runs.Settings) -> dict:
  """{(task, init, seed): run} of the 100% runs in earlier benchmarks.accuracy
  results with the same settings (comma-separated; the first holding a run wins):
  a compare-scratch result gives both inits, a plain one its `both` runs, which
  were trained from scratch."""
  out = {}
  for path in reversed([p for p in (paths or "").split(",") if p]):
    if not os.path.exists(path):
      sys.exit(f"error: --reuse={path}: no such file")
    with open(path) as handle:
      earlier = json.load(handle)
    theirs = earlier["settings"]
    ours = dataclasses.asdict(settings)
    keys = ("preset", "epochs", "patience", "batch_size", "learning_rate", "rc_tasks")
    if any(json.loads(json.dumps(ours[k])) != theirs.get(k) for k in keys):
      sys.exit(f"error: --reuse={path} was made with other settings; rerun without it")
    task_runs.refuse_another_model(path, earlier, task_runs.model_of(settings).to_json(),
                                   f"--reuse={path}", theirs.get("preset", "default"),
                                   theirs.get("design", ""))
    source = theirs.get("init_from") or "scratch"
    for task, entry in {**earlier.get("partial", {}),
                        **{k: v["runs"] for k, v in earlier["tasks"].items()}}.items():
      for run in entry:
        if run["ablation"] in ("both", "scratch"):
          init = source if run["ablation"] == "both" else "scratch"
          out[task, init_name(init), run["seed"]] = {
              **run, "reused_from": f"{path} ({earlier['date'][:10]})"}
  return out


def run_one(task_dir: str, task: str, fraction: float, seed: int, init: str,
            settings: task_runs.Settings, tmp: str) -> dict:
  folder = os.path.join(tmp, f"{task.replace('/', '_')}_{fraction}_{seed}")
  data_dir = os.path.join(folder, "data")
  train_rows = _read(os.path.join(task_dir, "train.csv"))
  chosen = subset(train_rows, fraction, seed)
  if not os.path.exists(data_dir):
    os.makedirs(folder, exist_ok=True)
    _write(os.path.join(folder, "train.csv"), chosen)
    task_runs.build(data_dir, settings.workers, train=[os.path.join(folder, "train.csv")],
                   dev=[os.path.join(task_dir, "dev.csv")],
                   test=[os.path.join(task_dir, "test.csv")])
  reverse_complement = any(task.startswith(p) for p in settings.rc_tasks)
  run_settings = dataclasses.replace(settings,
                                     init_from=None if init == "scratch" else init)
  run = task_runs.train_one(data_dir, os.path.join(folder, init_name(init)), run_settings,
                           "scratch" if init == "scratch" else "both", seed,
                           reverse_complement)
  run.update({"fraction": fraction, "n_train": len(chosen), "init": init_name(init)})
  return run


def summary(runs: list[dict]) -> dict:
  """{task: {fraction: {init: (mean, sd, n, mean train rows)}}}."""
  out: dict = {}
  for run in runs:
    out.setdefault(run["task"], {}).setdefault(run["fraction"], {}).setdefault(
        run["init"], []).append(run)
  for task in out.values():
    for fraction, inits in task.items():
      for init, chosen in inits.items():
        values = [r["mcc"] for r in chosen]
        inits[init] = (float(np.mean(values)),
                       float(np.std(values, ddof=1)) if len(values) > 1 else 0.0,
                       len(values), float(np.mean([r["n_train"] for r in chosen])))
  return out


def _paired_gain(runs, task, fraction, init) -> str:
  by = {(r["init"], r["seed"]): r["mcc"] for r in runs
        if r["task"] == task and r["fraction"] == fraction}
  diffs = [by[init, s] - by["scratch", s] for (i, s) in by if i == init
           and ("scratch", s) in by]
  if not diffs:
    return "-"
  sd = np.std(diffs, ddof=1) * 100 if len(diffs) > 1 else 0.0
  return f"{np.mean(diffs) * 100:+.1f} ± {sd:.1f}"


def markdown(results: dict) -> str:
  runs = results["runs"]
  table = summary(runs)
  inits = results["inits"]
  lines = [f"# Label efficiency{'' if results.get('complete') else ' (in progress)'}", "",
           common.machine_lines(results),
           "MCC x100 on the unchanged test split, mean ± sd over seeds (each seed its own "
           "stratified subset of the train labels, shared by every init); gain: paired "
           "difference against scratch, same seed and subset.", ""]
  pretrained = [i for i in inits if i != "scratch"]
  for task, fractions in table.items():
    lines += [f"## {task}", "", "| fraction | train rows | " + " | ".join(inits) + " | "
              + " | ".join(f"gain {i}" for i in pretrained) + " |",
              "|---|---|" + "---|" * (len(inits) + len(pretrained))]
    for fraction in sorted(fractions):
      cells = fractions[fraction]
      rows = max(c[3] for c in cells.values())
      lines.append(
          f"| {fraction:g} | {rows:.0f} | " + " | ".join(
              f"{cells[i][0] * 100:.1f} ± {cells[i][1] * 100:.1f} (n={cells[i][2]})"
              if i in cells else "-" for i in inits) + " | "
          + " | ".join(_paired_gain(runs, task, fraction, i) for i in pretrained) + " |")
    reused = sorted({f"{r['init']} from {r['reused_from']}" for r in runs
                     if r["task"] == task and r.get("reused_from")})
    if reused:
      lines += ["", "100% runs reused (same settings, earlier runs): " + "; ".join(reused)
                + "."]
    full = fractions.get(1.0, {}).get("scratch")
    for init in pretrained:
      tenth = fractions.get(0.1, {}).get(init)
      if full and tenth:
        verdict = "met" if tenth[0] >= full[0] else "not met"
        lines += ["", f"Goal ({init} at 10% of the labels >= scratch at 100%): "
                  f"{tenth[0] * 100:.1f} against {full[0] * 100:.1f}: {verdict}."]
    lines.append("")
  return "\n".join(lines)


def plot(results: dict, path: str) -> None:
  import matplotlib

  matplotlib.use("Agg")
  import matplotlib.pyplot as plt

  table = summary(results["runs"])
  if not table:
    return
  fig, axes = plt.subplots(1, len(table), figsize=(4.2 * len(table), 3.4), squeeze=False)
  for ax, (task, fractions) in zip(axes[0], table.items()):
    for init in results["inits"]:
      points = sorted((f, c[init]) for f, c in fractions.items() if init in c)
      if points:
        ax.errorbar([p[1][3] for p in points], [p[1][0] * 100 for p in points],
                    yerr=[p[1][1] * 100 for p in points], marker="o", capsize=3,
                    label=init)
    ax.set_xscale("log")
    ax.set_title(task)
    ax.set_xlabel("train labels")
    ax.set_ylabel("test MCC x100")
    ax.grid(alpha=0.3)
  axes[0][0].legend(fontsize=8)
  fig.tight_layout()
  fig.savefig(path, dpi=110)
  plt.close(fig)


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
  parser.add_argument("--data_root", required=True)
  parser.add_argument("--tasks", required=True, help="comma-separated task folders")
  parser.add_argument("--fractions", default="0.01,0.1,1")
  parser.add_argument("--inits", default="scratch,gslm-lm-multispecies",
                      help="scratch, and language models, trained models or presets")
  parser.add_argument("--seeds", type=int, default=3)
  parser.add_argument("--epochs", type=int, default=15)
  parser.add_argument("--patience", type=int, default=4)
  parser.add_argument("--rc_tasks", default=",".join(task_runs.RC_TASKS),
                      help="task prefixes trained with reverse-complement augmentation")
  parser.add_argument("--reuse", help="benchmarks.accuracy results (comma-separated) to "
                      "take 100%% runs from; the first holding a run wins")
  parser.add_argument("--reuse_only", action="store_true",
                      help="never train a 100%% run: take those --reuse has, skip the rest")
  parser.add_argument("--output", required=True)
  parser.add_argument("--resume", action="store_true")
  args = parser.parse_args(argv)
  tasks = task_runs.find_tasks(args.data_root, args.tasks)
  inits = [i.strip() for i in args.inits.split(",") if i.strip()]
  settings = task_runs.Settings(
      preset="default", epochs=args.epochs, patience=args.patience, batch_size=64,
      learning_rate=2e-3, seeds=args.seeds, ablation_seeds=0,
      rc_tasks=tuple(p for p in args.rc_tasks.split(",") if p), ablations=("both",), workers=0)
  results = common.header("benchmarks.label_efficiency")
  results.update({"settings": dataclasses.asdict(settings), "inits": [init_name(i) for i in inits],
                  "fractions": [float(f) for f in args.fractions.split(",")],
                  "reuse": args.reuse, "runs": [], "complete": False,
                  "model": task_runs.model_of(settings).to_json()})
  if args.resume and os.path.exists(args.output):
    with open(args.output) as handle:
      previous = json.load(handle)
    task_runs.refuse_another_model(args.output, previous, results["model"], "--resume")
    # Reused runs are taken again from --reuse (it may hold newer ones now).
    results["runs"] = [r for r in previous["runs"] if not r.get("reused_from")]
    common.keep_earlier(results, previous)
  reused = reused_runs(args.reuse, settings)
  done = {(r["task"], r["fraction"], r["init"], r["seed"]) for r in results["runs"]}
  png = os.path.splitext(args.output)[0] + ".png"
  start = time.time()
  with tempfile.TemporaryDirectory() as tmp:
    for task in tasks:
      for fraction in sorted(results["fractions"]):
        for seed in range(args.seeds):
          for init in inits:
            key = (task, fraction, init_name(init), seed)
            if key in done:
              continue
            if (fraction >= 1 and args.reuse_only
                and (task, init_name(init), seed) not in reused):
              continue  # Left to the accuracy run that --reuse names.
            if fraction >= 1 and (task, init_name(init), seed) in reused:
              run = {**reused[task, init_name(init), seed], "fraction": fraction,
                     "init": init_name(init)}
              run["n_train"] = len(_read(os.path.join(args.data_root, task, "train.csv")))
            else:
              print(f"{task} {fraction:g} seed {seed} {init_name(init)}", flush=True)
              run = run_one(os.path.join(args.data_root, task), task, fraction, seed,
                            init, settings, tmp)
            run["task"] = task
            results["runs"].append(run)
            results["seconds_this_invocation"] = time.time() - start
            common.write_results(args.output, results, markdown(results))
            plot(results, png)
  results["complete"] = True
  common.write_results(args.output, results, markdown(results))
  plot(results, png)
  print(markdown(results))


if __name__ == "__main__":
  common.run(main)
