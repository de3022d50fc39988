"""Streaming FASTA reader: one `RawRecord` per record, labelled per file or by regex."""

from __future__ import annotations

import re
from typing import Iterator

from gslm_keras.data.readers.spec import RawRecord
from gslm_keras.errors import InputError
from gslm_keras.io.text import READ_ERRORS, open_text, read_error


def read_fasta(path: str, label: str | None = None,
               label_regex: str | None = None) -> Iterator[RawRecord]:
  """Streams FASTA records; label per file, or from the header by regex group 1.

  Raises InputError for an empty file, text before the first header, an empty
  header or a record without sequence.
  """
  pattern = re.compile(label_regex) if label_regex else None
  n_records = 0
  header = None
  header_line = 0
  chunks: list[str] = []

  def finish():
    name, _, _ = header.partition(" ")
    record = f"record {n_records} '{name}' (line {header_line})"
    if not name:
      raise InputError("empty FASTA header", path=path, record=f"line {header_line}")
    sequence = "".join(chunks)
    if not sequence:
      raise InputError("record has no sequence", path=path, record=record)
    record_label = label
    if pattern is not None:
      match = pattern.search(header)
      if not match:
        raise InputError(
            f"header {header!r} does not match --fasta_label_regex "
            f"{pattern.pattern!r}", path=path, record=record)
      record_label = match.group(1) if pattern.groups else match.group(0)
    return RawRecord(sequence=sequence, locator=record, id=name, label=record_label)

  try:
    with open_text(path) as handle:
      for line_no, line in enumerate(handle, start=1):
        line = line.rstrip("\r\n")
        if line.startswith(">"):
          if header is not None:
            yield finish()
          n_records += 1
          header = line[1:].strip()
          header_line = line_no
          chunks = []
        elif header is None:
          if line.strip() and not line.startswith(";"):
            raise InputError(
                "text before the first '>' header: not a FASTA file?",
                path=path, record=f"line {line_no}")
        else:
          # Spaces inside a sequence line are kept so validation can name them;
          # only the line ends are not part of the sequence.
          chunks.append(line.rstrip())
  except READ_ERRORS as error:
    raise read_error(path, error) from None
  if header is None:
    raise InputError("empty FASTA file (no '>' header)", path=path)
  yield finish()
