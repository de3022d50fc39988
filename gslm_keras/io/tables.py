"""Tables written as they are computed: TSV or Parquet, under a temporary name.

Rows stream into a body file beside the output; `close(ok=True)` puts the header
(with comment lines that may count what the rows were, known only at the end)
in front and renames the result into place, so a reader never sees a partial
table. Parquet keeps its metadata in `<output>.summary.json` beside it.
"""

from __future__ import annotations

import json
import os
import tempfile
from typing import Any, Mapping, Sequence

from gslm_keras.io import files


def text(value: Any) -> str:
  """A cell's text: floats with 6 significant digits, booleans as 1/0."""
  if isinstance(value, bool):
    return "1" if value else "0"
  if isinstance(value, float):
    return f"{value:.6g}"
  return str(value)


def table_kind(path: str) -> str:
  return "parquet" if path.endswith(".parquet") else "tsv"


class TableWriter:
  """Streams rows of named columns to `path` (.parquet: Parquet, else TSV).

  Args:
    path: the output file.
    columns: column names, in order.
  """

  def __init__(self, path: str, columns: Sequence[str]):
    self.path = path
    self.columns = list(columns)
    self.kind = table_kind(path)
    self.rows = 0
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    # A new file of a name no one can plant a link at beforehand (O_EXCL).
    fd, self.body = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.body-",
                                     dir=directory)
    self._parquet = None
    if self.kind == "parquet":
      os.close(fd)
      self._handle = None
    else:
      self._handle = os.fdopen(fd, "w", newline="")

  def write(self, rows: Sequence[Mapping[str, Any]]) -> None:
    """Appends rows (dicts with every column)."""
    if not rows:
      return
    self.rows += len(rows)
    if self.kind == "parquet":
      import pyarrow as pa
      import pyarrow.parquet as pq

      table = pa.Table.from_pylist([{c: row[c] for c in self.columns} for row in rows])
      if self._parquet is None:
        self._parquet = pq.ParquetWriter(self.body, table.schema)
      self._parquet.write_table(table)
      return
    self._handle.writelines(
        "\t".join(text(row[c]) for c in self.columns) + "\n" for row in rows)

  def close(self, ok: bool, comments: Sequence[str] = (),
            summary: Mapping[str, Any] | None = None) -> None:
    """Puts the table in place (ok) or removes what was written (not ok).

    Args:
      ok: whether the rows are complete.
      comments: TSV lines written before the header, each prefixed with '# '.
      summary: Parquet: written to `<path>.summary.json`.
    """
    if self._parquet is not None:
      self._parquet.close()
    if self._handle is not None:
      self._handle.close()
    try:
      if not ok:
        return
      if self.kind == "parquet":
        if self._parquet is None:  # No rows: an empty table with the columns.
          import pyarrow as pa
          import pyarrow.parquet as pq

          pq.write_table(pa.table({c: pa.array([], pa.string()) for c in self.columns}),
                         self.body)
        if summary is not None:
          files.write_json_atomic(self.path + ".summary.json", dict(summary))
        os.chmod(self.body, 0o644)
        os.replace(self.body, self.path)
        return
      head = [f"# {line}\n" for line in comments] + ["\t".join(self.columns) + "\n"]
      prepend(self.path, head, self.body)
    finally:
      if os.path.exists(self.body):
        os.remove(self.body)

  def __enter__(self):
    return self

  def __exit__(self, exc_type, *exc):
    self.close(ok=exc_type is None)


def prepend(path: str, head: Sequence[str], body: str) -> None:
  """Writes `head` lines then the file `body` to `path`, atomically."""
  with files.atomic_path(path) as tmp:
    with open(tmp, "w", newline="") as out, open(body, newline="") as rest:
      out.writelines(head)
      for block in iter(lambda: rest.read(1 << 20), ""):
        out.write(block)


def summary_line(data: Mapping[str, Any]) -> str:
  return json.dumps(dict(data))


ON_ERROR = ("stop", "skip")


class Rejects:
  """Records a long job skipped (`--on_error=skip`), with their reasons.

  The rejects table `<output>.rejects.tsv` (file, record, reason) is written only
  when something was rejected, atomically at the end like the output itself.

  Args:
    output: the job's output path.
    on_error: "stop" (re-raise every record error) or "skip".
  """

  def __init__(self, output: str, on_error: str = "stop"):
    from gslm_keras.errors import ConfigError

    if on_error not in ON_ERROR:
      raise ConfigError(f"on_error={on_error!r}: expected stop or skip")
    self.path = rejects_path(output)
    self.on_error = on_error
    self.count = 0
    self._writer: TableWriter | None = None

  def handle(self, error) -> None:
    """Re-raises an InputError under "stop"; records it under "skip"."""
    if self.on_error == "stop" or error.record is None:
      raise error
    if self._writer is None:
      self._writer = TableWriter(self.path, ["file", "record", "reason"])
    self._writer.write([{"file": error.path or "", "record": error.record,
                         "reason": error.reason}])
    self.count += 1

  def close(self, ok: bool) -> None:
    """Puts the rejects table in place (ok, something rejected), or removes an
    earlier run's (ok, nothing rejected): the side file belongs to this output."""
    if self._writer is not None:
      self._writer.close(ok)
    elif ok and os.path.lexists(self.path):
      os.remove(self.path)

  def describe(self) -> str:
    return f"rejected {self.count} (see {self.path})" if self.count else "rejected 0"


def rejects_path(output: str) -> str:
  return f"{output}.rejects.tsv"
