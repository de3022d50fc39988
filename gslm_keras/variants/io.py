"""Reading variants (VCF, or a table of explicit sequences) and writing scores.

Readers stream, split multi-allelic records into one variant per ALT, and count
what they skip by reason (symbolic alleles, contigs missing from the reference,
positions past a contig end) so that nothing is dropped silently. Writers write
to a temporary name and put the skip counts into the output's header when done.
"""

from __future__ import annotations

import collections
import csv
import dataclasses
import json
import os
import re
from typing import Iterator, Sequence

from gslm_keras.errors import InputError

_BASES = re.compile(r"^[ACGTNacgtn]+$")


@dataclasses.dataclass
class Variant:
  """One REF>ALT variant.

  Attributes:
    id: VCF ID, or `chrom:pos:ref:alt`, or the table's id.
    chrom: contig (VCF) or the record's name (table).
    pos: 1-based position of REF's first base.
    ref, alt: alleles, upper case.
    locator: where it was read ("record 12").
    sequence: explicit context sequence (table input), else None.
    values: raw provided-feature values from a table, by column name.
  """

  id: str
  chrom: str
  pos: int
  ref: str
  alt: str
  locator: str
  sequence: str | None = None
  values: dict | None = None


def _is_plain_gzip(path: str) -> bool:
  """gzip but not BGZF (whose header carries the 'BC' extra subfield)."""
  with open(path, "rb") as handle:
    head = handle.read(18)
  return head[:2] == b"\x1f\x8b" and not (head[3] & 4 and head[12:14] == b"BC")


def read_vcf(path: str, skipped: collections.Counter) -> Iterator[Variant]:
  """Streams a VCF (plain, gzip or bgzip) one ALT allele at a time."""
  import gzip
  import shutil
  import tempfile

  import pysam

  if not os.path.exists(path):
    raise InputError("VCF not found", path=path)
  source = path
  temporary = None
  if _is_plain_gzip(path):
    # htslib reads BGZF, not plain gzip: decompress to a temporary file, streaming.
    temporary = tempfile.NamedTemporaryFile(suffix=".vcf", delete=False)
    try:
      with gzip.open(path, "rb") as compressed, temporary:
        shutil.copyfileobj(compressed, temporary, 1 << 20)
    except (OSError, EOFError) as error:
      os.unlink(temporary.name)
      raise InputError(f"is a damaged gzip file ({error})", path=path) from None
    source = temporary.name
  try:
    handle = pysam.VariantFile(source)
  except (OSError, ValueError) as error:
    if temporary is not None:
      os.unlink(temporary.name)
    raise InputError(f"cannot read as VCF ({error})", path=path) from None
  try:
    yield from _records(handle, path, skipped)
  finally:
    if temporary is not None:
      os.unlink(temporary.name)


def _records(handle, path, skipped) -> Iterator[Variant]:
  n = 0
  with handle:
    iterator = iter(handle)
    while True:
      try:
        record = next(iterator)
      except StopIteration:
        break
      except (OSError, ValueError) as error:
        raise InputError(f"malformed VCF record ({error})", path=path,
                         record=f"record {n + 1}") from None
      n += 1
      if not record.alts:
        skipped["no_alt_allele"] += 1
        continue
      ref = record.ref.upper()
      for alt in record.alts:
        if alt.startswith("<") or alt in ("*", ".") or "[" in alt or "]" in alt:
          skipped["symbolic_allele"] += 1
          continue
        if not _BASES.match(ref) or not _BASES.match(alt):
          skipped["allele_not_acgtn"] += 1
          continue
        variant_id = record.id or f"{record.chrom}:{record.pos}:{ref}:{alt.upper()}"
        if len(record.alts) > 1 and record.id:
          variant_id = f"{record.id}:{alt.upper()}"
        yield Variant(variant_id, record.chrom, record.pos, ref, alt.upper(),
                      f"record {n} ({record.chrom}:{record.pos})")
  if n == 0:
    raise InputError("no variant records", path=path)


