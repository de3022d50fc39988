"""The walls of the house, read from the imports (function-local ones included).

Each check reports the offending file and line. The layout is in the README
("Layout") and DESIGN.md. `test_each_wall_catches_a_planted_breach` proves that
every check can fail.
"""

from __future__ import annotations

import ast
import pathlib
import shutil

import pytest

PACKAGE = pathlib.Path(__file__).resolve().parents[1] / "gslm_keras"
ENTRY_POINTS = {"build_dataset", "train", "pretrain", "evaluate", "predict", "embed",
                "scan", "export", "score_variants", "interpret", "tune"}
# Inference-side code: what serves, scores and explains a trained model.
INFERENCE = ("serving", "variants", "interpretation", "inference", "evaluation")
FILE_IO = {"os", "io", "shutil", "tempfile", "pathlib", "glob", "h5py", "pickle"}
MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 60
# A function may be longer when a comment inside it says why.
LONG_MARKER = "# Long:"


class House:
  """The modules of a package tree and their imports."""

  def __init__(self, root: pathlib.Path):
    self.root = root
    self.modules = {self._name(p): p for p in sorted(root.rglob("*.py"))}

  def _name(self, path: pathlib.Path) -> str:
    parts = path.relative_to(self.root.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)

  def target(self, name: str) -> str:
    """The module an imported dotted name refers to (a module or its package)."""
    while name and name not in self.modules:
      name = name.rpartition(".")[0]
    return name

  def imports(self, module: str) -> list[tuple[str, int]]:
    """(imported name, line) of every import, function-local included."""
    found = []
    for node in ast.walk(ast.parse(self.modules[module].read_text())):
      if isinstance(node, ast.Import):
        found += [(alias.name, node.lineno) for alias in node.names]
      elif isinstance(node, ast.ImportFrom) and node.module:
        # `from package import module` depends on the module, not on the
        # package's __init__ (which Python runs first whatever is imported).
        submodules = [f"{node.module}.{alias.name}" for alias in node.names
                      if f"{node.module}.{alias.name}" in self.modules]
        found += [(name, node.lineno) for name in submodules]
        if len(submodules) < len(node.names):
          found.append((node.module, node.lineno))
    return found

  def internal(self, module: str) -> list[tuple[str, int]]:
    return [(self.target(name), line) for name, line in self.imports(module)
            if name.startswith("gslm_keras") and self.target(name)]

  def where(self, module: str, line: int) -> str:
    return f"{self.modules[module].relative_to(self.root.parent)}:{line}"


def _in(module: str, *packages: str) -> bool:
  return any(module == f"gslm_keras.{p}" or module.startswith(f"gslm_keras.{p}.")
             for p in packages)


def _is_building(module: str) -> bool:
  # The builder package (the streaming build and its shard writers).
  return module.startswith("gslm_keras.data.builder")


def dna_and_features_walls(house: House) -> list[str]:
  return [f"{house.where(m, line)} imports {target}"
          for m in house.modules if _in(m, "dna", "features")
          for target, line in house.internal(m)
          if not _in(target, "dna", "features", "errors")]


def models_file_io(house: House) -> list[str]:
  bad = []
  for m in (m for m in house.modules if _in(m, "models")):
    for name, line in house.imports(m):
      if name.split(".")[0] in FILE_IO or _in(house.target(name), "io", "run_dir"):
        bad.append(f"{house.where(m, line)} imports {name}")
    for node in ast.walk(ast.parse(house.modules[m].read_text())):
      if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "open":
        bad.append(f"{house.where(m, node.lineno)} calls open()")
  return bad


def inference_walls(house: House) -> list[str]:
  return [f"{house.where(m, line)} imports {target}"
          for m in house.modules if _in(m, *INFERENCE)
          for target, line in house.internal(m)
          if _is_building(target) or _in(target, "training")]


def beam_walls(house: House) -> list[str]:
  """apache-beam is an optional extra: only data/beam imports it, and the builders
  below it never import data/beam (the arrow points down)."""
  bad = []
  for m in house.modules:
    if _in(m, "data.beam"):
      continue
    for name, line in house.imports(m):
      if name.split(".")[0] == "apache_beam" or (
          _is_building(m) and _in(house.target(name), "data.beam")):
        bad.append(f"{house.where(m, line)} imports {name}")
  return bad


def entry_point_imports(house: House) -> list[str]:
  def is_entry(module):
    return module.count(".") == 1 and module.rpartition(".")[2] in ENTRY_POINTS

  return [f"{house.where(m, line)} imports entry point {target}"
          for m in house.modules if not is_entry(m)
          for target, line in house.internal(m) if is_entry(target)]


