"""Outputs with one writer, replaced only when the new one is complete.

Every tool that writes a result (a dataset, a model directory, an export version,
a prediction or score file) takes it through here:

- `OutputLock`: one writer per output. A lock file beside the output holds an
  exclusive `flock` for as long as the writer runs, and says who holds it (pid,
  host, start time, command). A second writer fails at once and names the
  holder. The kernel drops the flock when its process dies, however it dies, so
  a lock left by a killed run is recognised as stale and taken over.
- `swap_into_place`: a finished directory replaces the old one in one atomic
  exchange (Linux renameat2), so there is no moment without a whole result.
- `sweep`: under the lock, what a killed run left beside the output (temporary
  directories and files, all named `.<output name>.<kind>-...`) is removed and
  reported.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import datetime
import errno
import fcntl
import json
import os
import shutil
import socket
import stat
import sys
import tempfile

from absl import logging

from gslm_keras.errors import GslmError
from gslm_keras.io.files import open_no_follow

# Name parts of what a writer leaves beside its output while it works.
TEMPORARY_KINDS = ("building", "exporting", "tmp", "body", "old", "next")


class OutputBusyError(GslmError):
  """Another live process is writing the same output."""


def check_file_output(path: str, overwrite: bool) -> None:
  """Before any work: a file output (a prediction or score table) may not be a
  folder, and replaces an existing file only with `overwrite`, as every tool
  does with its output.

  Raises:
    ConfigError: naming the path and what to do.
  """
  from gslm_keras.errors import ConfigError

  if os.path.isdir(path):
    raise ConfigError(f"--output={path} is a folder; name a file in it (for example "
                      f"{os.path.join(path, 'out.tsv')})")
  if os.path.lexists(path) and not overwrite:
    raise ConfigError(f"--output={path} exists; pass --overwrite to replace it (with "
                      "its side files), or write somewhere else")


def hidden_name(target: str, kind: str) -> str:
  """`<parent>/.<name>.<kind>`: where a writer keeps its work beside `target`."""
  parent, name = os.path.split(os.path.abspath(target))
  return os.path.join(parent, f".{name}.{kind}")


def _holder() -> dict:
  return {"pid": os.getpid(), "host": socket.gethostname(),
          "started": datetime.datetime.now(datetime.timezone.utc).isoformat(
              timespec="seconds"),
          "command": " ".join(sys.argv)}


class OutputLock:
  """An exclusive, self-describing lock on one output path.

  Args:
    target: the output (file or directory) to be written.
    what: what the output is, for messages ("dataset", "model directory" ...).
  """

  def __init__(self, target: str, what: str = "output"):
    self.target = os.path.abspath(target)
    self.what = what
    self.path = hidden_name(self.target, "lock")
    self._fd: int | None = None

  def acquire(self) -> "OutputLock":
    os.makedirs(os.path.dirname(self.path), exist_ok=True)
    while True:
      # Never through a link planted at the lock's name: that would truncate
      # and overwrite whatever file it points to.
      fd = open_no_follow(self.path, os.O_RDWR | os.O_CREAT, 0o644,
                          f"the lock of {self.target}")
      try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
      except BlockingIOError:
        holder = _read(fd)
        os.close(fd)
        raise OutputBusyError(
            f"{self.target} is being written by another process ({_describe(holder)}); "
            f"wait for it to finish, or write to another path") from None
      # The file may have been removed and recreated by the previous holder
      # between our open and our flock: then hold the file that is there now.
      try:
        same = os.fstat(fd).st_ino == os.stat(self.path).st_ino
      except FileNotFoundError:
        same = False
      if same:
        break
      os.close(fd)
    stale = _read(fd)
    if stale:
      logging.warning("Took over the lock of %s left by a process that ended (%s)",
                      self.target, _describe(stale))
    self._fd = fd
    try:
      os.ftruncate(fd, 0)
      os.write(fd, (json.dumps(_holder()) + "\n").encode())
    except OSError:  # A full disk: give the lock back and say why.
      self.release()
      raise
    return self

  def release(self) -> None:
    if self._fd is None:
      return
    try:
      os.unlink(self.path)
    except FileNotFoundError:
      pass
    fcntl.flock(self._fd, fcntl.LOCK_UN)
    os.close(self._fd)
    self._fd = None

  def __enter__(self):
    return self.acquire()

  def __exit__(self, *exc):
    self.release()


def _read(fd: int) -> dict:
  os.lseek(fd, 0, os.SEEK_SET)
  text = os.read(fd, 65536).decode(errors="replace").strip()
  try:
    return json.loads(text) if text else {}
  except ValueError:
    return {"raw": text[:200]}


def _describe(holder: dict) -> str:
  if not holder:
    return "holder unknown"
  return (f"pid {holder.get('pid')} on {holder.get('host')} since "
          f"{holder.get('started')}: {holder.get('command', '')}").strip()


def sweep(target: str) -> list[str]:
  """Removes what killed runs left beside `target`; call it holding the lock.

  Returns the removed paths. A `.<name>.old-*` directory is a previous result
  moved aside by a swap that was killed half-way: when `target` itself is
  missing it is restored instead of removed.
  """
  parent, name = os.path.split(os.path.abspath(target))
  if not os.path.isdir(parent):
    return []
  removed = []
  for entry in sorted(os.listdir(parent)):
    if not entry.startswith(f".{name}.") or entry == f".{name}.lock":
      continue
    kind = entry[len(name) + 2:].split("-")[0].split(".")[0]
    if kind not in TEMPORARY_KINDS or kind == "next":
      continue
    path = os.path.join(parent, entry)
    if kind == "old" and not os.path.lexists(target) and _own_directory(path):
      os.rename(path, target)
      logging.warning("Restored %s from %s, left by an interrupted replacement",
                      target, path)
      continue
    _remove(path)
    removed.append(path)
  if removed:
    logging.warning("Removed what an interrupted run left beside %s: %s", target,
                    ", ".join(os.path.basename(p) for p in removed))
  return removed


def _own_directory(path: str) -> bool:
  """A real folder of this user (a planted link or someone else's folder is
  never restored as the output)."""
  info = os.lstat(path)
  return stat.S_ISDIR(info.st_mode) and info.st_uid == os.geteuid()


def _remove(path: str) -> None:
  if os.path.isdir(path) and not os.path.islink(path):
    shutil.rmtree(path, ignore_errors=True)
  elif os.path.lexists(path):
    os.remove(path)


_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


def _exchange(a: str, b: str) -> bool:
  """Atomically swaps two paths (Linux renameat2); False when not available."""
  libc_name = ctypes.util.find_library("c")
  if not libc_name or not sys.platform.startswith("linux"):
    return False
  libc = ctypes.CDLL(libc_name, use_errno=True)
  renameat2 = getattr(libc, "renameat2", None)
  if renameat2 is None:
    return False
  result = renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b),
                     _RENAME_EXCHANGE)
  if result == 0:
    return True
  code = ctypes.get_errno()
  if code in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP):
    return False  # The filesystem cannot exchange: fall back.
  raise OSError(code, os.strerror(code), b)


def swap_into_place(new: str, target: str) -> None:
  """Puts the finished directory `new` at `target`; an old `target` is removed only
  once the new one is in place (atomically where the filesystem allows)."""
  if not os.path.exists(target):
    os.rename(new, target)
    return
  if _exchange(new, target):
    _remove(new)  # It now holds the old result.
    return
  old = hidden_name(target, f"old-{os.getpid()}")
  os.rename(target, old)  # `sweep` restores it if we die before the next line.
  os.rename(new, target)
  _remove(old)


@contextlib.contextmanager
def written_beside(target: str, kind: str):
  """Yields a new directory `.<name>.<kind>-XXXX` beside `target` (with the mode the
  umask allows) and puts it at `target` when the block completes; a failed or
  interrupted block removes it, and a killed one leaves it for `sweep`."""
  parent = os.path.dirname(os.path.abspath(target))
  os.makedirs(parent, exist_ok=True)
  tmp = tempfile.mkdtemp(prefix=f".{os.path.basename(target)}.{kind}-", dir=parent)
  apply_umask(tmp)
  try:
    yield tmp
    swap_into_place(tmp, target)
  except BaseException:
    shutil.rmtree(tmp, ignore_errors=True)
    raise


def apply_umask(path: str) -> None:
  """Gives a directory made by mkdtemp (mode 0700) the mode the umask allows."""
  mask = os.umask(0)
  os.umask(mask)
  os.chmod(path, 0o777 & ~mask)


class exclusive_output:  # noqa: N801  A context manager, named like `open`.
  """Holds the lock of `target` and sweeps what killed runs left beside it.

    with exclusive_output(path, "dataset"):
      ...write path...

  Args:
    target: the output.
    what: what it is, for messages.
    also: further outputs written with it (a Parquet summary), swept too.
  """

  def __init__(self, target: str, what: str = "output", also: tuple[str, ...] = ()):
    self.lock = OutputLock(target, what)
    self.targets = (target, *also)

  def __enter__(self) -> OutputLock:
    self.lock.acquire()
    try:
      for target in self.targets:
        sweep(target)
    except BaseException:
      self.lock.release()
      raise
    return self.lock

  def __exit__(self, *exc):
    self.lock.release()
