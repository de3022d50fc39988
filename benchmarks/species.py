r"""Transfer across bacterial species: one command, each step skipped when done.

  python -m benchmarks.species --shared_data=../shared/data

1. CNNProm E. coli and B. subtilis as task folders (build/transfer/tasks/cnnprom/):
   a stratified 80/10/10 split of each species' promoters and non-promoters
   (seed 0). E. coli rows sharing a 20-base substring (either strand) with any of
   the 106 UCI promoter-set sequences are left out of E. coli entirely, so that
   the E. coli model has never seen a UCI test sequence.
2. The E. coli promoter model (build/transfer/ecoli_model): the accuracy suite's
   settings, seed 0, trained on the E. coli task folder.
3. B. subtilis at 10%, 25% and 100% of its train labels, from scratch, from the
   language-model preset and from the E. coli model (3 seeds, paired subsets):
   <--output_prefix>_bsubtilis.{json,md,png}.
4. UCI E. coli promoters (stratified 10-fold CV, as benchmarks/results/uci_promoters)
   from the E. coli model against scratch: <--output_prefix>_uci_promoters.

The stored benchmarks/results/transfer_*.json were made with the flatten design (the
default preset until 2026-12-05); the results files refuse to be resumed with
another design, and the E. coli model is trained again when its recorded design
(build/transfer/ecoli_model.json) is not today's. Today's default:
`--output_prefix=benchmarks/results/transfer_positions`.
"""

from __future__ import annotations

import argparse
import csv
import json
import os

import numpy as np

from benchmarks import accuracy, common, label_efficiency, task_runs

WORK = os.path.join("build", "transfer")
K = 20


def _fasta(path: str) -> list[str]:
  from gslm_keras.data.readers import read_fasta

  return [record.sequence.upper() for record in read_fasta(path)]


def _kmers(sequences, k: int = K) -> set[str]:
  from gslm_keras.dna.alphabet import reverse_complement

  out = set()
  for seq in sequences:
    for strand in (seq, reverse_complement(seq)):
      out.update(strand[i:i + k] for i in range(len(strand) - k + 1))
  return out


def uci_sequences(path: str) -> list[str]:
  with open(path) as handle:
    return [line.strip().split(",")[2].strip().upper() for line in handle if line.strip()]


def write_task(folder: str, positives: list[str], negatives: list[str], seed: int = 0
               ) -> dict:
  """Stratified 80/10/10 train/dev/test CSVs (sequence,label)."""
  rng = np.random.default_rng(seed)
  splits = {"train": [], "dev": [], "test": []}
  for label, sequences in (("promoter", positives), ("non_promoter", negatives)):
    order = rng.permutation(len(sequences))
    n_dev = n_test = round(0.1 * len(sequences))
    for rank, i in enumerate(order):
      split = "dev" if rank < n_dev else "test" if rank < n_dev + n_test else "train"
      splits[split].append((sequences[i], label))
  os.makedirs(folder, exist_ok=True)
  for split, rows in splits.items():
    with open(os.path.join(folder, f"{split}.csv"), "w", newline="") as handle:
      writer = csv.writer(handle)
      writer.writerow(["sequence", "label"])
      writer.writerows(sorted(rows))
  return {split: len(rows) for split, rows in splits.items()}


def make_tasks(shared: str) -> dict:
  cnnprom = os.path.join(shared, "cnnprom")
  uci = _kmers(uci_sequences(os.path.join(shared, "uci", "promoters.data")))
  info = {}
  for name, (pos, neg) in {"ecoli": ("Ecoli_prom.fa", "Ecoli_non_prom.fa"),
                           "bsubtilis": ("Bacillus_prom.fa", "Bacillus_non_prom.fa")}.items():
    positives = _fasta(os.path.join(cnnprom, pos))
    negatives = _fasta(os.path.join(cnnprom, neg))
    dropped = 0
    if name == "ecoli":
      keep = lambda seq: not (_kmers([seq]) & uci)  # noqa: E731
      before = len(positives) + len(negatives)
      positives, negatives = [s for s in positives if keep(s)], [s for s in negatives
                                                                  if keep(s)]
      dropped = before - len(positives) - len(negatives)
    folder = os.path.join(WORK, "tasks", "cnnprom", name)
    info[name] = {"rows": write_task(folder, positives, negatives),
                  "dropped_sharing_20_bases_with_uci": dropped}
  return info


