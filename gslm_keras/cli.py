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


def require(*holders) -> None:
  """Raises ConfigError naming the first of these flags that has no value."""
  from gslm_keras.errors import ConfigError

  for holder in holders:
    if holder.value is None or holder.value == "":
      raise ConfigError(f"--{holder.name} is required")


def run(main: Callable[[list[str]], None], positional: int = 0) -> None:
  """`app.run(main)`, turning GslmError into one clear line and exit status 1.

  Args:
    main: the entry point's main.
    positional: how many positional arguments (a command name) main accepts.
  """

  def guarded(argv):
    if len(argv) > 1 + positional:
      raise app.UsageError(f"unexpected arguments: {' '.join(argv[1 + positional:])}")
    try:
      main(argv)
    except GslmError as error:
      print(f"error: {error}", file=sys.stderr)
      sys.exit(1)

  app.run(guarded)
