"""Outputs that appear whole or not at all: temporary name beside, then rename."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from typing import Any, Iterator


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
  except BaseException:
    if os.path.exists(tmp):
      os.unlink(tmp)
    raise


def write_text_atomic(path: str, text: str) -> None:
  """Writes `text` (UTF-8) to `path` through a temporary file."""
  with atomic_path(path) as tmp:
    with open(tmp, "w", encoding="utf-8") as handle:
      handle.write(text)


def write_json_atomic(path: str, data: Any) -> None:
  """Writes JSON (indented, with a final newline) to `path` through a temporary file."""
  write_text_atomic(path, json.dumps(data, indent=2, sort_keys=False) + "\n")


def read_json(path: str) -> Any:
  with open(path, encoding="utf-8") as handle:
    return json.load(handle)
