r"""Motifs from attributions on real models: TF-MoDISco (`interpret modisco`) on
GUE prom_300_tata and a GUE transcription-factor task.

  python -m benchmarks.modisco --data_root=../shared/data/gue \
      --tasks=prom/prom_300_tata,tf/2 --output=benchmarks/results/modisco.json

For each task: the dataset built as the accuracy suite builds it, the default
dual-input model trained as there (seed 0; reverse-complement augmentation for tf
tasks), then `interpret modisco` on --limit sequences of the test split
(integrated gradients, --steps steps, towards the positive class), its patterns
matched to JASPAR CORE vertebrates (Tomtom, calibrated p-values, q-values over
every pattern-JASPAR pair). Reported per task: the model's test MCC, each
pattern's seqlets and best match with its q-value, and the promoter families
(TBP for the TATA box ...) recovered at q <= 0.05. The goal on prom_300_tata:
TBP at q < 0.05.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

from benchmarks import common, task_runs


def one_task(name: str, data_root: str, tmp: str, limit: int, steps: int,
             epochs: int) -> dict:
  from gslm_keras.interpretation import commands
  from gslm_keras.interpretation.motifs import PROMOTER_FAMILIES

  folder = os.path.join(data_root, name)
  data_dir = os.path.join(tmp, name.replace("/", "_"))
  task_runs.build(data_dir, 1, **{s: [os.path.join(folder, f"{s}.csv")]
                                  for s in ("train", "dev", "test")})
  settings = task_runs.Settings(
      preset="default", epochs=epochs, patience=4, batch_size=64, learning_rate=2e-3,
      seeds=1, ablation_seeds=0, rc_tasks=(), ablations=("both",), workers=0)
  model_dir = data_dir + "_model"
  started = time.time()
  trained = task_runs.train_one(data_dir, model_dir, settings, "both", 0,
                                name.startswith("tf/"))
  out = os.path.join(tmp, name.replace("/", "_") + "_modisco")
  os.makedirs(out)
  found = commands.modisco(model_dir, out, split="test", limit=limit, steps=steps,
                           families=PROMOTER_FAMILIES)
  patterns = []
  for pattern in found["patterns"]:
    row = found["best"].get(pattern.motif.name)
    patterns.append({"name": pattern.motif.name, "seqlets": pattern.motif.sites,
                     "width": len(pattern.motif.pwm),
                     "best": None if row is None else {
                         "jaspar": f"{row['jaspar_name']} ({row['jaspar_id']})",
                         "q_value": float(row["q_value"])}})
  families = {family: None if hit is None else {
      "jaspar": hit["jaspar"], "pattern": hit["filter"], "q_value": float(hit["q_value"]),
      "recovered": bool(hit["recovered"])} for family, hit in found["families"].items()}
  return {"test_mcc": trained["mcc"], "patterns": patterns, "families": families,
          "summary": found["summary"], "seconds": found["seconds"],
          "train_seconds": trained["train_seconds"], "total_seconds": time.time() - started}


def main():
  parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
  parser.add_argument("--data_root", default="../shared/data/gue")
  parser.add_argument("--tasks", default="prom/prom_300_tata,tf/2")
  parser.add_argument("--limit", type=int, default=1000)
  parser.add_argument("--steps", type=int, default=32)
  parser.add_argument("--epochs", type=int, default=15)
  parser.add_argument("--output", default="benchmarks/results/modisco.json")
  parser.add_argument("--note", default="")
  args = parser.parse_args()
  results = common.header("benchmarks.modisco")
  results.update(note=args.note, limit=args.limit, steps=args.steps, tasks={})
  with tempfile.TemporaryDirectory() as tmp:
    for name in task_runs.find_tasks(args.data_root, args.tasks):
      results["tasks"][name] = one_task(name, args.data_root, tmp, args.limit, args.steps,
                                        args.epochs)
      common.write_results(args.output, results, markdown(results))
  print(markdown(results))


def markdown(results: dict) -> str:
  lines = ["# TF-MoDISco on real models", "", common.machine_lines(results),
           f"`interpret modisco` on {results['limit']} test sequences per task "
           f"(integrated gradients, {results['steps']} steps, towards the positive "
           "class) of the default model trained on each task (seed 0). Matches: "
           "Tomtom against JASPAR CORE vertebrates, calibrated p-values, "
           "Benjamini-Hochberg q-values; kept at q <= 0.05.", ""]
  for name, entry in results["tasks"].items():
    summary = entry["summary"]
    lines += [f"## {name}", "",
              f"Test MCC {entry['test_mcc']:.3f}; {summary['patterns']} patterns from "
              f"{summary['seqlets']} seqlets; completeness gap (median) "
              f"{summary['completeness_gap_median']:.3f}; TF-MoDISco and matching "
              f"{entry['seconds']['total'] - entry['seconds']['attributions']:.0f} s, "
              f"attributions {entry['seconds']['attributions']:.0f} s.", "",
              "| pattern | seqlets | width | best JASPAR match | q-value |",
              "|---|---:|---:|---|---:|"]
    for p in entry["patterns"][:10]:
      match, q_value = ((p["best"]["jaspar"], f"{p['best']['q_value']:.2g}")
                        if p["best"] else ("none", "-"))
      lines.append(f"| {p['name']} | {p['seqlets']} | {p['width']} | {match} | "
                   f"{q_value} |")
    found = [f"{family}: {'recovered' if hit['recovered'] else 'not at q <= 0.05'} "
             f"({hit['jaspar']} by {hit['pattern']}, q={hit['q_value']:.2g})"
             for family, hit in entry["families"].items() if hit]
    lines += ["", "Promoter families among the patterns' top matches: "
              + ("; ".join(found) if found else "none") + ".", ""]
  tata = results["tasks"].get("prom/prom_300_tata")
  if tata:
    hit = tata["families"].get("TBP (TATA box)")
    lines.append("Goal (prom_300_tata: TBP at q < 0.05): "
                 + ("met" if hit and hit["recovered"] else "not met") + ".")
  return "\n".join(lines + [""])


if __name__ == "__main__":
  common.run(main)
