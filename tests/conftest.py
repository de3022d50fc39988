"""Shared test fixtures: paths of the bundled data and small real sequence sets."""

from __future__ import annotations

import csv
import os
import pathlib
import re

# Quiet TensorFlow's C++ start-up logging in test output; tests may set the
# environment, library code never does.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import pytest  # noqa: E402

REPO = pathlib.Path(__file__).resolve().parents[1]
DATASETS = REPO / "datasets"
SPLICE_CSV = DATASETS / "splice_statlog" / "splice_statlog_dna.csv"
PROM_DIR = DATASETS / "prom_300_tata"
GENOMES = DATASETS / "genomes"


def shared_data_dir() -> pathlib.Path | None:
  """../shared/data (or $GSLM_SHARED_DATA) when present, for optional checks."""
  path = pathlib.Path(os.environ.get("GSLM_SHARED_DATA", REPO.parent / "shared" / "data"))
  return path if path.is_dir() else None


def read_column(path, column="sequence", limit=None) -> list[str]:
  with open(path, newline="") as handle:
    rows = []
    for row in csv.DictReader(handle):
      rows.append(row[column])
      if limit is not None and len(rows) >= limit:
        break
    return rows


@pytest.fixture(scope="session")
def real_sequences() -> list[str]:
  """Real sequences of several lengths from the bundled data: 300 bp promoters,
  60 bp splice sites and CDS of the Y. pestis plasmid (coding DNA)."""
  from Bio import SeqIO

  sequences = read_column(PROM_DIR / "test.csv", limit=120)
  sequences += read_column(SPLICE_CSV, limit=120)
  record = SeqIO.read(str(GENOMES / "NC_005816.gb"), "genbank")
  sequences += [str(f.extract(record.seq)) for f in record.features if f.type == "CDS"]
  return sequences


@pytest.fixture(scope="session")
def ambiguous_sequences(real_sequences) -> list[str]:
  """Real sequences with N runs, IUPAC codes and lower case planted at fixed places."""
  out = []
  codes = "NRYSWKMBDHVN"
  for i, seq in enumerate(real_sequences[::7]):
    chars = list(seq)
    for j in range(i % 5, len(chars), 11 + i % 7):
      chars[j] = codes[(i + j) % len(codes)]
    if i % 3 == 0:
      chars[:4] = "NNNN"
    text = "".join(chars)
    out.append(text.lower() if i % 4 == 0 else text)
  return out


# Fault cases tried by tests/test_faults.py and what happened; written as markdown
# to $GSLM_FAULTS_REPORT at the end of the session (python -m benchmarks.faults).
FAULT_CASES: list[dict] = []


# How a case ended, as the report counts it. A test that passed saw "held" (the
# work done, nothing lost) or "clear error" (exit 1, one line, nothing written);
# tracebacks, bad input accepted and data lost are what its assertions fail on.
FAULT_KINDS = ("held", "clear error", "traceback", "bad input accepted", "data lost")


@pytest.fixture
def fault_log(request):
  """record(case, outcome, kind): one row of the fault report."""

  def record(case: str, outcome: str, kind: str = "held") -> None:
    assert kind in FAULT_KINDS[:2], kind
    # Temporary paths say nothing to a reader of the report.
    outcome = re.sub(r"/tmp/pytest-of-[^/]+/pytest-\d+/[^/\s]+/", "<tmp>/", outcome)
    FAULT_CASES.append({"test": request.node.originalname, "case": case,
                        "outcome": outcome, "kind": kind})

  return record


def pytest_sessionfinish(session, exitstatus):
  path = os.environ.get("GSLM_FAULTS_REPORT")
  if not path or not FAULT_CASES:
    return
  counts = [sum(case["kind"] == kind for case in FAULT_CASES) for kind in FAULT_KINDS]
  lines = ["| cases | " + " | ".join(FAULT_KINDS) + " |",
           "|---|" + "---|" * len(FAULT_KINDS),
           f"| {len(FAULT_CASES)} | " + " | ".join(map(str, counts)) + " |", "",
           "| case | kind | outcome (checked by the test) | test |", "|---|---|---|---|"]
  for case in FAULT_CASES:
    outcome = case["outcome"].replace("|", "\\|").replace("\n", " ")
    lines.append(f"| {case['case']} | {case['kind']} | {outcome} | `{case['test']}` |")
  with open(path, "w") as handle:
    handle.write("\n".join(lines) + "\n")
