"""Shared plumbing of the `python -m gslm_keras.<name>` entry points."""

from __future__ import annotations

import errno
import logging
import os
import shlex
import sys
import tempfile
import traceback
from typing import Callable

from absl import app

from gslm_keras.errors import GslmError
from gslm_keras.startup import quiet_tensorflow_on_import


def command_line(module: str) -> str:
  """The command that ran this process, re-runnable from the same directory."""
  return " ".join(["python", "-m", module, shlex.join(sys.argv[1:])]).strip()


def quoted(path: str) -> str:
  """A path as a shell reads it back (spaces, quotes), for printed commands."""
  return shlex.quote(path)


def require(*holders) -> None:
  """Raises ConfigError naming the first of these flags that has no value."""
  from gslm_keras.errors import ConfigError

  for holder in holders:
    if holder.value is None or holder.value == "":
      raise ConfigError(f"--{holder.name} is required")


# What to do about an operating-system error, by errno.
_OS_HINTS = {
    errno.ENOSPC: "the disk is full: free space or write somewhere else",
    errno.EDQUOT: "the disk quota is used up: free space or write somewhere else",
    errno.EACCES: "permission denied: check the permissions, or write somewhere else",
    errno.EPERM: "operation not permitted: check the permissions, or write somewhere "
                 "else",
    errno.EROFS: "the filesystem is read-only: write somewhere else",
    errno.ENOENT: "no such file or folder: check the path",
    errno.ENOTDIR: "a part of the path is not a folder: check the path",
    errno.EISDIR: "is a folder, a file was expected: check the path",
    errno.ENAMETOOLONG: "the name is too long: choose a shorter path",
}


def describe_os_error(error: OSError) -> str:
  """One line: the file, what the system said, and what to do."""
  where = error.filename or ""
  if error.filename2:
    where = f"{where} -> {error.filename2}"
  hint = _OS_HINTS.get(error.errno, error.strerror or str(error))
  return f"{where}: {hint}" if where else hint


def describe_library_error(error: BaseException) -> str | None:
  """One line for an operating-system failure reported by a library in its own
  exception type (TensorFlow writes "<path>; No space left on device"), or None."""
  text = getattr(error, "message", None) or str(error)
  for code, hint in _OS_HINTS.items():
    reason = os.strerror(code)
    if reason in text:
      path = text.split(";")[0].strip() if ";" in text else ""
      return f"{path}: {hint}" if path and path != text else hint
  return None


class _PlainFormatter(logging.Formatter):
  """Log lines as a person reads them on a terminal: the message, with `warning:`
  in front of warnings; absl's `I1205 10:00:29.810968 1398... fit.py:159]`
  prefix stays in logs that go to a file or a pipe."""

  def format(self, record):
    text = super().format(record)
    if record.levelno >= logging.WARNING:
      return f"{record.levelname.lower()}: {text}"
    return text


def plain_logs_on_a_terminal() -> None:
  """Plain log lines when stderr is a terminal (see `_PlainFormatter`)."""
  from absl import logging as absl_logging

  if sys.stderr.isatty():
    absl_logging.get_absl_handler().setFormatter(_PlainFormatter("%(message)s"))


def _unexpected(error: BaseException) -> str:
  """Writes the traceback of a bug to a file; the one line that names it."""
  fd, path = tempfile.mkstemp(prefix="gslm_keras-error-", suffix=".txt")
  with os.fdopen(fd, "w") as handle:
    handle.write(" ".join(sys.argv) + "\n\n")
    traceback.print_exception(type(error), error, error.__traceback__, file=handle)
  return (f"unexpected {type(error).__name__}: {error} (this is a bug in gslm_keras; "
          f"the details are in {path}, please report them)")


def run(main: Callable[[list[str]], None], positional: int = 0) -> None:
  """`app.run(main)`: every failure ends in one line on stderr, never a traceback.

  A GslmError says what was wrong with the input or the options (exit status 1);
  an OSError names the file and what to do (full disk, permissions, read-only
  output, missing folder: exit 1); anything else is a bug, whose traceback goes
  to a file that the line names (exit 2). Ctrl-C exits with 130.

  Args:
    main: the entry point's main.
    positional: how many positional arguments (a command name) main accepts.
  """

  def guarded(argv):
    if len(argv) > 1 + positional:
      raise app.UsageError(f"unexpected arguments: {' '.join(argv[1 + positional:])}")
    plain_logs_on_a_terminal()
    one_line_failures(main, argv)

  quiet_tensorflow_on_import()
  app.run(guarded)


def one_line_failures(main: Callable, *args, interrupted: str = "outputs were left as "
                      "they were"):
  """`main(*args)`, every failure ending in one `error:` line and an exit status:
  1 for bad input, options or an operating-system error, 2 for a bug (its
  traceback in a file the line names), 130 for Ctrl-C."""
  try:
    return main(*args)
  except GslmError as error:
    print(f"error: {error}", file=sys.stderr)
    sys.exit(1)
  except OSError as error:
    print(f"error: {describe_os_error(error)}", file=sys.stderr)
    sys.exit(1)
  except KeyboardInterrupt:
    print(f"error: interrupted; {interrupted}", file=sys.stderr)
    sys.exit(130)
  except Exception as error:  # noqa: BLE001  The last guard: no traceback.
    described = describe_library_error(error)
    if described is not None:
      print(f"error: {described}", file=sys.stderr)
      sys.exit(1)
    print(f"error: {_unexpected(error)}", file=sys.stderr)
    sys.exit(2)


# The release after which the old spelling `--model_dir` of a model a command reads
# (evaluate, export) stops working; `--model` names it everywhere.
OLD_MODEL_FLAG_UNTIL = "0.2"


def model_to_read(model, old_model_dir) -> str:
  """The value of `--model` (a model the command reads), or of its old spelling
  `--model_dir` with a warning; ConfigError when neither or both disagree."""
  from gslm_keras.errors import ConfigError

  new, old = model.value, old_model_dir.value
  if old and new and old != new:
    raise ConfigError(f"--model={new} and --model_dir={old} name two models: give "
                      "--model only")
  if old and not new:
    print(f"warning: --model_dir is the old spelling of --model for a model a command "
          f"reads; it works until gslm_keras {OLD_MODEL_FLAG_UNTIL}", file=sys.stderr)
    return old
  if not new:
    raise ConfigError("--model is required")
  return new


def print_record_counts(stats: dict) -> None:
  """The lines predict and embed print after their output: records rejected, and
  sequences padded or cropped to the model's window."""
  if stats["rejected"]:
    print(f"{stats['rejected']} records rejected: {stats['output']}.rejects.tsv")
  if stats["padded"] or stats["cropped"]:
    print(f"{stats['padded']} sequences padded with N and {stats['cropped']} cropped to "
          "the model's window (column length_adjustment)")
