"""The notebooks run top to bottom (tiny preset, install skipped), and the copies in
the repository carry their outputs, so that they read on GitHub and in Colab."""

from __future__ import annotations

import json
import os

import nbformat
import pytest
from nbclient import NotebookClient

from conftest import REPO

NOTEBOOKS = ("01_quickstart.ipynb", "02_language_model.ipynb", "03_transfer.ipynb",
             "04_variants_and_interpretation.ipynb", "05_genome_scan.ipynb")


def _execute(name: str, workdir, monkeypatch):
  monkeypatch.setenv("GSLM_SKIP_INSTALL", "1")
  monkeypatch.setenv("GSLM_NOTEBOOK_PRESET", "tiny")
  monkeypatch.setenv("GSLM_NOTEBOOK_EPOCHS", "2")
  monkeypatch.setenv("GSLM_NOTEBOOK_SEEDS", "1")
  monkeypatch.setenv("GSLM_NOTEBOOK_WORKDIR", str(workdir))
  notebook = nbformat.read(REPO / "notebooks" / name, as_version=4)
  NotebookClient(notebook, timeout=900, kernel_name="python3",
                 resources={"metadata": {"path": str(REPO / "notebooks")}}).execute()
  cells = [cell for cell in notebook.cells if cell.cell_type == "code"]
  text = "".join(o.get("text", "") for cell in cells for o in cell.get("outputs", []))
  images = [o for cell in cells for o in cell.get("outputs", [])
            if "image/png" in o.get("data", {})]
  return text, images


def test_quickstart_notebook_executes(tmp_path, monkeypatch):
  outputs, images = _execute("01_quickstart.ipynb", tmp_path, monkeypatch)
  assert "task: multiclass ['EI', 'IE', 'N']" in outputs
  # The setup cell says what runs, not the name of the folder it runs in.
  from gslm_keras import __version__
  assert f"gslm_keras {__version__} from this checkout" in outputs
  assert "test: accuracy" in outputs
  assert outputs.count("predicted") == 5
  assert len(images) == 3
  # Quiet: none of TensorFlow's CUDA start-up lines reach the notebook.
  assert "cuInit" not in outputs and "cudart" not in outputs
  metrics = json.load(open(tmp_path / "model_tiny" / "metrics" / "test.json"))
  assert metrics["n"] == 1186 and metrics["auroc_macro"] > 0.6
  assert not os.path.exists(REPO / "notebooks" / "build")


def test_language_model_notebook_executes(tmp_path, monkeypatch):
  outputs, images = _execute("02_language_model.ipynb", tmp_path, monkeypatch)
  assert "y_pestis_plasmid" in outputs and "a_thaliana_chloroplast" in outputs
  assert outputs.count("bits per base, k-mer (k=") == 2  # dev and test
  assert len(images) == 1  # The LLR map.
  scores = json.load(open(tmp_path / "lm_tiny" / "metrics" / "test.json"))
  assert scores["bits_per_base"] < scores["yardsticks"]["frequencies"]["bits_per_base"]
  import pandas as pd

  llr = pd.read_csv(tmp_path / "llr.tsv", sep="\t", comment="#")
  assert len(llr) == 12 and llr["llr"].notna().all()


def test_transfer_notebook_executes(tmp_path, monkeypatch):
  outputs, images = _execute("03_transfer.ipynb", tmp_path, monkeypatch)
  assert "490 of 4904 training rows" in outputs
  assert "gslm-lm-multispecies - " in outputs
  assert "fine-tuned minus scratch, seed by seed: " in outputs
  assert len(images) == 1  # The dev AUROC curves.
  config = json.load(open(tmp_path / "fine-tuned_seed0" / "config.json"))
  assert config["runtime"]["deterministic"] is True
  source = config["resolved"]["init_from"]
  assert source["source"] == "gslm-lm-multispecies" and source["copied"] == ["backbone"]
  assert source["sha256"] in outputs  # The model card, printed.
  assert json.load(  # The scratch run started from random weights.
      open(tmp_path / "scratch_seed0" / "config.json"))["resolved"]["init_from"] is None
  for name in ("fine-tuned", "scratch"):
    test = json.load(open(tmp_path / f"{name}_seed0" / "metrics" / "test.json"))
    assert test["n"] == 613 and 0 <= test["auroc"] <= 1
    # The printed figure is the run's own.
    assert f"{name} test MCC {test['mcc']:.3f}" in outputs


