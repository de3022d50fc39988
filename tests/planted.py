"""A synthetic dataset with a JASPAR motif planted in random DNA, and a model on it.

Positives carry one instance of CTCF (JASPAR MA0139, sampled from its PWM) at a
random place and strand; negatives are the same kind of random background. A small
model learns it within seconds, which gives interpretation and variant tests a
known answer: the planted motif.
"""

from __future__ import annotations

import numpy as np

MOTIF_ID = "MA0139"
LENGTH = 101  # Odd: a window centred on a base is symmetric on both strands.


def motif_pwm():
  from pyjaspar import jaspardb

  motif = jaspardb().fetch_motif_by_id(MOTIF_ID)
  counts = np.array([motif.counts[b] for b in "ACGT"], float).T + 0.1
  return motif.matrix_id, counts / counts.sum(axis=1, keepdims=True)


def planted_rows(n: int, seed: int, pwm: np.ndarray):
  """(sequence, label, motif start or -1) rows, half positives."""
  rng = np.random.default_rng(seed)
  rows = []
  width = len(pwm)
  for i in range(n):
    background = rng.choice(list("ACGT"), size=LENGTH)
    label = i % 2
    start = -1
    if label:
      instance = "".join("ACGT"[rng.choice(4, p=column)] for column in pwm)
      if rng.random() < 0.5:
        instance = instance[::-1].translate(str.maketrans("ACGT", "TGCA"))
      start = int(rng.integers(10, LENGTH - width - 10))
      background[start:start + width] = list(instance)
    rows.append(("".join(background), label, start))
  return rows


def write_splits(directory, pwm) -> dict:
  directory.mkdir(parents=True, exist_ok=True)
  starts = {}
  for split, n, seed in (("train", 3000, 1), ("dev", 400, 2), ("test", 400, 3)):
    rows = planted_rows(n, seed, pwm)
    with open(directory / f"{split}.csv", "w") as handle:
      handle.write("id,sequence,label\n")
      for i, (sequence, label, start) in enumerate(rows):
        handle.write(f"{split}{i},{sequence},{label}\n")
    starts[split] = [start for _, _, start in rows]
  return starts
