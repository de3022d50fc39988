r"""Which corpus to pretrain on: fine-tuning from language models of different
corpora, per task and seed, against the same model trained from scratch.

  python -m benchmarks.corpus_transfer \
      --runs=multi-species=benchmarks/results/gue_transfer.json,human-only=benchmarks/results/gue_transfer_human.json \
      --tasks=mouse/0,mouse/3,mouse/2 --output=benchmarks/results/corpus_transfer.json

Each --runs file is a `benchmarks.accuracy --init_from=<language model>` result;
the scratch runs are those of the file run with --compare_scratch (the same seeds).
The files must share their settings (all but the source) and library versions, so
that a seed's scratch run is the one the other file would have trained (training
on CPU is deterministic for a seed: tests/test_training.py). Gains are paired by
seed: mean ± sd of the per-seed difference. No training here.
"""

from __future__ import annotations

import argparse
import json
import sys

import numpy as np

from benchmarks import common, transfer

_OWN = ("init_from", "compare_scratch")  # The settings the runs may differ in.


def _mcc(runs: list[dict], ablation: str) -> dict[int, float]:
  return {r["seed"]: r["mcc"] for r in runs if r["ablation"] == ablation}


def _paired(a: dict[int, float], b: dict[int, float]) -> dict | None:
  """`transfer.paired_gain`, the gain in MCC points (x100)."""
  p = transfer.paired_gain(a, b)
  return p and {**p, "gain": p["gain"] * 100, "gain_sd": p["gain_sd"] * 100}


def compare(named: dict[str, dict], tasks: list[str]) -> dict:
  """Per task: each source's fine-tuned MCC per seed, scratch, and paired gains."""
  settings = {name: {k: v for k, v in r["settings"].items() if k not in _OWN}
              for name, r in named.items()}
  first = next(iter(named))
  for name, r in named.items():
    if settings[name] != settings[first]:
      raise ValueError(f"{name} was run with other settings than {first}: "
                       f"{settings[name]} against {settings[first]}")
    if r["versions"] != named[first]["versions"]:
      raise ValueError(f"{name} was run with other versions than {first}: "
                       f"{r['versions']} against {named[first]['versions']}")
  scratch_from = [n for n, r in named.items() if r["settings"].get("compare_scratch")]
  if not scratch_from:
    raise ValueError("no --runs file has scratch runs (benchmarks.accuracy --compare_scratch)")
  out = {}
  for task in tasks:
    missing = [n for n, r in named.items() if task not in r["tasks"]]
    if missing:
      raise ValueError(f"task {task} is not finished in {', '.join(missing)}")
    scratch = _mcc(named[scratch_from[0]]["tasks"][task]["runs"], "scratch")
    tuned = {n: _mcc(r["tasks"][task]["runs"], "both") for n, r in named.items()}
    names = list(named)
    out[task] = {
        "scratch": scratch, "tuned": tuned,
        "gain": {n: _paired(tuned[n], scratch) for n in names},
        "between": {f"{a} - {b}": _paired(tuned[a], tuned[b])
                    for i, a in enumerate(names) for b in names[i + 1:]},
        "published": named[first]["tasks"][task].get("published")}
  return out


def _mean(per_seed: dict) -> str:
  values = np.array(list(per_seed.values())) * 100
  sd = values.std(ddof=1) if len(values) > 1 else 0.0
  return f"{values.mean():.1f} ± {sd:.1f}"


def _gain(p: dict | None) -> str:
  return "-" if p is None else (f"{p['gain']:+.1f} ± {p['gain_sd']:.1f} "
                                f"({p['wins']} of {len(p['seeds'])})")


def markdown(results: dict) -> str:
  names = list(results["sources"])
  lines = ["# Pretraining corpus: fine-tuned from each language model against scratch",
           "", common.machine_lines(results),
           "Sources: " + "; ".join(
               f"{n}: `{s['init_from']}` (sha256 `{str(s['sha256'])[:12]}...`), "
               f"from `{s['file']}`" for n, s in results["sources"].items()) + ".",
           f"Scratch runs from `{results['scratch_from']}` (same seeds and settings). "
           "MCC x100 on test, mean ± sd over seeds; gains paired by seed, with the "
           "seeds won.", "",
           "| task | scratch | " + " | ".join(f"from {n}" for n in names) + " | "
           + " | ".join(f"gain, {n}" for n in names) + " | "
           + " | ".join(results["tasks"][next(iter(results["tasks"]))]["between"]) + " |",
           "|" + "---|" * (2 + 2 * len(names) + len(names) * (len(names) - 1) // 2)]
  for task, entry in results["tasks"].items():
    lines.append(f"| {task} | {_mean(entry['scratch'])} | "
                 + " | ".join(_mean(entry["tuned"][n]) for n in names) + " | "
                 + " | ".join(_gain(entry["gain"][n]) for n in names) + " | "
                 + " | ".join(_gain(p) for p in entry["between"].values()) + " |")
  return "\n".join(lines) + "\n"


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
  parser.add_argument("--runs", required=True,
                      help="name=path,...: benchmarks.accuracy --init_from results")
  parser.add_argument("--tasks", required=True, help="comma-separated task names")
  parser.add_argument("--output", required=True, help="JSON path; .md written beside it")
  args = parser.parse_args(argv)
  named, files = {}, {}
  for item in args.runs.split(","):
    name, sep, path = item.partition("=")
    if not sep:
      sys.exit(f"error: --runs takes name=path pairs, got {item!r}")
    try:
      with open(path) as handle:
        named[name] = json.load(handle)
    except (OSError, ValueError) as error:
      sys.exit(f"error: --runs {name}: cannot read {path}: {error}")
    files[name] = path
  try:
    tasks = compare(named, [t for t in args.tasks.split(",") if t])
  except ValueError as error:
    sys.exit(f"error: {error}")
  except KeyError as error:
    sys.exit(f"error: a --runs file has no {error}: not a benchmarks.accuracy result")
  results = common.header("benchmarks.corpus_transfer")
  results["sources"] = {n: {"init_from": r["init_from"]["source"],
                            "sha256": r["init_from"]["sha256"], "file": files[n]}
                        for n, r in named.items()}
  results["scratch_from"] = next(files[n] for n, r in named.items()
                                 if r["settings"].get("compare_scratch"))
  results["tasks"] = tasks
  common.write_results(args.output, results, markdown(results))
  print(markdown(results))


if __name__ == "__main__":
  common.run(main)
