"""Runs the notebooks top to bottom and stores them with their outputs.

  GSLM_SKIP_INSTALL=1 python notebooks/store_outputs.py [01_quickstart.ipynb ...]

The notebooks in the repository carry the outputs of this command (default preset,
full training) so that they read on GitHub and in Colab before anyone runs them.
Work files go to build/ as the notebooks say; about 6 minutes on 2 CPUs.
"""

from __future__ import annotations

import pathlib
import sys
import time

import nbformat
from nbclient import NotebookClient

HERE = pathlib.Path(__file__).resolve().parent


def main(names: list[str]) -> int:
  for name in names or sorted(p.name for p in HERE.glob("*.ipynb")):
    path = HERE / name
    notebook = nbformat.read(path, as_version=4)
    start = time.monotonic()
    NotebookClient(notebook, timeout=3600, kernel_name="python3",
                   resources={"metadata": {"path": str(HERE)}}).execute()
    nbformat.write(notebook, path)
    print(f"{name}: {time.monotonic() - start:.0f} s")
  return 0


if __name__ == "__main__":
  sys.exit(main(sys.argv[1:]))
