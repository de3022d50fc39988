"""What every benchmark records: the machine, the date, the command, the versions."""

from __future__ import annotations

import datetime
import json
import os
import platform
import shlex
import statistics
import sys
import tempfile
import time


def machine() -> dict:
  cpu = platform.processor() or ""
  try:
    with open("/proc/cpuinfo") as handle:
      for line in handle:
        if line.startswith("model name"):
          cpu = line.split(":", 1)[1].strip()
          break
  except OSError:
    pass
  memory_gib = None
  try:
    with open("/proc/meminfo") as handle:
      for line in handle:
        if line.startswith("MemTotal"):
          memory_gib = round(int(line.split()[1]) / 2**20, 1)
  except OSError:
    pass
  return {"cpu": cpu, "cores": os.cpu_count(), "memory_gib": memory_gib,
          "platform": platform.platform(), "python": platform.python_version()}


def versions() -> dict:
  import keras
  import numpy
  import tensorflow

  import gslm_keras

  return {"gslm_keras": gslm_keras.__version__, "tensorflow": tensorflow.__version__,
          "keras": keras.__version__, "numpy": numpy.__version__}


def header(module: str) -> dict:
  from gslm_keras.startup import quiet_tensorflow

  quiet_tensorflow()
  return {
      "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
      "command": " ".join(["python", "-m", module, shlex.join(sys.argv[1:])]).strip(),
      "machine": machine(),
      "versions": versions(),
  }


def forward_rate(model_dir: str, batch: int, calls: int) -> float:
  """Sequences per second of a model's forward passes alone (`LoadedModel.outputs`
  on already encoded random windows, batches of `batch`, median of `calls` calls
  after one that traces): the bound of any path that scores with the model."""
  import numpy as np
  import tensorflow as tf

  from gslm_keras.inference.model import LoadedModel

  model = LoadedModel(model_dir)
  rng = np.random.default_rng(0)
  strings = ["".join(rng.choice(list("ACGT"), size=model.length)) for _ in range(batch)]
  encoded = model.encoder(tf.constant(strings))
  forward = tf.function(model.outputs)
  forward(encoded["sequence"], encoded["features"]).numpy()  # Traced once.
  times = []
  for _ in range(calls):
    start = time.perf_counter()
    forward(encoded["sequence"], encoded["features"]).numpy()
    times.append(time.perf_counter() - start)
  return batch / median(times)


def median(values) -> float:
  return float(statistics.median(values))


def write_results(path: str, results: dict, markdown: str) -> None:
  """Writes `<path>` (JSON) and the same name with .md, each atomically."""
  directory = os.path.dirname(os.path.abspath(path))
  os.makedirs(directory, exist_ok=True)
  md_path = os.path.splitext(path)[0] + ".md"
  for target, text in ((path, json.dumps(results, indent=2) + "\n"), (md_path, markdown)):
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".tmp-")
    with os.fdopen(fd, "w") as handle:
      handle.write(text)
    os.chmod(tmp, 0o644)
    os.replace(tmp, target)


def machine_lines(results: dict) -> str:
  m = results["machine"]
  v = results["versions"]
  return (f"- Date: {results['date']}\n"
          f"- Machine: {m['cpu']}, {m['cores']} cores, {m['memory_gib']} GiB, "
          f"{m['platform']}, Python {m['python']}\n"
          f"- Versions: gslm_keras {v['gslm_keras']}, TensorFlow {v['tensorflow']}, "
          f"Keras {v['keras']}, NumPy {v['numpy']}\n"
          f"- Command: `{results['command']}`\n"
          + "".join(f"- Earlier (runs kept by `--resume`): {e['date']}, `{e['command']}`\n"
                    for e in results.get("earlier", []))
          + (f"- Note: {results['note']}\n" if results.get("note") else ""))


def keep_earlier(results: dict, previous: dict) -> None:
  """On `--resume`: the date and command of the results file resumed (and of those
  it resumed) go into `results["earlier"]`, so that the report names every command
  whose runs it holds (`machine_lines` lists them)."""
  results["earlier"] = previous.get("earlier", []) + [
      {key: previous[key] for key in ("date", "command")}]


def run(main, *args):
  """A benchmark's entry point: `main(*args)`, every failure one `error:` line (as
  the package's commands end), the results it wrote so far kept."""
  from gslm_keras.cli import one_line_failures

  return one_line_failures(main, *args,
                           interrupted="the results written so far are kept")
