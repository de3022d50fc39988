"""Outputs that appear whole or not at all: temporary name beside, then rename."""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import stat
import tempfile
from typing import Any, Iterator

from gslm_keras.errors import GslmError


class UnsafePathError(GslmError):
  """A path gslm_keras would write or read back is a symbolic link, or a folder
  that is not the user's own: refused, never followed."""


def refuse_link(path: str, what: str = "a file") -> None:
  """Raises UnsafePathError when `path` is a symbolic link (dangling or not)."""
  if os.path.islink(path):
    raise UnsafePathError(
        f"{path}: a symbolic link stands where gslm_keras writes {what}; it is not "
        "followed (what it points to is left as it is): remove the link, or write "
        "somewhere else")


def open_no_follow(path: str, flags: int, mode: int = 0o644,
                   what: str = "a file") -> int:
  """`os.open` that never follows a symbolic link at `path` and refuses anything
  but a regular file there (a FIFO or device would hang or leak the write)."""
  try:
    fd = os.open(path, flags | os.O_NOFOLLOW | os.O_CLOEXEC, mode)
  except OSError as error:
    if error.errno == errno.ELOOP:
      refuse_link(path, what)
    raise
  if not stat.S_ISREG(os.fstat(fd).st_mode):
    os.close(fd)
    raise UnsafePathError(f"{path}: not a regular file where gslm_keras writes {what}; "
                          "remove it, or write somewhere else")
  return fd


def private_directory(path: str) -> str:
  """Creates the folder `path` readable by its owner only (0700) and returns it;
  see `check_private` before anything in it is read back."""
  os.mkdir(path, 0o700)
  return check_private(path)


def check_private(path: str) -> str:
  """Refuses a folder that is a link, is not the user's own, or that others may
  write: what is read back from it (pickles) could have been planted."""
  info = os.lstat(path)
  if (stat.S_ISLNK(info.st_mode) or not stat.S_ISDIR(info.st_mode)
      or info.st_uid != os.geteuid() or info.st_mode & 0o022):
    raise UnsafePathError(
        f"{path}: a temporary folder gslm_keras reads back is not a private folder "
        "of this user (a link, another owner, or writable by others); nothing in it "
        "is read: remove it and run again")
  return path


def sha256_file(path: str) -> str:
  """Hex sha256 of a file's bytes, read in 1 MiB blocks."""
  digest = hashlib.sha256()
  with open(path, "rb") as handle:
    for block in iter(lambda: handle.read(1 << 20), b""):
      digest.update(block)
  return digest.hexdigest()


@contextlib.contextmanager
def atomic_path(path: str, suffix: str = "") -> Iterator[str]:
  """A temporary path beside `path`, renamed onto it when the block succeeds.

  The parent folder is created. On any error (or a kill) `path` keeps its old
  content, if any, and the temporary file is removed. The file gets the usual
  0644 mode (mkstemp creates 0600; outputs are meant to be shared).
  """
  directory = os.path.dirname(os.path.abspath(path))
  os.makedirs(directory, exist_ok=True)
  fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.tmp-", suffix=suffix,
                             dir=directory)
  os.close(fd)
  try:
    yield tmp
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)
  except BaseException as error:
    if os.path.exists(tmp):
      os.unlink(tmp)
    if isinstance(error, OSError) and error.errno and not error.filename:
      # A writer that says only "No space left on device" (Keras' zip, NumPy):
      # the one line names the file it was writing.
      raise OSError(error.errno, error.strerror, path) from error
    raise


def write_text_atomic(path: str, text: str) -> None:
  """Writes `text` (UTF-8) to `path` through a temporary file."""
  with atomic_path(path) as tmp:
    with open(tmp, "w", encoding="utf-8") as handle:
      handle.write(text)


def save_npz(path: str, *arrays, **named) -> str:
  """`np.savez_compressed` through a temporary file renamed onto `path`."""
  import numpy as np

  with atomic_path(path, suffix=".npz") as tmp:
    with open(tmp, "wb") as handle:
      np.savez_compressed(handle, *arrays, **named)
  return path


def write_json_atomic(path: str, data: Any) -> None:
  """Writes JSON (indented, with a final newline) to `path` through a temporary file."""
  write_text_atomic(path, json.dumps(data, indent=2, sort_keys=False) + "\n")


def read_json(path: str) -> Any:
  """The JSON file at `path`; one line naming it when it is damaged (not JSON, not
  UTF-8): a file gslm_keras wrote whole, so someone or something else cut it."""
  try:
    with open(path, encoding="utf-8") as handle:
      return json.load(handle)
  except ValueError as error:  # JSONDecodeError and UnicodeDecodeError are ValueErrors.
    raise GslmError(
        f"{path}: damaged, not valid JSON ({str(error).splitlines()[0][:120]}): restore "
        "it from a copy, or write its folder again (--overwrite)") from None
