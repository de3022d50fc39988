"""Streaming: peak memory of the builder and of batch prediction does not grow
with the input (about 40 s)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from conftest import PROM_DIR

_CHILD = r"""
import json, resource, sys
from gslm_keras.data.builder.builder import BuildConfig, build_dataset
from gslm_keras.data.readers import InputSpec
from gslm_keras.features import parse_specs
train, out = sys.argv[1], sys.argv[2]
info = build_dataset(BuildConfig(
    output_dir=out, train=(InputSpec(train),), num_workers=2, records_per_shard=5000,
    computed_features=parse_specs(["gc_content", "kmer:k=4"]), progress_seconds=1e9))
print(json.dumps({"records": info.num_records("train"),
                  "rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def _build(train, out):
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
  result = subprocess.run([sys.executable, "-c", _CHILD, str(train), str(out)], env=env,
                          capture_output=True, text=True, timeout=900)
  assert result.returncode == 0, result.stderr[-2000:]
  return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.mark.slow
def test_peak_memory_flat_when_input_grows_tenfold(tmp_path):
  header, *rows = (PROM_DIR / "train.csv").read_text().splitlines()
  small, big = tmp_path / "small.csv", tmp_path / "big.csv"
  small.write_text(header + "\n" + "\n".join(rows) + "\n")
  big.write_text(header + "\n" + "\n".join(rows * 10) + "\n")
  one = _build(small, tmp_path / "one")
  ten = _build(big, tmp_path / "ten")
  assert ten["records"] == 10 * one["records"] == 49040
  # 10x the input (14.7 MB of sequence) may add the per-record id/sequence hashes
  # (16 bytes each), not the input itself.
  assert ten["rss_mib"] < one["rss_mib"] * 1.15, (one, ten)


_PREDICT_CHILD = r"""
import json, resource, sys
from gslm_keras.inference.batch import predict_file
stats = predict_file(sys.argv[1], sys.argv[2], sys.argv[3], batch_size=256)
print(json.dumps({"records": stats["records"],
                  "rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


@pytest.mark.slow
def test_predict_memory_flat_when_input_grows_tenfold(tmp_path):
  from gslm_keras.models import preset
  from gslm_keras.training.config import TrainConfig
  from gslm_keras.training.trainer import train

  from conftest import SPLICE_CSV, read_column
  from helpers import build

  info = build(tmp_path / "data", input=[SPLICE_CSV], split_column="statlog_split",
               dev_fraction=0.1, computed_features=["gc_content"])
  model_dir = str(tmp_path / "model")
  train(TrainConfig.create(data_dir=info.directory, model_dir=model_dir, model=preset("tiny"),
                    epochs=1, steps_per_epoch=2, evaluate_splits=(), verbose=0))
  sequences = read_column(SPLICE_CSV)
  sizes = {}
  for name, copies in (("one", 1), ("ten", 10)):
    path = tmp_path / f"{name}.fa"
    with open(path, "w") as handle:
      for copy in range(copies):
        for i, seq in enumerate(sequences):
          handle.write(f">c{copy}_{i}\n{seq}\n")
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    result = subprocess.run([sys.executable, "-c", _PREDICT_CHILD, model_dir, str(path),
                             str(tmp_path / f"{name}.tsv")], env=env,
                            capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stderr[-2000:]
    sizes[name] = json.loads(result.stdout.strip().splitlines()[-1])
  assert sizes["ten"]["records"] == 10 * sizes["one"]["records"] == 31860
  assert sizes["ten"]["rss_mib"] < sizes["one"]["rss_mib"] * 1.15, sizes