def ecoli_model(settings: task_runs.Settings) -> dict:
  model_dir = os.path.join(WORK, "ecoli_model")
  data_dir = os.path.join(WORK, "ecoli_data")
  folder = os.path.join(WORK, "tasks", "cnnprom", "ecoli")
  if not os.path.exists(os.path.join(data_dir, "dataset_info.json")):
    task_runs.build(data_dir, settings.workers, train=[os.path.join(folder, "train.csv")],
                   dev=[os.path.join(folder, "dev.csv")],
                   test=[os.path.join(folder, "test.csv")])
  design = json.loads(json.dumps(task_runs.model_of(settings).to_json()))
  record = os.path.join(WORK, "ecoli_model.json")
  earlier = {}
  if os.path.exists(record):
    with open(record) as handle:
      earlier = json.load(handle)
  trained = os.path.exists(os.path.join(model_dir, "model.keras"))
  if not trained or earlier.get("model") != design:
    if trained:
      print(f"{model_dir} was trained with another design (or one not recorded): "
            "training it again with today's", flush=True)
    task_runs.train_one(data_dir, model_dir, settings, "both", 0, False)
  with open(os.path.join(model_dir, "metrics", "test.json")) as handle:
    test = json.load(handle)
  return {"model_dir": model_dir, "test_accuracy": test.get("accuracy"),
          "test_auroc": test.get("auroc"), "test_mcc": test.get("mcc"), "model": design}


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
  parser.add_argument("--shared_data", required=True)
  parser.add_argument("--seeds", type=int, default=3)
  parser.add_argument("--steps", default="tasks,ecoli,bsubtilis,uci",
                      help="which steps to run (each skipped when its output exists)")
  parser.add_argument("--output_prefix", default="benchmarks/results/transfer",
                      help="results go to <prefix>_bsubtilis and <prefix>_uci_promoters "
                           "(.json, .md); the stored ones are the flatten design's")
  args = parser.parse_args(argv)
  steps = set(args.steps.split(","))
  os.makedirs(WORK, exist_ok=True)
  settings = task_runs.Settings(
      preset="default", epochs=15, patience=4, batch_size=64, learning_rate=2e-3,
      seeds=args.seeds, ablation_seeds=0, rc_tasks=(), ablations=("both",), workers=0)
  if "tasks" in steps:
    info = make_tasks(args.shared_data)
    with open(os.path.join(WORK, "tasks.json"), "w") as handle:
      json.dump(info, handle, indent=2)
    print(json.dumps(info))
  if "ecoli" in steps:
    model = ecoli_model(settings)
    with open(os.path.join(WORK, "ecoli_model.json"), "w") as handle:
      json.dump(model, handle, indent=2)
    print(json.dumps(model))
  ecoli = os.path.join(WORK, "ecoli_model")
  if "bsubtilis" in steps:
    label_efficiency.main([
        f"--data_root={os.path.join(WORK, 'tasks')}", "--tasks=cnnprom/bsubtilis",
        "--fractions=0.1,0.25,1", f"--inits=scratch,gslm-lm-multispecies,{ecoli}",
        f"--seeds={args.seeds}", "--rc_tasks=",
        f"--output={args.output_prefix}_bsubtilis.json", "--resume"])
  if "uci" in steps:
    accuracy.main([
        "--suite=uci_promoters", f"--data={args.shared_data}/uci/promoters.data",
        f"--init_from={ecoli}", "--compare_scratch", "--ablations=both",
        f"--seeds={args.seeds}", f"--output={args.output_prefix}_uci_promoters.json"])


if __name__ == "__main__":
  common.run(main)
