"""Transfer from the language model against training from scratch: the tables.

`benchmarks.accuracy --init_from=<model> --compare_scratch` trains, per task and
seed, the dual-input model with its trunk started from the source (`both`) and
the same model from random weights (`scratch`), with the same seed, settings and
budget. The gain is the mean over seeds of the paired difference (fine-tuned
minus scratch, same seed), with its spread.
"""

from __future__ import annotations

import numpy as np


def _spread(x: np.ndarray) -> float:
  return float(np.std(x, ddof=1)) if len(x) > 1 else 0.0


def paired_gain(tuned: dict[int, float], base: dict[int, float]) -> dict | None:
  """`tuned` against `base` (values per seed) over the seeds both have: the mean
  of the per-seed difference, its sd, and the seeds `tuned` wins."""
  seeds = sorted(set(tuned) & set(base))
  if not seeds:
    return None
  d = np.array([tuned[s] - base[s] for s in seeds])
  return {"seeds": seeds, "gain": float(d.mean()), "gain_sd": _spread(d),
          "wins": int((d > 0).sum())}


def paired(runs: list[dict], key: str = "mcc") -> dict | None:
  """Fine-tuned against scratch over the seeds both have finished."""
  tuned = {r["seed"]: r[key] for r in runs if r["ablation"] == "both"}
  scratch = {r["seed"]: r[key] for r in runs if r["ablation"] == "scratch"}
  gain = paired_gain(tuned, scratch)
  if gain is None:
    return None
  a = np.array([tuned[s] for s in gain["seeds"]])
  b = np.array([scratch[s] for s in gain["seeds"]])
  return {"seeds": gain["seeds"], key: float(a.mean()), f"{key}_sd": _spread(a),
          f"{key}_scratch": float(b.mean()), f"{key}_scratch_sd": _spread(b),
          "gain": gain["gain"], "gain_sd": gain["gain_sd"], "wins": gain["wins"],
          "steps": float(np.mean([r["steps"] for r in runs if r["ablation"] == "both"])),
          "steps_scratch": float(np.mean([r["steps"] for r in runs
                                          if r["ablation"] == "scratch"])),
          "seconds": float(np.mean([r["train_seconds"] for r in runs
                                    if r["ablation"] == "both"])),
          "dead": _dead(runs, "both"), "dead_scratch": _dead(runs, "scratch")}


def _dead(runs: list[dict], ablation: str) -> str:
  """Dead fusion units per seed, e.g. "3, 0, 5 of 96"."""
  chosen = [r for r in runs if r["ablation"] == ablation and "dead_fusion_units" in r]
  if not chosen:
    return "-"
  return (", ".join(str(r["dead_fusion_units"]) for r in chosen)
          + f" of {chosen[0]['fusion_units']}")


def _x100(value, sd=None):
  return f"{value * 100:.1f}" + (f" ± {sd * 100:.1f}" if sd else "")


def lines(results: dict) -> list[str]:
  """The markdown section of a run with --compare_scratch (finished tasks, then
  the seeds finished so far of a task in progress)."""
  source = results.get("init_from") or {}
  out = ["## Pretrained against scratch", "",
         f"Trunk from `{source.get('source')}` (model file sha256 "
         f"`{str(source.get('sha256'))[:12]}...`); scratch: the same model, seeds, "
         "settings and budget from random weights. Gain: mean over seeds of the paired "
         "difference, ± its sd; wins: seeds where the fine-tuned model is better.", "",
         "| task | fine-tuned MCC x100 | scratch MCC x100 | gain | wins | steps (tuned / "
         "scratch) | dead fusion units (tuned / scratch) | s/run | DNABERT-2 | "
         "best published | goal (fine-tuned) |",
         "|" + "---|" * 11]
  rows = [(name, entry["runs"], entry.get("published") or {}, "")
          for name, entry in results["tasks"].items()]
  rows += [(name, runs, {}, " (in progress)")
           for name, runs in results.get("partial", {}).items()]
  met = {"dnabert2": 0, "best": 0}
  for name, runs, pub, note in rows:
    p = paired(runs)
    if p is None:
      continue
    best = pub.get("best")
    goals = []
    for label, key, ref in (("DNABERT-2", "dnabert2", pub.get("dnabert2")),
                            ("best", "best", best)):
      if ref is not None and not note:
        hit = p["mcc"] * 100 >= ref
        met[key] += hit
        goals.append(f"{label} {'met' if hit else 'not met'}")
    out.append(
        f"| {name}{note} | {_x100(p['mcc'], p['mcc_sd'])} | "
        f"{_x100(p['mcc_scratch'], p['mcc_scratch_sd'])} | "
        f"{p['gain'] * 100:+.1f} ± {p['gain_sd'] * 100:.1f} | {p['wins']} of "
        f"{len(p['seeds'])} | {p['steps']:.0f} / {p['steps_scratch']:.0f} | "
        f"{p['dead']} / {p['dead_scratch']} | "
        f"{p['seconds']:.0f} | {pub.get('dnabert2', '-')} | "
        f"{best if best is not None else '-'} | {'; '.join(goals) or '-'} |")
  finished = [paired(e["runs"]) for e in results["tasks"].values()]
  finished = [p for p in finished if p is not None]
  if finished:
    gains = np.array([p["gain"] for p in finished]) * 100
    out += ["", f"Over {len(finished)} finished task(s): median gain {np.median(gains):+.1f} "
            f"MCC points (range {gains.min():+.1f} to {gains.max():+.1f}); fine-tuned "
            f"better on {int((gains > 0).sum())}; DNABERT-2 met on {met['dnabert2']}, the "
            f"best published result on {met['best']}."]
  return out + [""]
