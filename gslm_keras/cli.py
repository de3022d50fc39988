"""Shared plumbing of the `python -m gslm_keras.<name>` entry points."""

from __future__ import annotations

import shlex
import sys
from typing import Callable

from absl import app

from gslm_keras.errors import GslmError


def command_line(module: str) -> str:
  """The command that ran this process, re-runnable from the same directory."""
  return " ".join(["python", "-m", module, shlex.join(sys.argv[1:])]).strip()


def run(main: Callable[[list[str]], None]) -> None:
  """`app.run(main)`, turning GslmError into one clear line and exit status 1."""

  def guarded(argv):
    if len(argv) > 1:
      raise app.UsageError(f"unexpected arguments: {' '.join(argv[1:])}")
    try:
      main(argv)
    except GslmError as error:
      print(f"error: {error}", file=sys.stderr)
      sys.exit(1)

  app.run(guarded)
