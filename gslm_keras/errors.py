"""Errors that name what was wrong, where.

Every error a user can cause carries the file, the record and what was expected,
so that an entry point can print one clear line instead of a traceback.
"""

from __future__ import annotations


class GslmError(Exception):
  """Base class of the errors gslm_keras raises on purpose."""


class InputError(GslmError, ValueError):
  """Bad input data: names the file, the record and what was wrong.

  Attributes:
    path: the input file, or None when the error is not tied to one.
    record: a human-readable record locator ("line 12", "record 3 'chr1:5-90'").
    reason: what was wrong and what was expected.
    hint: what to do, when it holds only while the job stops at bad records
      ("use --on_error=skip ..."): in the message, not in a rejects file.
  """

  def __init__(self, reason: str, path: str | None = None,
               record: str | None = None, hint: str | None = None):
    self.reason = reason
    self.path = path
    self.record = record
    self.hint = hint
    where = ", ".join(part for part in (path, record) if part)
    text = f"{reason}; {hint}" if hint else reason
    super().__init__(f"{where}: {text}" if where else text)


class ConfigError(GslmError, ValueError):
  """A configuration value is invalid: names the field, the value and the rule."""


class DatasetError(GslmError):
  """A dataset directory is incomplete, inconsistent or corrupted."""
