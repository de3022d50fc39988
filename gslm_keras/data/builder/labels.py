"""Labels: the task type, the class names (declared or discovered) and the encoder."""

from __future__ import annotations

from typing import Sequence

from absl import logging

from gslm_keras.data.builder.config import BuildConfig
from gslm_keras.data.builder.sources import Sources
from gslm_keras.data.readers.genbank import OTHER
from gslm_keras.encoding.schema import label_kind
from gslm_keras.errors import ConfigError, InputError
from gslm_keras.features.provided import parse_finite

MAX_DISCOVERED_CLASSES = 1000


def _sort_classes(values):
  try:
    return sorted(values, key=int)
  except ValueError:
    return sorted(values)


class LabelPlan:
  """Task type, class names and the raw-label encoder."""

  def __init__(self, task: str, classes: Sequence[str], label_columns, separator,
               aliases: dict[str, str] | None = None):
    self.task = task
    self.classes = list(classes)
    self.label_columns = list(label_columns)
    self.separator = separator
    self.aliases = dict(aliases or {})
    self._index = {name: i for i, name in enumerate(self.classes)}
    for alias, name in self.aliases.items():
      self._index[alias] = self._index[name]

  @property
  def label_kind(self) -> str:
    return label_kind(self.task)

  def describe(self) -> dict:
    """The manifest's `task` entry."""
    task = {"type": self.task, "classes": self.classes or None,
            "label_columns": self.label_columns}
    if self.task == "binary":
      task["positive_class"] = self.classes[1]
    if self.aliases:
      task["merged_classes"] = self.aliases
    return task

  def encode(self, raw: str | None, path: str, locator: str):
    # An empty multilabel cell is a record with none of the classes.
    if raw is None or (not raw.strip() and self.task != "multilabel"):
      raise InputError("record has no label (empty label)", path=path, record=locator)
    if self.task == "regression":
      return [parse_finite(text, f"label {column!r}", path, locator)
              for column, text in zip(self.label_columns, raw.split("\t"))]
    if self.task == "multilabel":
      vector = [0.0] * len(self.classes)
      for name in filter(None, (t.strip() for t in raw.split(self.separator))):
        if name not in self._index:
          raise InputError(self._unknown(name), path=path, record=locator)
        vector[self._index[name]] = 1.0
      return vector
    if raw not in self._index:
      raise InputError(self._unknown(raw), path=path, record=locator)
    return self._index[raw]

  def _unknown(self, name):
    return (f"label {name!r} is not one of the classes "
            f"{', '.join(map(repr, self.classes))}")

  def stratum(self, encoded) -> str:
    """The group a stratified split keeps in proportion: the class (set)."""
    if self.task == "regression":
      return ""
    return "|".join(self.class_names_of(encoded))

  def class_names_of(self, encoded) -> list[str]:
    """Class names an encoded label counts towards (for per-split counts)."""
    if self.task in ("binary", "multiclass"):
      return [self.classes[encoded]]
    if self.task == "multilabel":
      return [c for c, on in zip(self.classes, encoded) if on]
    return []


def _recipe_classes(recipe, sources: Sources) -> tuple[list[str], dict[str, str]]:
  """Classes of the GenBank function recipe, rare categories merged into `other`."""
  counts = {name: 0 for name in recipe.class_names()}
  for index in range(len(sources.specs)):
    for record, _ in sources.records(index, {}):
      counts[record.label] += 1
  classes = [name for name, n in counts.items()
             if n >= recipe.min_class_count and name != OTHER]
  aliases = {name: OTHER for name, n in counts.items()
             if 0 < n < recipe.min_class_count and name != OTHER}
  if aliases or counts[OTHER]:
    classes.append(OTHER)
  if aliases:
    logging.info("Categories with fewer than %d CDS merged into %r: %s",
                 recipe.min_class_count, OTHER, ", ".join(sorted(aliases)))
  return classes, aliases


def _scanned_classes(config: BuildConfig, sources: Sources) -> list[str]:
  """Classes found in the training inputs (all input with --input: the split is
  not known yet); dev and test labels must be among them."""
  found: set[str] = set()
  for index, (spec, split) in enumerate(sources.specs):
    if split not in ("train", None):
      continue
    for record, _ in sources.records(index, {}):
      raw = record.label
      if raw is None or (not raw.strip() and config.task != "multilabel"):
        raise InputError("record has no label (empty label)", path=spec.path,
                         record=record.locator)
      if config.task == "multilabel":
        found.update(t.strip() for t in raw.split(config.multilabel_separator)
                     if t.strip())
      else:
        found.add(raw)
      if len(found) > MAX_DISCOVERED_CLASSES:
        raise ConfigError(
            f"the label column has more than {MAX_DISCOVERED_CLASSES} distinct "
            "values; for a numeric target pass --task=regression, or declare "
            "--classes")
  classes = _sort_classes(found)
  if len(classes) < 2 and config.task != "multilabel":
    raise InputError(
        f"the training labels hold only one class ({classes}); a classifier "
        "needs at least two", path=sources.specs[0][0].path)
  return classes


def discover_labels(config: BuildConfig, sources: Sources) -> LabelPlan:
  """Declared or discovered classes, and the task type."""
  task = config.task
  if task == "regression":
    return LabelPlan(task, [], config.label_columns, config.multilabel_separator)
  aliases: dict[str, str] = {}
  recipe = config.recipe
  if config.classes is not None:
    classes = list(config.classes)
  elif recipe is not None and recipe.name == "coding":
    classes = recipe.class_names()
  elif recipe is not None:
    classes, aliases = _recipe_classes(recipe, sources)
  else:
    classes = _scanned_classes(config, sources)
  if task == "auto":
    task = "binary" if len(classes) == 2 else "multiclass"
  if task == "binary" and len(classes) != 2:
    raise ConfigError(f"task=binary but the labels hold {len(classes)} classes: "
                      f"{classes}")
  return LabelPlan(task, classes, config.label_columns, config.multilabel_separator,
                   aliases)