def test_variants_and_interpretation_notebook_executes(tmp_path, monkeypatch):
  import pysam

  outputs, images = _execute("04_variants_and_interpretation.ipynb", tmp_path,
                             monkeypatch)
  assert "49 variants on a 7200 bp contig" in outputs
  assert "49 variants scored; 3 window(s) padded with N" in outputs
  assert "# strands: forward strand only (default for this model" in outputs
  assert "TATA box at" in outputs and "'sequence_share_mean'" in outputs
  for family in ("TBP (TATA box)", "SP/KLF (GC box)", "NRF1", "NFY (CCAAT box)", "ETS",
                 "YY1", "CREB/ATF1"):
    assert family in outputs
  assert len(images) == 4  # Variant effects, ISM, attributions, logos.
  records = list(pysam.VariantFile(str(tmp_path / "tata_scores.vcf.gz")))
  assert len(records) == 49
  assert sum("GSLM_PADDED" in r.info for r in records) == 3
  families = json.load(open(tmp_path / "interpret" / "families.json"))
  assert set(families) >= {"TBP (TATA box)", "NRF1"}


def test_genome_scan_notebook_executes(tmp_path, monkeypatch):
  import gzip

  import numpy as np
  import pyBigWig
  from Bio import SeqIO

  outputs, images = _execute("05_genome_scan.ipynb", tmp_path, monkeypatch)
  assert "held-out block: 207,980 bases, 85.4% inside an annotated CDS" in outputs
  assert len(images) == 1  # The tracks along the annotation.
  # The printed per-base figures of the scan, recomputed here from its BED and the
  # GenBank annotation.
  name, lo, hi = (tmp_path / "held_out.bed").read_text().split()
  lo, hi = int(lo), int(hi)
  with gzip.open(REPO / "datasets/genomes/chlamydia_trachomatis_CHLTCG.gbk.gz", "rt") as f:
    record = SeqIO.read(f, "genbank")
  cds = np.zeros(hi - lo, bool)
  for feature in record.features:
    if feature.type == "CDS":
      for part in feature.location.parts:
        a, b = max(int(part.start), lo), min(int(part.end), hi)
        cds[max(a - lo, 0):max(b - lo, 0)] = True
  called = np.zeros_like(cds)
  for line in open(tmp_path / "coding.bed"):
    if not line.startswith("track"):
      chrom, a, b = line.split("\t")[:3]
      assert chrom == name and lo <= int(a) < int(b) <= hi
      called[int(a) - lo:int(b) - lo] = True
  precision, recall = (cds & called).sum() / called.sum(), (cds & called).sum() / cds.sum()
  assert f"{'gslm_keras scan':22s} {precision:9.3f} {recall:7.3f}" in outputs
  prodigal = next(l for l in outputs.splitlines() if l.startswith("Prodigal (single)"))
  assert float(prodigal.split()[2]) > 0.95  # The anchor: Prodigal's precision.
  track = pyBigWig.open(str(tmp_path / "coding.bw"))
  assert track.chroms() == {name: len(record)}
  assert track.intervals(name, 0, lo - 100) is None  # Only the held-out block.
  # The track is P(coding), the class the elements are called on: every base of an
  # element is at or above the threshold, and the bases beside it below.
  threshold = json.load(open(tmp_path / "coding.bw.summary.json"))["threshold"]["threshold"]
  for line in list(open(tmp_path / "coding.bed"))[1:40]:
    a, b = map(int, line.split("\t")[1:3])
    assert min(track.values(name, a, b)) >= threshold - 1e-6
    if a - 1 >= lo + 100:
      assert track.values(name, a - 1, a)[0] < threshold
  track.close()


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebooks_are_stored_with_their_outputs(name):
  notebook = nbformat.read(REPO / "notebooks" / name, as_version=4)
  cells = [cell for cell in notebook.cells if cell.cell_type == "code"]
  assert all(cell.get("outputs") for cell in cells), [
      cell.source[:60] for cell in cells if not cell.get("outputs")]
  text = json.dumps(notebook)
  # Nothing of the machine that ran them: no absolute paths, no TensorFlow noise.
  assert "/work/" not in text and "/tmp/" not in text and "cuInit" not in text


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebooks_use_only_the_top_level_api(name):
  # A notebook lives on the package's verbs (gslm_keras.api) and the names the top
  # level exports, not on module paths that a refactor may move.
  import ast

  import gslm_keras

  notebook = nbformat.read(REPO / "notebooks" / name, as_version=4)
  used = []
  for cell in notebook.cells:
    if cell.cell_type != "code":
      continue
    source = "\n".join(line for line in cell.source.splitlines()
                       if not line.lstrip().startswith(("!", "%")))
    for node in ast.walk(ast.parse(source)):
      if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("gslm_keras"):
        assert node.module == "gslm_keras", f"{name}: from {node.module} import ..."
        used += [alias.name for alias in node.names]
      elif isinstance(node, ast.Import):
        for alias in node.names:
          assert not alias.name.startswith("gslm_keras."), f"{name}: import {alias.name}"
  assert used, name
  exported = set(gslm_keras.__all__) | {"presets"}
  assert set(used) <= exported, (name, set(used) - exported)