def import_cycles(house: House) -> list[str]:
  edges = {m: {} for m in house.modules}
  for m in house.modules:
    for target, line in house.internal(m):
      if target != m:
        edges[m].setdefault(target, line)
  state: dict[str, int] = {}
  stack: list[str] = []
  cycles = []

  def visit(node):
    state[node] = 1
    stack.append(node)
    for nxt in sorted(edges[node]):
      if state.get(nxt) == 1:
        cycle = stack[stack.index(nxt):] + [nxt]
        cycles.append(" -> ".join(f"{a} ({house.where(a, edges[a][b])})"
                                  for a, b in zip(cycle, cycle[1:])))
      elif nxt not in state:
        visit(nxt)
    stack.pop()
    state[node] = 2

  for module in sorted(edges):
    if module not in state:
      visit(module)
  return cycles


def _docstring_lines(node) -> int:
  first = node.body[0]
  if (isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant)
      and isinstance(first.value.value, str)):
    return first.end_lineno - first.lineno + 1
  return 0


def oversized(house: House) -> list[str]:
  """Modules over 400 lines; functions over 60 (docstrings not counted)."""
  bad = []
  for module, path in house.modules.items():
    lines = path.read_text().splitlines()
    if len(lines) > MAX_MODULE_LINES:
      bad.append(f"{house.where(module, 1)}: {len(lines)} lines "
                 f"(at most {MAX_MODULE_LINES})")
    for node in ast.walk(ast.parse(path.read_text())):
      if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
        length = node.end_lineno - node.lineno + 1 - _docstring_lines(node)
        body = "\n".join(lines[node.lineno - 1:node.end_lineno])
        if length > MAX_FUNCTION_LINES and LONG_MARKER not in body:
          bad.append(f"{house.where(module, node.lineno)} {node.name}: {length} lines "
                     f"(at most {MAX_FUNCTION_LINES}, or a '{LONG_MARKER}' comment "
                     "saying why)")
  return bad


def generated_names(house: House) -> list[str]:
  """No package folder named like generated output: packaging tools, linters and
  .gitignore files skip folders named `build` or `dist`."""
  return [f"{house.where(m, 1)}: in a folder named {part!r}"
          for m, path in house.modules.items()
          for part in path.relative_to(house.root).parts[:-1]
          if part in ("build", "dist")]


CHECKS = [dna_and_features_walls, models_file_io, inference_walls, beam_walls,
          entry_point_imports, import_cycles, oversized, generated_names]


@pytest.mark.parametrize("check", CHECKS, ids=lambda c: c.__name__)
def test_wall_holds(check):
  found = check(House(PACKAGE))
  assert not found, "\n".join(found)


def test_each_wall_catches_a_planted_breach(tmp_path):
  root = tmp_path / "gslm_keras"
  shutil.copytree(PACKAGE, root, ignore=shutil.ignore_patterns("__pycache__"))
  plants = {
      dna_and_features_walls: ("dna/alphabet.py", "def f():\n  import gslm_keras.training\n"),
      models_file_io: ("models/builder.py", "def f():\n  return open('x')\n"),
      inference_walls: ("variants/scoring.py",
                        "def f():\n  from gslm_keras.data.builder import builder\n"),
      beam_walls: ("data/builder/builder.py", "def f():\n  import apache_beam\n"),
      entry_point_imports: ("evaluation/plots.py",
                            "def f():\n  from gslm_keras import train\n"),
      import_cycles: ("dna/length.py", "def f():\n  from gslm_keras.dna import ops\n"),
      oversized: ("errors.py", "def f():\n" + "  x = 1\n" * 70),
      generated_names: ("io/build/__init__.py", '"""A folder tools skip."""\n'),
  }
  # ops imports alphabet; planting `alphabet -> length -> ops -> alphabet` needs one
  # more edge.
  (root / "dna" / "ops.py").write_text((root / "dna" / "ops.py").read_text()
                                       + "\nfrom gslm_keras.dna import length\n")
  for relative, text in plants.values():
    path = root / relative
    path.parent.mkdir(exist_ok=True)
    path.touch()
    path.write_text(path.read_text() + "\n\n" + text)
  house = House(root)
  for check, (relative, _) in plants.items():
    found = check(house)
    assert any(f"gslm_keras/{relative}:" in line for line in found), (check.__name__,
                                                                       found)
