"""Streaming: the builder's peak memory does not grow with its input (about 20 s)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from conftest import PROM_DIR

_CHILD = r"""
import json, resource, sys
from gslm_keras.data.builder import BuildConfig, build_dataset
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
