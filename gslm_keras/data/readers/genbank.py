"""Ready recipes that turn an annotated GenBank genome into labelled sequences.

- `coding`: windows tiled along each contig, labelled "coding" when every base of
  the window lies in a CDS and "intergenic" when it overlaps no annotated gene, CDS or RNA;
  windows that straddle a boundary are skipped and counted. Windows are read on
  the contig's + strand, so strand carries no label information.
- `function`: each CDS read in its sense orientation, labelled with a functional
  category matched from its /product qualifier (first matching rule wins).
"""

from __future__ import annotations

import dataclasses
import json
import re
from typing import Iterator

from gslm_keras.data.readers.spec import RawRecord
from gslm_keras.errors import ConfigError, InputError
from gslm_keras.io.text import READ_ERRORS, open_text, read_error

RECIPES = ("coding", "function")

# Functional categories matched in order against the CDS /product text, case-
# insensitive. Broad on purpose: a small genome has only a few hundred CDS.
DEFAULT_CATEGORIES = (
    ("hypothetical", r"hypothetical|uncharacteri[sz]ed|unknown function|DUF\d"),
    ("translation", r"ribosom|tRNA.{0,20}(synthetase|ligase)|elongation factor|"
                    r"initiation factor|release factor|releasing factor|"
                    r"amidotransferase|translation"),
    ("transcription", r"RNA polymerase|sigma factor|transcription|regulator|"
                      r"ribonuclease|RNase"),
    ("transport", r"transport|permease|translocase|\bABC\b|porin|channel|efflux|"
                  r"secretion|symporter|antiporter"),
    ("energy", r"photosystem|photosynth|chlorophyll|cytochrome|ATP synthase|"
               r"NADH dehydrogenase|ribulose|ferredoxin|electron transport"),
    ("dna_metabolism", r"DNA|helicase|recombinase|recombination|repair|gyrase|"
                       r"topoisomerase|exonuclease|exodeoxyribonuclease|primase|"
                       r"holliday|transposase|integrase"),
    ("membrane", r"membrane|lipoprotein|envelope|cell wall|peptidoglycan"),
    ("metabolism", r"dehydrogenase|synthase|synthetase|kinase|oxidase|reductase|"
                   r"isomerase|transferase|hydrolase|lyase|mutase|carboxylase|"
                   r"phosphatase|aldolase|epimerase|deaminase|ase\b"),
)
OTHER = "other"


@dataclasses.dataclass(frozen=True)
class GenbankRecipe:
  """Options of the GenBank recipes.

  Attributes:
    name: "coding" or "function".
    window: `coding`: window length; `function`: unused (the length rule crops).
    stride: `coding`: step between windows (= window: no overlap, so windows of
      one region cannot leak between splits).
    category_map: `function`: JSON file {"category": "regex", ...}, in order; the
      default rules when None.
    min_class_count: `function`: categories with fewer CDS in the input are
      merged into "other" (recorded in the manifest), so no class is too rare to
      learn or absent from a split.
  """

  name: str
  window: int = 200
  stride: int = 200
  category_map: str | None = None
  min_class_count: int = 10

  def __post_init__(self):
    if self.name not in RECIPES:
      raise ConfigError(f"recipe={self.name!r}: expected one of {', '.join(RECIPES)}")
    if self.window < 1 or self.stride < 1:
      raise ConfigError(
          f"recipe window={self.window}, stride={self.stride}: expected >= 1")

  def categories(self) -> list[tuple[str, re.Pattern]]:
    rules = DEFAULT_CATEGORIES
    if self.category_map:
      try:
        with open(self.category_map, encoding="utf-8") as handle:
          rules = tuple(json.load(handle).items())
      except (OSError, ValueError) as error:
        raise InputError(f"cannot read the category map: {error}",
                         path=self.category_map) from None
    try:
      return [(name, re.compile(pattern, re.IGNORECASE)) for name, pattern in rules]
    except re.error as error:
      raise InputError(f"bad regex in the category map: {error}",
                       path=self.category_map) from None

  def class_names(self) -> list[str]:
    if self.name == "coding":
      return ["coding", "intergenic"]
    return [name for name, _ in self.categories()] + [OTHER]


_CHECKED_FEATURES = ("CDS", "gene", "tRNA", "rRNA", "ncRNA", "misc_RNA", "tmRNA")


def _feature_name(feature, n: int) -> str:
  qualifiers = feature.qualifiers
  name = (qualifiers.get("locus_tag") or qualifiers.get("gene")
          or qualifiers.get("protein_id") or [f"#{n}"])[0]
  return f"{feature.type} {name}"


