"""Names of a package that load their modules on first use (stdlib only: the
package's top level imports this before anything loads TensorFlow)."""

from __future__ import annotations

import importlib
import sys


def lazy_names(package: str, table: dict[str, str]):
  """(`__getattr__`, `__dir__`) for the package `package`: each name of `table`
  (name -> module) is that module's attribute, imported when first asked for and
  then kept in the package."""

  def __getattr__(name):
    if name in table:
      value = getattr(importlib.import_module(table[name]), name)
      setattr(sys.modules[package], name, value)
      return value
    raise AttributeError(f"module {package!r} has no attribute {name!r}")

  def __dir__():
    return sorted(table)

  return __getattr__, __dir__
