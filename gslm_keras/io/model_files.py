"""Keras model files and training backups: written whole or not at all, and read
with one line that names a damaged or foreign file and what to do about it.

Keras writes `model.save(path)` in place: a full disk or a kill leaves a
truncated zip under the final name, which later commands take for a finished
model, and a link planted at the name is followed. Every model file of the
package goes through `save_model` instead (a temporary name beside it, renamed
in when complete), and through `load_model` when read.
"""

from __future__ import annotations

import zipfile

from gslm_keras.errors import GslmError
from gslm_keras.io.files import atomic_path


class DamagedFileError(GslmError):
  """A file gslm_keras wrote earlier (or was given) cannot be read."""


def save_model(model, path: str) -> str:
  """`model.save` through a temporary `.keras` file renamed onto `path`."""
  with atomic_path(path, suffix=".keras") as tmp:
    model.save(tmp, overwrite=True)
  return path


def load_model(path: str, fix: str, compile: bool = True):  # noqa: A002  Keras' name.
  """`keras.models.load_model(path)`, or one line saying what is wrong with the file.

  Args:
    path: a `.keras` file.
    fix: what the user should do when it is damaged ("train again with
      --overwrite", "re-export" ...), appended to the message.
    compile: passed to Keras.
  """
  import keras

  # The caller has imported the modules that register its custom layers.
  if not zipfile.is_zipfile(path):
    raise DamagedFileError(
        f"{path}: damaged or not a Keras model file (not a complete .keras zip; a "
        f"run cut short by a full disk or a kill leaves such a file): {fix}")
  try:
    return keras.models.load_model(path, compile=compile)
  except ValueError as error:
    if "Lambda" in str(error) or "safe_mode" in str(error):
      raise DamagedFileError(
          f"{path}: holds a Lambda layer, that is Python code, which gslm_keras "
          "refuses to run from a model file (Keras safe mode); use a model trained "
          "by gslm_keras, or rebuild it without Lambda layers") from None
    raise DamagedFileError(
        f"{path}: cannot be read as a gslm_keras model ({_first_line(error)}): "
        f"{fix}") from None
  except (zipfile.BadZipFile, OSError, KeyError, EOFError, TypeError) as error:
    raise DamagedFileError(
        f"{path}: damaged or not a gslm_keras model ({type(error).__name__}: "
        f"{_first_line(error)}): {fix}") from None


def load_npz(path: str, fix: str):
  """`np.load(path)` (an open NpzFile) with every member readable, or one line."""
  import numpy as np

  try:
    data = np.load(path)
    for name in data.files:
      data[name]  # Reads (and CRC-checks) every member now, not mid-run.
    return data
  except (zipfile.BadZipFile, OSError, ValueError, KeyError, EOFError) as error:
    raise DamagedFileError(
        f"{path}: damaged ({type(error).__name__}: {_first_line(error)}): {fix}"
    ) from None


def _first_line(error: BaseException) -> str:
  text = str(error).strip().splitlines()
  return text[0][:200] if text else type(error).__name__
