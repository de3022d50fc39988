r"""The fault cases of tests/test_faults.py, run and written down.

  python -m benchmarks.faults --output=benchmarks/results/faults.md

Runs every test of tests/test_faults.py (slow ones included) and writes one row
per case tried, with the outcome the test checked, under the machine, date and
command, and the cases counted by how they ended: held (the work done, nothing
lost), clear error (exit 1, one line naming what and what to do, nothing
written), traceback, bad input accepted, data lost. A test fails on any of the
last three, and a failing case fails the command: the page only ever lists
outcomes that held, so those columns are 0 by construction of a passing run.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile

from benchmarks import common


def main():
  parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
  parser.add_argument("--output", default="benchmarks/results/faults.md")
  args = parser.parse_args()
  header = common.header("benchmarks.faults")
  with tempfile.TemporaryDirectory() as tmp:
    table = os.path.join(tmp, "faults.md")
    env = dict(os.environ, GSLM_FAULTS_REPORT=table, TF_CPP_MIN_LOG_LEVEL="3")
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                           "-m", "slow or not slow", "tests/test_faults.py"], env=env)
    if done.returncode != 0:
      sys.exit("error: a fault case failed; nothing written")
    with open(table) as handle:
      rows = handle.read()
  text = "\n".join([
      "# Faults tried, and what happened", "", common.machine_lines(header),
      "Each row is a case of `tests/test_faults.py` (run in CI, slow ones with `pytest -m "
      "slow`); the outcome column is what the test asserts, so every row held in this run. "
      "`one line` means: exit status 1, exactly one `error: ...` line on stderr, no "
      "traceback. A case is counted `held` when the work was done with nothing lost, "
      "`clear error` when it was refused in one line with nothing written.", "", rows])
  common.write_results(os.path.splitext(args.output)[0] + ".json",
                       {**header, "table": rows}, text)
  print(text)


if __name__ == "__main__":
  common.run(main)
