"""Reading variants (VCF, or a table of explicit sequences) and writing scores.

Readers stream, split multi-allelic records into one variant per ALT, and count
what they skip by reason (symbolic alleles, contigs missing from the reference,
positions past a contig end) so that nothing is dropped silently. Writers write
to a temporary name and put the skip counts into the output's header when done.
"""

from __future__ import annotations

import collections
import dataclasses
import json
import os
from typing import Any, Iterator, Mapping, Sequence

from gslm_keras.dna import alphabet
from gslm_keras.errors import InputError
from gslm_keras.io.tables import TableWriter, prepend, text
from gslm_keras.io.text import READ_ERRORS, csv_rows, is_plain_gzip, open_text


def _allele(text: str) -> bool:
  return alphabet.all_in(text, alphabet.ALLELE_LETTERS)


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
    qual, filter: the input VCF's QUAL and FILTER, carried into a VCF output.
  """

  id: str
  chrom: str
  pos: int
  ref: str
  alt: str
  locator: str
  sequence: str | None = None
  values: dict | None = None
  qual: str = "."
  filter: str = "."

  def row(self, ref_mismatch: bool, padded: bool) -> dict:
    """The row keys of an output row (`report.ROW_KEYS`), with QUAL and FILTER for
    a VCF output."""
    return {"id": self.id, "chrom": self.chrom, "pos": self.pos, "ref": self.ref,
            "alt": self.alt, "ref_mismatch": ref_mismatch, "padded": padded,
            "qual": self.qual, "filter": self.filter}


def read_vcf(path: str, skipped: collections.Counter) -> Iterator[Variant | InputError]:
  """Streams a VCF (plain, gzip or bgzip) one ALT allele at a time; a record that
  cannot be scored is yielded as the InputError that says why."""
  import gzip
  import shutil
  import tempfile

  import pysam

  pysam.set_verbosity(0)  # htslib's own messages would repeat ours on stderr.
  if not os.path.exists(path):
    raise InputError("VCF not found", path=path)
  source = path
  temporary = None
  if is_plain_gzip(path):
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


def _records(handle, path, skipped) -> Iterator[Variant | InputError]:
  n = 0
  with handle:
    iterator = iter(handle)
    while True:
      try:
        record = next(iterator)
      except StopIteration:
        break
      except (OSError, ValueError) as error:
        where, reason = _diagnose(path, n + 1)
        raise InputError(reason or f"malformed VCF record ({error})", path=path,
                         record=where) from None
      n += 1
      if record.pos < 1:
        yield InputError(f"POS {record.pos} is not a position (VCF positions start at 1)",
                         path=path, record=f"record {n} ({record.chrom}:{record.pos})")
        continue
      if not record.alts:
        skipped["no_alt_allele"] += 1
        continue
      ref = record.ref.upper()
      for alt in record.alts:
        if alt.startswith("<") or alt in ("*", ".") or "[" in alt or "]" in alt:
          skipped["symbolic_allele"] += 1
          continue
        if not _allele(ref) or not _allele(alt):
          skipped["allele_not_acgtn"] += 1
          continue
        variant_id = record.id or f"{record.chrom}:{record.pos}:{ref}:{alt.upper()}"
        if len(record.alts) > 1 and record.id:
          variant_id = f"{record.id}:{alt.upper()}"
        yield Variant(variant_id, record.chrom, record.pos, ref, alt.upper(),
                      f"record {n} ({record.chrom}:{record.pos})",
                      qual="." if record.qual is None else f"{record.qual:g}",
                      filter=";".join(record.filter.keys()) or ".")
  if n == 0:
    raise InputError("no variant records", path=path)


def _diagnose(path: str, number: int) -> tuple[str, str | None]:
  """(locator, reason) of the `number`-th data line of a VCF that htslib refused."""
  where = f"record {number}"
  try:
    with open_text(path) as handle:
      seen = 0
      for line_no, line in enumerate(handle, start=1):
        if line.startswith("#") or not line.strip():
          continue
        seen += 1
        if seen < number:
          continue
        fields = line.rstrip("\r\n").split("\t")
        where = f"record {number} (line {line_no})"
        if len(fields) < 8:
          return where, (f"has {len(fields)} tab-separated fields, a VCF line has at "
                         "least 8 (CHROM POS ID REF ALT QUAL FILTER INFO)")
        if not fields[1].isdigit():
          return where, f"POS {fields[1]!r} is not a whole number"
        return where, None
  except (InputError, *READ_ERRORS):
    pass
  return where, None


def _table_variant(row: dict, path: str, where: str, n: int,
                   value_columns: Sequence[str]) -> Variant:
  """The variant of one table row, or an InputError naming what is wrong."""
  try:
    position = int(row["position"])
  except ValueError:
    raise InputError(f"position {row['position']!r} is not an integer", path=path,
                     record=where) from None
  ref, alt = row["ref"].strip().upper(), row["alt"].strip().upper()
  sequence = row["sequence"].strip()
  if not _allele(ref) or not _allele(alt):
    raise InputError(f"alleles {ref!r}>{alt!r} must be A/C/G/T/N", path=path,
                     record=where)
  alphabet.check_letters(sequence, path, where, what="of the sequence")
  if not 0 <= position < len(sequence):
    raise InputError(f"position {position} is outside the sequence (length "
                     f"{len(sequence)})", path=path, record=where)
  values = {c: row[c] for c in value_columns if c in row}
  return Variant(row.get("id") or f"variant{n}", row.get("chrom") or "sequence",
                 position + 1, ref, alt, where, sequence=sequence, values=values)


def read_variant_table(path: str, value_columns: Sequence[str] = ()
                       ) -> Iterator[Variant | InputError]:
  """Streams a TSV/CSV of explicit variants.

  Columns: `sequence` (the context), `position` (0-based start of REF in it),
  `ref`, `alt`; optional `id`, and the provided-feature columns the model needs
  (`<name>` for both alleles, `<name>_alt` for the alternate allele). A row that
  cannot be scored is yielded as the InputError that says why, so that the
  scorer can stop or skip it; a file that cannot be read raises.
  """
  delimiter = "," if path.lower().removesuffix(".gz").endswith(".csv") else "\t"
  with open_text(path) as handle:
    rows = csv_rows(handle, path, delimiter)
    _, header = next(rows, (0, []))
    missing = [c for c in ("sequence", "position", "ref", "alt") if c not in header]
    if missing:
      raise InputError(f"variant table lacks column(s) {', '.join(missing)}; it has "
                       f"{', '.join(header) or 'no header'}", path=path, record="line 1")
    n = 0
    for line, fields in rows:
      if not fields or (len(fields) == 1 and not fields[0].strip()):
        continue
      n += 1
      where = f"line {line}"
      if len(fields) != len(header):
        yield InputError(f"has {len(fields)} fields, the header has {len(header)}",
                         path=path, record=where)
        continue
      try:
        yield _table_variant(dict(zip(header, fields)), path, where, n, value_columns)
      except InputError as error:
        yield error
    if n == 0:
      raise InputError("no variants", path=path)


class VcfWriter(TableWriter):
  """Scores as a VCF: one line per variant, every score an INFO field.

  Args:
    path: .vcf or .vcf.gz (bgzip, so that tabix can index it).
    info_fields: INFO key -> (row column, description).
    contigs: contig lengths for the header.
  """

  def __init__(self, path: str, info_fields: Mapping[str, tuple[str, str]],
               contigs: Mapping[str, int]):
    super().__init__(path, [])
    self.kind = "vcf"
    self.info_fields = dict(info_fields)
    self.contigs = dict(contigs)
    self.filters: set[str] = set()  # The input's FILTER values, declared at close.

  def write(self, rows: Sequence[Mapping[str, Any]]) -> None:
    self.rows += len(rows)
    for row in rows:
      info = ";".join(f"{key}={text(row[column])}"
                      for key, (column, _) in self.info_fields.items())
      if row.get("ref_mismatch"):
        info += ";GSLM_REF_MISMATCH"
      if row.get("padded"):
        info += ";GSLM_PADDED"
      self.filters.update(f for f in row.get("filter", ".").split(";")
                          if f not in (".", "PASS"))
      self._handle.write("\t".join([row["chrom"], str(row["pos"]), row["id"], row["ref"],
                                    row["alt"], row.get("qual", "."),
                                    row.get("filter", "."), info]) + "\n")

  def close(self, ok: bool, comments: Sequence[str] = (),
            summary: Mapping[str, Any] | None = None) -> None:
    """Writes the header (source, skipped counts, contigs, INFO) and the lines."""
    self._handle.close()
    try:
      if not ok:
        return
      summary = dict(summary or {})
      head = ["##fileformat=VCFv4.2\n",
              f"##source=gslm_keras.score_variants {summary.get('command') or ''}\n",
              f"##gslm_keras_skipped={json.dumps(summary.get('skipped', {}))}\n",
              f"##gslm_keras_rejected={summary.get('rejected', 0)}\n",
              f"##gslm_keras_padded={summary.get('padded', 0)}\n"]
      head += [f"##gslm_keras_note={note}\n" for note in summary.get("notes", [])]
      head += [f"##contig=<ID={c},length={n}>\n" for c, n in self.contigs.items()]
      head += [f'##FILTER=<ID={f},Description="FILTER {f} of the input VCF">\n'
               for f in sorted(self.filters)]
      head += [f'##INFO=<ID={key},Number=1,Type=Float,Description="{description}">\n'
               for key, (_, description) in self.info_fields.items()]
      head += ['##INFO=<ID=GSLM_REF_MISMATCH,Number=0,Type=Flag,Description="REF '
               'differs from the reference genome">\n',
               '##INFO=<ID=GSLM_PADDED,Number=0,Type=Flag,Description="The window ran '
               'past the end of the contig and was filled with N">\n',
               "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"]
      if not self.path.endswith(".gz"):
        prepend(self.path, head, self.body)
        return
      import pysam

      plain = f"{self.body}.vcf"
      try:
        prepend(plain, head, self.body)
        pysam.tabix_compress(plain, plain + ".bgz", force=True)
        os.replace(plain + ".bgz", self.path)
      finally:
        for leftover in (plain, plain + ".bgz"):
          if os.path.exists(leftover):
            os.remove(leftover)
    finally:
      if os.path.exists(self.body):
        os.remove(self.body)


def lock_outputs(stack, outputs: Sequence[str], overwrite: bool) -> None:
  """Takes the lock of every score output (with its rejects file and summary)
  on `stack`, a `contextlib.ExitStack`, after checking that each may be written
  (`check_file_output`)."""
  from gslm_keras.io.outputs import check_file_output, exclusive_output
  from gslm_keras.io.tables import rejects_path

  for path in outputs:
    check_file_output(path, overwrite)
  for path in outputs:
    also = (rejects_path(path), path + ".summary.json") + (
        (path + ".tbi",) if path.endswith(".bgz") else ())
    stack.enter_context(exclusive_output(path, "score output", also=also))


def open_writer(path: str, columns: Sequence[str],
                info_fields: Mapping[str, tuple[str, str]],
                contigs: Mapping[str, int] | None) -> TableWriter:
  """A TSV, Parquet or VCF (.vcf, .vcf.gz) writer of score rows (a tabix-indexed
  TSV, .bgz: `all_snvs.TabixWriter`)."""
  if path.endswith((".vcf", ".vcf.gz")):
    return VcfWriter(path, info_fields, contigs or {})
  return TableWriter(path, columns)


class FanOut:
  """The same rows to several writers (a TSV and a VCF of one run)."""

  def __init__(self, writers: Sequence[TableWriter]):
    self.writers = list(writers)

  @property
  def rows(self) -> int:
    return self.writers[0].rows

  def write(self, rows: Sequence[Mapping[str, Any]]) -> None:
    for writer in self.writers:
      writer.write(rows)

  def close(self, ok: bool, comments: Sequence[str] = (),
            summary: Mapping[str, Any] | None = None) -> None:
    for writer in self.writers:
      writer.close(ok, comments=comments, summary=summary)


def close_writer(writer: TableWriter | FanOut, ok: bool, skipped: Mapping[str, int],
                 rejects, command: str | None, notes: Sequence[str] = (),
                 padded: int = 0) -> None:
  """Closes score writers with the row, skip, reject and padding counts and the
  notes (strands, score scale) in their header or summary."""
  summary = {"rows": writer.rows, "skipped": dict(skipped), "rejected": rejects.count,
             "rejects": rejects.path if rejects.count else None, "padded": padded,
             "notes": list(notes), "command": command}
  comments = [f"gslm_keras score_variants: {writer.rows} rows; skipped "
              f"{json.dumps(dict(skipped))}; {rejects.describe()}; command: "
              f"{command or 'called from Python'}"]
  writer.close(ok, comments=comments + list(notes), summary=summary)