def read_variant_table(path: str, value_columns: Sequence[str] = ()) -> Iterator[Variant]:
  """Streams a TSV/CSV of explicit variants.

  Columns: `sequence` (the context), `position` (0-based start of REF in it),
  `ref`, `alt`; optional `id`, and the provided-feature columns the model needs
  (`<name>` for both alleles, `<name>_alt` for the alternate allele).
  """
  from gslm_keras.data.readers import open_text

  delimiter = "," if path.lower().rstrip(".gz").endswith(".csv") else "\t"
  with open_text(path) as handle:
    reader = csv.DictReader(handle, delimiter=delimiter)
    header = reader.fieldnames or []
    missing = [c for c in ("sequence", "position", "ref", "alt") if c not in header]
    if missing:
      raise InputError(f"variant table lacks column(s) {', '.join(missing)}; it has "
                       f"{', '.join(header) or 'no header'}", path=path, record="line 1")
    n = 0
    for row in reader:
      n += 1
      where = f"line {reader.line_num}"
      try:
        position = int(row["position"])
      except ValueError:
        raise InputError(f"position {row['position']!r} is not an integer", path=path,
                         record=where) from None
      ref, alt = row["ref"].strip().upper(), row["alt"].strip().upper()
      sequence = row["sequence"].strip()
      if not _BASES.match(ref) or not _BASES.match(alt):
        raise InputError(f"alleles {ref!r}>{alt!r} must be A/C/G/T/N", path=path,
                         record=where)
      if not 0 <= position < len(sequence):
        raise InputError(f"position {position} is outside the sequence (length "
                         f"{len(sequence)})", path=path, record=where)
      values = {c: row[c] for c in value_columns if c in row}
      yield Variant(row.get("id") or f"variant{n}", row.get("chrom") or "sequence",
                    position + 1, ref, alt, where, sequence=sequence, values=values)
    if n == 0:
      raise InputError("no variants", path=path)


class ScoreWriter:
  """TSV, Parquet or VCF output, written to a temporary name then renamed.

  The header (TSV comment lines, VCF meta lines) records the skip counts by
  reason and the command; Parquet gets them in a `<output>.summary.json` beside it.
  """

  def __init__(self, path: str, columns: list[str], info_fields: dict[str, str],
               vcf_contigs: dict[str, int] | None = None):
    self.path = path
    self.columns = columns
    self.info_fields = info_fields
    self.kind = ("parquet" if path.endswith(".parquet") else
                 "vcf" if path.endswith((".vcf", ".vcf.gz")) else "tsv")
    self.vcf_contigs = vcf_contigs or {}
    self.body = f"{path}.body-{os.getpid()}"
    self._rows = 0
    if self.kind == "parquet":
      self._parquet = None
    else:
      self._handle = open(self.body, "w", newline="")

  def write(self, rows: list[dict]):
    if not rows:
      return
    self._rows += len(rows)
    if self.kind == "parquet":
      import pyarrow as pa
      import pyarrow.parquet as pq

      table = pa.Table.from_pylist(rows)
      if self._parquet is None:
        self._parquet = pq.ParquetWriter(self.body, table.schema)
      self._parquet.write_table(table)
      return
    if self.kind == "tsv":
      for row in rows:
        self._handle.write("\t".join(_text(row[c]) for c in self.columns) + "\n")
      return
    for row in rows:
      info = ";".join(f"{key}={_text(row[column])}"
                      for key, column in self.info_fields.items())
      if row.get("ref_mismatch"):
        info += ";GSLM_REF_MISMATCH"
      self._handle.write("\t".join([row["chrom"], str(row["pos"]), row["id"], row["ref"],
                                    row["alt"], ".", ".", info]) + "\n")

  def close(self, ok: bool, skipped: dict, command: str | None):
    if self.kind == "parquet":
      if self._parquet is not None:
        self._parquet.close()
    else:
      self._handle.close()
    if not ok:
      if os.path.exists(self.body):
        os.remove(self.body)
      return
    tmp = f"{self.path}.tmp-{os.getpid()}"
    summary = {"rows": self._rows, "skipped": dict(skipped), "command": command}
    if self.kind == "parquet":
      if os.path.exists(self.body):
        os.replace(self.body, self.path)
      with open(self.path + ".summary.json", "w") as handle:
        json.dump(summary, handle, indent=2)
      return
    with open(tmp, "w") as out:
      if self.kind == "tsv":
        out.write(f"# gslm_keras score_variants: {self._rows} rows; skipped "
                  f"{json.dumps(dict(skipped))}; command: {command}\n")
        out.write("\t".join(self.columns) + "\n")
      else:
        out.write("##fileformat=VCFv4.2\n")
        out.write(f"##source=gslm_keras.score_variants {command or ''}\n")
        out.write(f"##gslm_keras_skipped={json.dumps(dict(skipped))}\n")
        for contig, size in self.vcf_contigs.items():
          out.write(f"##contig=<ID={contig},length={size}>\n")
        for key, column in self.info_fields.items():
          out.write(f'##INFO=<ID={key},Number=1,Type=Float,Description="gslm_keras '
                    f'{column}">\n')
        out.write('##INFO=<ID=GSLM_REF_MISMATCH,Number=0,Type=Flag,Description="REF '
                  'differs from the reference genome">\n')
        out.write("#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n")
      with open(self.body) as body:
        for line in body:
          out.write(line)
    os.remove(self.body)
    if self.path.endswith(".gz"):
      import pysam

      pysam.tabix_compress(tmp, tmp + ".bgz", force=True)
      os.remove(tmp)
      tmp = tmp + ".bgz"
    os.replace(tmp, self.path)


def _text(value) -> str:
  if isinstance(value, float):
    return f"{value:.6g}"
  if isinstance(value, bool):
    return "1" if value else "0"
  return str(value)
