"""Opening text inputs: plain, gzip or bgzip, with one clear error for each fault."""

from __future__ import annotations

import gzip
import io
import os
import zlib

from gslm_keras.errors import InputError

# Failures while reading a file's bytes: not text, or a damaged gzip stream.
READ_ERRORS = (UnicodeDecodeError, zlib.error, EOFError, gzip.BadGzipFile)


# Bytes read so far from each file opened by `open_text` (by absolute path), for
# progress estimates (`gslm_keras.io.progress`).
_BYTES_READ: dict[str, int] = {}


def bytes_read(path: str) -> int:
  """Bytes of `path` read so far through `open_text` (compressed bytes for gzip)."""
  return _BYTES_READ.get(os.path.abspath(path), 0)


class _Counted(io.RawIOBase):
  """A binary file that counts the bytes read from it."""

  def __init__(self, path: str):
    self._file = open(path, "rb", buffering=0)
    self._key = os.path.abspath(path)
    _BYTES_READ[self._key] = 0

  def readable(self) -> bool:
    return True

  def readinto(self, buffer) -> int:
    n = self._file.readinto(buffer)
    _BYTES_READ[self._key] += n or 0
    return n

  def close(self) -> None:
    self._file.close()
    super().close()


def open_binary(path: str):
  """Opens a plain or gzip/bgzip file for reading bytes (decompressed), counting
  the bytes read for progress, with a clear error if it is missing."""
  if not os.path.exists(path):
    raise InputError("file not found", path=path)
  if os.path.isdir(path):
    raise InputError("is a directory, expected a file", path=path)
  with open(path, "rb") as probe:
    magic = probe.read(2)
  raw = io.BufferedReader(_Counted(path), buffer_size=1 << 20)
  if magic == b"\x1f\x8b":
    compressed = raw
    raw = gzip.GzipFile(fileobj=compressed, mode="rb")
    raw.myfileobj = compressed  # Closed with the gzip stream.
  return raw


def open_text(path: str):
  """Opens a plain or gzip/bgzip text file, with a clear error if it is missing."""
  # utf-8-sig: spreadsheet exports often start with a byte-order mark.
  return io.TextIOWrapper(open_binary(path), encoding="utf-8-sig", newline="")


def read_error(path: str, error: Exception) -> InputError:
  """The InputError for one of READ_ERRORS raised while reading `path`."""
  if isinstance(error, UnicodeDecodeError):
    return InputError("is not UTF-8 text (a binary file?)", path=path)
  return InputError(f"is a damaged gzip file ({error})", path=path)


def is_plain_gzip(path: str) -> bool:
  """gzip but not BGZF (whose header carries the 'BC' extra subfield)."""
  with open(path, "rb") as handle:
    head = handle.read(18)
  return head[:2] == b"\x1f\x8b" and not (head[3] & 4 and head[12:14] == b"BC")


def csv_rows(handle, path: str, delimiter: str):
  """(line where the row starts, fields) of each row of a CSV/TSV, streamed.

  Fields may be as long as memory allows (whole chromosomes in one cell); a
  quoted field that is never closed is reported at the line where it opens, not at
  the end of the file where the reader gives up.

  Raises:
    InputError: malformed quoting, naming the line.
  """
  import csv
  import sys

  csv.field_size_limit(sys.maxsize)
  reader = csv.reader(handle, delimiter=delimiter, strict=True)
  kind = "TSV" if delimiter == "\t" else "CSV"
  while True:
    start = reader.line_num + 1
    try:
      row = next(reader)
    except StopIteration:
      return
    except csv.Error as error:
      if "unexpected end of data" in str(error) or reader.line_num > start:
        raise InputError(f"a quoted field opens on this line and is never closed "
                         f"(malformed {kind}; a stray '\"'?)", path=path,
                         record=f"line {start}") from None
      raise InputError(f"malformed {kind}: {error}", path=path,
                       record=f"line {start}") from None
    yield start, row
