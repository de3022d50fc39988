r"""Coding elements of a held-out part of a genome, called by a scan, against the
Prodigal gene finder (pyrodigal) on the same part.

  python -m benchmarks.coding_scan --shared_data=../shared/data \
      --output=benchmarks/results/coding_scan.json

The C. trachomatis chromosome (GenBank, 1.04 Mb, 895 CDS) is cut at intergenic
bases into three blocks: train (the first 60%), dev (the next 20%) and a held-out
block (the last 20%), so that no window of the held-out block, nor its
neighbours, is seen in training. The GenBank coding recipe builds 100-base
windows (stride 50; a window is `coding` when all its bases lie in a CDS,
`intergenic` when it touches no annotated gene) of the train and dev blocks; the
default dual-input model is trained on them (reverse-complement augmentation:
genes lie on both strands; --seeds seeds). `scan` then tiles the held-out block
(stride 10, both strands averaged) and calls coding elements at the threshold
with the best MCC on dev. Per base of the held-out block, against the union of
its annotated CDS: precision, recall and F1 of the coding calls, and the MCC of
coding against the rest.

Anchors, on the same block: Prodigal (pyrodigal), trained on the train block
(its `single` mode) and in its `meta` mode (pre-trained models, no training);
and calling every base coding (the share of coding bases is high in a bacterium).
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import tempfile
import time

import numpy as np

from benchmarks import common, task_runs

SOURCE = "genomes/chlamydia_trachomatis_CHLTCG.gbk"
FLAGS = "datasets/genomes/genbank_coding.flags"
BLOCKS = (0.6, 0.8)  # Where train ends and dev ends, as fractions of the chromosome.


def cut_points(record, fractions) -> list[int]:
  """The base nearest each fraction of the record that no feature covers."""
  covered = np.zeros(len(record), bool)
  for feature in record.features:
    if feature.type != "source":
      covered[int(feature.location.start):int(feature.location.end)] = True
  free = np.flatnonzero(~covered)
  return [int(free[np.argmin(np.abs(free - f * len(record)))]) for f in fractions]


def cds_mask(record, start: int, end: int) -> np.ndarray:
  """Per base of [start, end): inside an annotated CDS (either strand)."""
  mask = np.zeros(end - start, bool)
  for feature in record.features:
    if feature.type == "CDS":
      for part in feature.location.parts:
        lo, hi = max(int(part.start), start), min(int(part.end), end)
        if lo < hi:
          mask[lo - start:hi - start] = True
  return mask


def per_base(truth: np.ndarray, called: np.ndarray) -> dict:
  from sklearn.metrics import matthews_corrcoef

  tp = int((truth & called).sum())
  precision = tp / max(int(called.sum()), 1)
  recall = tp / max(int(truth.sum()), 1)
  return {"precision": precision, "recall": recall,
          "f1": 2 * precision * recall / max(precision + recall, 1e-12),
          "mcc": float(matthews_corrcoef(truth, called)) if called.any() and not
          called.all() else 0.0}


def prodigal(record, blocks: tuple[int, int], start: int, end: int) -> dict:
  """Per-base coding masks of the held-out block from Prodigal, trained on the
  train block and in meta mode."""
  import pyrodigal

  sequence = str(record.seq).upper().encode()
  held = sequence[start:end]
  masks = {}
  finders = {"single": pyrodigal.GeneFinder(), "meta": pyrodigal.GeneFinder(meta=True)}
  finders["single"].train(sequence[:blocks[0]])
  for mode, finder in finders.items():
    mask = np.zeros(end - start, bool)
    for gene in finder.find_genes(held):
      mask[gene.begin - 1:gene.end] = True
    masks[mode] = mask
  return masks


def write_parts(record, cuts: list[int], tmp: str) -> dict[str, str]:
  from Bio import SeqIO

  edges = [0, *cuts, len(record)]
  paths = {}
  for name, lo, hi in zip(("train", "dev", "test"), edges[:-1], edges[1:]):
    part = record[lo:hi]
    part.annotations["molecule_type"] = "DNA"
    part.id = part.name = f"{record.id}_{name}"  # Window ids are unique across splits.
    paths[name] = os.path.join(tmp, f"{name}.gb")
    SeqIO.write(part, paths[name], "genbank")
  return paths


def main():
  parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
  parser.add_argument("--shared_data", default="../shared/data")
  parser.add_argument("--seeds", type=int, default=3)
  parser.add_argument("--epochs", type=int, default=15)
  parser.add_argument("--stride", type=int, default=10)
  parser.add_argument("--output", default="benchmarks/results/coding_scan.json")
  parser.add_argument("--note", default="")
  args = parser.parse_args()
  from Bio import SeqIO

  from gslm_keras import api
  from gslm_keras.data.builder.builder import build_dataset
  from gslm_keras.data.builder.flags import config_from_flagfile
  from gslm_keras.data.readers.spec import InputSpec

  results = common.header("benchmarks.coding_scan")
  results["note"] = args.note
  record = next(SeqIO.parse(os.path.join(args.shared_data, SOURCE), "genbank"))
  cuts = cut_points(record, BLOCKS)
  start, end = cuts[1], len(record)
  truth = cds_mask(record, start, end)
  results.update({"genome": SOURCE, "record": record.id, "length": len(record),
                  "train": [0, cuts[0]], "dev": [cuts[0], cuts[1]],
                  "held_out": [start, end], "coding_fraction": float(truth.mean()),
                  "stride": args.stride})
  calls = {"every base coding": np.ones_like(truth)}
  masks = prodigal(record, cuts, start, end)
  calls["Prodigal, trained on the train block"] = masks["single"]
  calls["Prodigal, meta mode"] = masks["meta"]
  results["anchors"] = {name: per_base(truth, mask) for name, mask in calls.items()}
  settings = task_runs.Settings(
      preset="default", epochs=args.epochs, patience=4, batch_size=64,
      learning_rate=2e-3, seeds=args.seeds, ablation_seeds=0, rc_tasks=(),
      ablations=("both",), workers=0)
  runs = []
  with tempfile.TemporaryDirectory() as tmp:
    parts = write_parts(record, cuts, tmp)
    data_dir = os.path.join(tmp, "data")
    recipe = config_from_flagfile(FLAGS, recipe_window=100, recipe_stride=50,
                                  output_dir=data_dir, num_workers=1,
                                  progress_seconds=1e9)
    build_dataset(dataclasses.replace(
        recipe, input=(), split_fractions=None,
        **{split: (InputSpec.parse(path),) for split, path in parts.items()}))
    genome = os.path.join(tmp, "genome.fa")
    SeqIO.write(record, genome, "fasta")
    with open(os.path.join(tmp, "held_out.bed"), "w") as handle:
      handle.write(f"{record.id}\t{start}\t{end}\n")
    for seed in range(args.seeds):
      model_dir = os.path.join(tmp, f"model_{seed}")
      began = time.time()
      trained = task_runs.train_one(data_dir, model_dir, settings, "both", seed, True)
      out = os.path.join(tmp, f"scan_{seed}")
      summary = api.scan(model=model_dir, genome=genome, output=f"{out}.bw,{out}.bed",
                         regions=os.path.join(tmp, "held_out.bed"), stride=args.stride,
                         element_column="coding", progress_seconds=1e9)
      called = np.zeros_like(truth)
      for line in open(f"{out}.bed"):
        if not line.startswith("track"):
          _, lo, hi = line.split("\t")[:3]
          called[int(lo) - start:int(hi) - start] = True
      runs.append({"seed": seed, **per_base(truth, called),
                   "window_test_mcc": trained.get("mcc"),
                   "threshold": summary["threshold"]["threshold"],
                   "dev_mcc": summary["threshold"]["mcc"],
                   "elements": summary["outputs"][f"{out}.bed"]["elements"],
                   "scan_seconds": summary["seconds"], "seconds": time.time() - began})
      results["runs"] = runs
      common.write_results(args.output, results, markdown(results))
  print(markdown(results))


def markdown(results: dict) -> str:
  runs = results.get("runs", [])
  lines = ["# Coding elements of a held-out block: scan against Prodigal", "",
           common.machine_lines(results),
           f"C. trachomatis {results['record']} ({results['length']:,} bases): train "
           f"block {results['train']}, dev {results['dev']}, held-out block "
           f"{results['held_out']} ({results['held_out'][1] - results['held_out'][0]:,} "
           f"bases, {results['coding_fraction']:.1%} inside an annotated CDS). The "
           "dual-input model is trained on 100-base windows of the train block (coding "
           "recipe), its threshold chosen on dev; `scan` tiles the held-out block "
           f"(stride {results['stride']}, both strands). Per base, against the CDS "
           "annotation.", "",
           "| caller | precision | recall | F1 | MCC |", "|---|---:|---:|---:|---:|"]
  if runs:
    def cell(key):
      values = [r[key] for r in runs]
      return f"{np.mean(values):.3f} ± {np.std(values):.3f}"
    lines.append(f"| gslm_keras scan ({len(runs)} seeds, mean ± sd) | {cell('precision')} "
                 f"| {cell('recall')} | {cell('f1')} | {cell('mcc')} |")
  for name, scores in results["anchors"].items():
    lines.append(f"| {name} | {scores['precision']:.3f} | {scores['recall']:.3f} | "
                 f"{scores['f1']:.3f} | {scores['mcc']:.3f} |")
  if runs:
    lines += ["", "| seed | dev MCC (windows) | threshold | elements | scan s | run s |",
              "|---|---:|---:|---:|---:|---:|"]
    lines += [f"| {r['seed']} | {r['dev_mcc']:.3f} | {r['threshold']:.3f} | "
              f"{r['elements']} | {r['scan_seconds']:.0f} | {r['seconds']:.0f} |"
              for r in runs]
  return "\n".join(lines + [""])


if __name__ == "__main__":
  common.run(main)
