"""The quickstart notebook runs top to bottom (tiny preset, install skipped)."""

from __future__ import annotations

import json
import os

import nbformat
from nbclient import NotebookClient

from conftest import REPO


def test_quickstart_notebook_executes(tmp_path, monkeypatch):
  monkeypatch.setenv("GSLM_SKIP_INSTALL", "1")
  monkeypatch.setenv("GSLM_NOTEBOOK_PRESET", "tiny")
  monkeypatch.setenv("GSLM_NOTEBOOK_EPOCHS", "2")
  monkeypatch.setenv("GSLM_NOTEBOOK_WORKDIR", str(tmp_path))
  monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", "3")
  notebook = nbformat.read(REPO / "notebooks" / "01_quickstart.ipynb", as_version=4)
  NotebookClient(notebook, timeout=600, kernel_name="python3",
                 resources={"metadata": {"path": str(REPO / "notebooks")}}).execute()
  outputs = "".join(o.get("text", "") for cell in notebook.cells if cell.cell_type == "code"
                    for o in cell.get("outputs", []))
  assert "task: multiclass ['EI', 'IE', 'N']" in outputs
  assert "test: accuracy" in outputs
  assert outputs.count("predicted") == 5
  images = [o for cell in notebook.cells for o in cell.get("outputs", [])
            if "image/png" in o.get("data", {})]
  assert len(images) == 3
  metrics = json.load(open(tmp_path / "model_tiny" / "metrics" / "test.json"))
  assert metrics["n"] == 1186 and metrics["auroc_macro"] > 0.6
  assert not os.path.exists(REPO / "notebooks" / "build")
