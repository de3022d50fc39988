"""The package's commands run as `python -m module args...` runs them, each in a
process of its own, without paying TensorFlow's import in every one.

A fork server (multiprocessing's "forkserver", started once per test worker)
imports TensorFlow and Keras and runs nothing; each command is a child forked from
it that runs its module as `__main__` (`runpy`, as `python -m` does), with its own
argv, environment, working directory and stdout/stderr. A command's TensorFlow
state (devices, thread pools, policies, absl flags) starts empty in every child, as
in a fresh interpreter: the server never runs an op, so the fork copies no running
thread pool. What stays with `subprocess`: the tests of the interpreter's start
(start-up noise, logs), of memory, of killing a command, and of the package's
absence.
"""

from __future__ import annotations

import io
import multiprocessing
import os
import runpy
import subprocess
import sys
import tempfile

from conftest import REPO

_CONTEXT = None
# What every command loads first, loaded once by the server (TF_CPP_MIN_LOG_LEVEL
# from conftest keeps it quiet).
PRELOAD = ("tensorflow", "keras", "pandas")


def _forked(module: str, args: list[str], cwd: str, env: dict, out: str, err: str):
  """In the child: `python -m module args` with stdout and stderr in files."""
  os.chdir(cwd)
  os.environ.clear()
  os.environ.update(env)
  for fd, path in ((1, out), (2, err)):
    handle = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.dup2(handle, fd)
    os.close(handle)
  sys.stdout = io.TextIOWrapper(os.fdopen(1, "wb", closefd=False), line_buffering=True)
  sys.stderr = io.TextIOWrapper(os.fdopen(2, "wb", closefd=False), line_buffering=True)
  sys.argv = [module, *args]
  code = 0
  try:
    runpy.run_module(module, run_name="__main__", alter_sys=True)
  except SystemExit as stop:  # What the interpreter does with sys.exit(x).
    if stop.code is None or isinstance(stop.code, int):
      code = stop.code or 0
    else:
      print(stop.code, file=sys.stderr)
      code = 1
  except BaseException:  # noqa: BLE001  An uncaught exception: its traceback, status 1.
    import traceback

    traceback.print_exc()
    code = 1
  sys.stdout.flush()
  sys.stderr.flush()
  os._exit(code)


def run_command(module: str, *args: str, env: dict | None = None, cwd=REPO,
                timeout: float = 600) -> subprocess.CompletedProcess:
  """`subprocess.run([python, "-m", module, *args], capture_output=True, text=True)`,
  forked from the server; TimeoutExpired after `timeout` seconds (the child killed)."""
  global _CONTEXT
  if _CONTEXT is None:
    _CONTEXT = multiprocessing.get_context("forkserver")
    # Importable from the server's own path (it ignores the tests' sys.path). An
    # import that failed would be silent and cost each command its seconds:
    # tests/test_cli.py checks that a command finds them loaded.
    _CONTEXT.set_forkserver_preload(list(PRELOAD))
    # The server's stderr is /dev/null (TensorFlow's start-up lines would land in
    # whichever test started it); each command's goes to its own file.
    from multiprocessing import forkserver

    saved, null = os.dup(2), os.open(os.devnull, os.O_WRONLY)
    os.dup2(null, 2)
    try:
      forkserver.ensure_running()
    finally:
      os.dup2(saved, 2)
      os.close(saved)
      os.close(null)
  env = dict(os.environ if env is None else env)
  with tempfile.TemporaryDirectory(prefix="command-") as tmp:
    out, err = os.path.join(tmp, "stdout"), os.path.join(tmp, "stderr")
    child = _CONTEXT.Process(target=_forked, args=(module, list(args), str(cwd), env, out,
                                                   err))
    child.start()
    child.join(timeout)
    if child.exitcode is None:
      child.kill()
      child.join()
      raise subprocess.TimeoutExpired([module, *args], timeout)
    texts = []
    for path in (out, err):
      with open(path, errors="replace") as handle:
        texts.append(handle.read())
  return subprocess.CompletedProcess([sys.executable, "-m", module, *args], child.exitcode,
                                     *texts)