def _check_record(record, path: str, n_record: int) -> None:
  """Refuses features without a location or beyond the sequence (a cut file)."""
  size = len(record.seq)
  for n, feature in enumerate(record.features):
    if feature.type not in _CHECKED_FEATURES:
      continue
    where = f"record {n_record} '{record.id}' {_feature_name(feature, n)}"
    if feature.location is None:
      raise InputError("has a location that cannot be read (a malformed feature "
                       "table); fix or remove that feature", path=path, record=where)
    if int(feature.location.end) > size:
      raise InputError(
          f"ends at {int(feature.location.end)}, past the end of the record's sequence "
          f"({size} bp): the file is cut or damaged inside ORIGIN; download it again",
          path=path, record=where)


def _one_line(error: Exception, limit: int = 200) -> str:
  text = " ".join(str(error).split())
  return text if len(text) <= limit else text[:limit] + "..."


def _parse(path):
  import warnings

  from Bio import BiopythonParserWarning, SeqIO  # Deferred: only GenBank needs it.

  n_records = 0
  try:
    with open_text(path) as handle, warnings.catch_warnings():
      # Unreadable locations become None with a warning; _check_record refuses them.
      warnings.simplefilter("ignore", BiopythonParserWarning)
      for record in SeqIO.parse(handle, "genbank"):
        n_records += 1
        _check_record(record, path, n_records)
        yield record
  except READ_ERRORS as error:
    raise read_error(path, error) from None
  except InputError:
    raise
  except ValueError as error:
    raise InputError(f"malformed GenBank file, cut or damaged? (Biopython: "
                     f"{_one_line(error, 120)})", path=path,
                     record=f"record {n_records + 1}") from None
  if n_records == 0:
    raise InputError("no GenBank records (empty or not GenBank)", path=path)


def read_genbank(path: str, recipe: GenbankRecipe,
                 skipped: dict[str, int]) -> Iterator[RawRecord]:
  """Streams the recipe's labelled records from one GenBank file."""
  if recipe.name == "coding":
    yield from _coding_windows(path, recipe, skipped)
  else:
    yield from _cds_function(path, recipe, skipped)


def _coverage_prefix(size, intervals):
  """Prefix sums of a 0/1 mask of the bases covered by any interval."""
  import numpy as np

  depth = np.zeros(size + 1, np.int64)
  for start, end in intervals:
    depth[start] += 1
    depth[end] -= 1
  covered = (np.cumsum(depth[:-1]) > 0).astype(np.int64)
  return np.concatenate([[0], np.cumsum(covered)])


def _coding_windows(path, recipe, skipped):
  for record in _parse(path):
    contig = record.id
    size = len(record.seq)
    sequence = str(record.seq)
    cds, annotated = [], []
    for feature in record.features:
      if feature.type in ("CDS", "gene", "tRNA", "rRNA", "ncRNA", "misc_RNA",
                          "tmRNA"):
        for part in feature.location.parts:
          interval = (int(part.start), int(part.end))
          annotated.append(interval)
          if feature.type == "CDS":
            cds.append(interval)
    in_cds = _coverage_prefix(size, cds)
    in_annotation = _coverage_prefix(size, annotated)
    for start in range(0, size - recipe.window + 1, recipe.stride):
      end = start + recipe.window
      if in_cds[end] - in_cds[start] == recipe.window:
        label = "coding"
      elif in_annotation[end] == in_annotation[start]:
        label = "intergenic"
      else:
        skipped["window_partly_annotated"] = (
            skipped.get("window_partly_annotated", 0) + 1)
        continue
      yield RawRecord(sequence=sequence[start:end],
                      locator=f"record {contig} window {start}-{end}",
                      id=f"{contig}:{start}-{end}", label=label, chrom=contig,
                      start=start, end=end, strand="+")


def _cds_function(path, recipe, skipped):
  categories = recipe.categories()
  for record in _parse(path):
    for n, feature in enumerate(record.features):
      if feature.type != "CDS":
        continue
      qualifiers = feature.qualifiers
      if "pseudo" in qualifiers or "pseudogene" in qualifiers:
        skipped["pseudogene"] = skipped.get("pseudogene", 0) + 1
        continue
      product = qualifiers.get("product", [""])[0]
      label = next((name for name, rule in categories if rule.search(product)), OTHER)
      name = (qualifiers.get("locus_tag") or qualifiers.get("protein_id")
              or [f"{record.id}_cds{n}"])[0]
      strand = "-" if feature.location.strand == -1 else "+"
      yield RawRecord(sequence=str(feature.extract(record.seq)),
                      locator=f"record {record.id} CDS {name}", id=name, label=label,
                      chrom=record.id, start=int(feature.location.start),
                      end=int(feature.location.end), strand=strand)
