r"""Runs one command in two checkouts, alternately, and records wall time and output.

  python -m benchmarks.before_after --before=../old_tree --repeats=2 \
      --output=benchmarks/results/relayout_quickstart.json -- \
      python -m gslm_keras.train --flagfile=models/quickstart.flags

For a change that must leave behaviour and speed alone (a refactor): the same
command runs in the checkout before the change and in this one, back to back on
the same machine, before/after/before/after..., so drifting load hits both.
Each run's last lines of output are kept, to compare what they printed; with
--must_match=<prefix> (repeatable), the lines starting with it must be the same
in every run of both sides (a weights fingerprint, a metric), and the result
says whether they were.

  python -m benchmarks.before_after --before=../old_tree --repeats=1 \
      --must_match="Weights fingerprint" --must_match="test:" \
      --output=benchmarks/results/refactor_quickstart.json -- \
      python -m gslm_keras.train --flagfile=models/quickstart.flags --deterministic
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time

from benchmarks import common


def _run(command: list[str], cwd: str, tail: int) -> dict:
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONPATH=cwd)
  start = time.perf_counter()
  done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True)
  seconds = time.perf_counter() - start
  if done.returncode != 0:
    sys.exit(f"error: {' '.join(command)} failed in {cwd}:\n{done.stderr[-2000:]}")
  return {"seconds": seconds, "last_lines": done.stdout.strip().splitlines()[-tail:]}


def main():
  parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
  parser.add_argument("--before", required=True, help="checkout before the change")
  parser.add_argument("--after", default=".", help="checkout after the change")
  parser.add_argument("--repeats", type=int, default=2)
  parser.add_argument("--tail", type=int, default=12, help="output lines kept per run")
  parser.add_argument("--output", required=True)
  parser.add_argument("--note", default="")
  parser.add_argument("--must_match", action="append", default=[],
                      help="lines starting with this must be equal in every run")
  parser.add_argument("command", nargs=argparse.REMAINDER)
  args = parser.parse_args()
  command = args.command[1:] if args.command[:1] == ["--"] else args.command
  results = common.header("benchmarks.before_after")
  results.update({"note": args.note, "measured_command": command,
                  "before": {"tree": os.path.abspath(args.before), "runs": []},
                  "after": {"tree": os.path.abspath(args.after), "runs": []}})
  for repeat in range(args.repeats):
    for side in ("before", "after"):
      print(f"{side} {repeat + 1}/{args.repeats} ...", flush=True)
      results[side]["runs"].append(_run(command, results[side]["tree"], args.tail))
  for side in ("before", "after"):
    results[side]["median_seconds"] = common.median(
        [r["seconds"] for r in results[side]["runs"]])
  results["ratio_after_to_before"] = (results["after"]["median_seconds"]
                                      / results["before"]["median_seconds"])
  results["must_match"] = {prefix: _matched(results, prefix) for prefix in args.must_match}
  common.write_results(args.output, results, markdown(results))
  print(markdown(results))


def _matched(results: dict, prefix: str) -> dict:
  """The lines starting with `prefix` per run, and whether all runs agree."""
  seen = {side: [[line for line in run["last_lines"] if line.startswith(prefix)]
                 for run in results[side]["runs"]] for side in ("before", "after")}
  every = [lines for side in seen.values() for lines in side]
  return {"identical": bool(every[0]) and all(lines == every[0] for lines in every),
          **seen}


def markdown(results: dict) -> str:
  lines = ["# Before and after", "", common.machine_lines(results),
           f"Measured: `{' '.join(results['measured_command'])}`, run alternately in "
           f"`{results['before']['tree']}` (before) and `{results['after']['tree']}` "
           "(after).", "", "| | wall seconds per run | median |", "|---|---|---:|"]
  for side in ("before", "after"):
    runs = ", ".join(f"{r['seconds']:.1f}" for r in results[side]["runs"])
    lines.append(f"| {side} | {runs} | {results[side]['median_seconds']:.1f} |")
  lines += ["", f"After / before: {results['ratio_after_to_before']:.2f}", ""]
  for prefix, match in results.get("must_match", {}).items():
    verdict = "identical in every run" if match["identical"] else "DIFFERENT"
    lines += [f"Lines starting with `{prefix}`: {verdict}.", ""]
  for side in ("before", "after"):
    lines += [f"Last lines printed ({side}, last run):", "", "```",
              *results[side]["runs"][-1]["last_lines"], "```", ""]
  return "\n".join(lines)


if __name__ == "__main__":
  common.run(main)
