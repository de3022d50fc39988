"""Bad input: a clear error naming the file, the record and the fault, and no
partial dataset left behind."""

from __future__ import annotations

import gzip
import os

import pytest

from gslm_keras.errors import ConfigError, InputError

from conftest import PROM_DIR, read_column
from helpers import build, leftovers

SEQS = read_column(PROM_DIR / "dev.csv", limit=12)


def _csv(rows, header="sequence,label"):
  return header + "\n" + "".join(r + "\n" for r in rows)


GOOD_ROWS = [f"{s},{i % 2}" for i, s in enumerate(SEQS)]

# (name, file name, file text, build kwargs, error type, regex the message matches)
CASES = [
    ("empty_csv", "in.csv", "", {}, InputError, r"in\.csv: empty file"),
    ("header_only_csv", "in.csv", "sequence,label\n", {}, InputError,
     r"in\.csv: no data rows"),
    ("empty_fasta", "in.fa", "", {"label": "x", "classes": ("x", "y")}, InputError,
     r"in\.fa: empty FASTA file"),
    ("fasta_text_before_header", "in.fa", "ACGT\n>r1\nACGT\n", {"label": "x", "classes": ("x", "y")},
     InputError, r"in\.fa, line 1: text before the first '>'"),
    ("fasta_record_without_sequence", "in.fa",
     f">r1\n{SEQS[0]}\n>r2\n>r3\n{SEQS[1]}\n", {"label": "x", "classes": ("x", "y")}, InputError,
     r"in\.fa, record 2 'r2' \(line 3\): record has no sequence"),
    ("csv_wrong_field_count", "in.csv", _csv(GOOD_ROWS[:3] + [f"{SEQS[3]},1,extra"]), {},
     InputError, r"in\.csv, line 5: has 3 fields, the header has 2"),
    ("csv_unterminated_quote", "in.csv", _csv(GOOD_ROWS[:2]) + f'"{SEQS[2]},1\n', {},
     InputError, r"in\.csv, line 4: a quoted field opens on this line and is never "
                 r"closed \(malformed CSV"),
    ("digit_in_sequence", "in.csv",
     _csv(GOOD_ROWS[:4] + [f"{SEQS[4][:10]}7{SEQS[4][11:]},0"]), {}, InputError,
     r"in\.csv, line 6: character '7' at position 11 is not a IUPAC"),
    ("x_in_sequence", "in.csv", _csv([f"{SEQS[0][:50]}X{SEQS[0][51:]},0"] + GOOD_ROWS[1:]),
     {}, InputError, r"in\.csv, line 2: character 'X' at position 51"),
    ("space_in_sequence", "in.csv",
     _csv(GOOD_ROWS[:1] + [f"{SEQS[1][:99]} {SEQS[1][100:]},1"]), {}, InputError,
     r"in\.csv, line 3: character ' ' at position 100"),
    ("space_in_fasta_line", "in.fa", f">a\n{SEQS[0][:30]} {SEQS[0][31:]}\n",
     {"label": "x", "classes": ("x", "y")}, InputError, r"in\.fa, record 1 'a' \(line 1\): character ' '"),
    ("empty_sequence", "in.csv", _csv(GOOD_ROWS[:2] + [",1"]), {}, InputError,
     r"in\.csv, line 4: empty sequence"),
    ("sequence_too_long", "in.csv", _csv(GOOD_ROWS[:5] + [f"{SEQS[5]}ACG,1"]), {},
     InputError, r"in\.csv, line 7: sequence length 303 is longer than the window "
                 r"length 300 \(set --on_longer=crop\|skip"),
    ("sequence_too_short", "in.csv", _csv(GOOD_ROWS[:5] + [f"{SEQS[5][:250]},1"]), {},
     InputError, r"line 7: sequence length 250 is shorter .* --on_shorter=pad\|skip"),
    ("missing_label_column", "in.csv", _csv(GOOD_ROWS, "sequence,class"), {}, InputError,
     r"in\.csv, line 1: label column 'label' not found; the header has: sequence, class"),
    ("label_outside_declared_classes", "in.csv", _csv(GOOD_ROWS[:6] + [f"{SEQS[6]},2"]),
     {"classes": ("0", "1")}, InputError,
     r"in\.csv, line 8: label '2' is not one of the classes '0', '1'"),
    ("nan_provided_feature", "in.csv",
     _csv([f"{r},{i}" for i, r in enumerate(GOOD_ROWS[:3])] + [f"{GOOD_ROWS[3]},nan"],
          "sequence,label,signal"), {"provided_features": ("signal",)}, InputError,
     r"in\.csv, line 5: provided feature 'signal' = 'nan' is NaN or infinite"),
    ("inf_provided_feature", "in.csv",
     _csv([f"{GOOD_ROWS[0]},inf"] + [f"{r},1" for r in GOOD_ROWS[1:]],
          "sequence,label,signal"), {"provided_features": ("signal",)}, InputError,
     r"line 2: provided feature 'signal' = 'inf' is NaN or infinite"),
    ("missing_provided_feature_by_default", "in.csv",
     _csv([f"{GOOD_ROWS[0]},NA"] + [f"{r},1" for r in GOOD_ROWS[1:]],
          "sequence,label,signal"), {"provided_features": ("signal",)}, InputError,
     r"line 2: provided feature 'signal' is missing \(set --missing_values=fill_mean"),
    ("text_provided_feature", "in.csv",
     _csv([f"{GOOD_ROWS[0]},high"] + [f"{r},1" for r in GOOD_ROWS[1:]],
          "sequence,label,signal"), {"provided_features": ("signal",)}, InputError,
     r"line 2: provided feature 'signal' = 'high' is not a number"),
    ("duplicate_ids", "in.csv",
     _csv([f"id{i % 10},{r}" for i, r in enumerate(GOOD_ROWS)], "id,sequence,label"),
     {"id_column": "id"}, InputError,
     r"in\.csv, line 12: duplicate id 'id0', first seen at .*in\.csv line 2$"),
    ("empty_label", "in.csv", _csv(GOOD_ROWS[:3] + [f"{SEQS[3]},"]), {}, InputError,
     r"in\.csv, line 5: record has no label"),
    ("empty_label_declared_classes", "in.csv", _csv(GOOD_ROWS[:3] + [f"{SEQS[3]}, "]),
     {"classes": ("0", "1")}, InputError, r"in\.csv, line 5: record has no label"),
    ("single_class", "in.csv", _csv([f"{s},1" for s in SEQS]), {}, InputError,
     r"in\.csv: the training labels hold only one class"),
    ("binary_file", "in.csv", b"\x00\x9c\xff" * 50, {}, InputError,
     r"in\.csv: is not UTF-8 text"),
    ("damaged_gzip", "in.csv.gz", gzip.compress(_csv(GOOD_ROWS).encode())[:60], {},
     InputError, r"in\.csv\.gz: is a damaged gzip file"),
    ("regression_label_not_number", "in.csv", _csv(GOOD_ROWS[:2] + [f"{SEQS[2]},high"]),
     {"task": "regression"}, InputError, r"line 4: label 'label' = 'high' is not a number"),
]


@pytest.mark.parametrize("name,filename,text,kwargs,error,pattern", CASES,
                         ids=[c[0] for c in CASES])
def test_bad_input(tmp_path, name, filename, text, kwargs, error, pattern):
  path = tmp_path / filename
  if isinstance(text, bytes):
    path.write_bytes(text)
  else:
    path.write_text(text)
  kwargs = dict(kwargs)
  label = kwargs.pop("label", None)
  spec = f"{path}:label={label}" if label else str(path)
  out = tmp_path / "out" / "ds"
  with pytest.raises(error, match=pattern) as caught:
    build(out, train=[spec], **kwargs)
  assert str(path) in str(caught.value)
  assert not out.exists()
  assert leftovers(tmp_path / "out") == []


def test_dev_label_outside_train_classes(tmp_path):
  train, dev = tmp_path / "train.csv", tmp_path / "dev.csv"
  train.write_text(_csv(GOOD_ROWS))
  dev.write_text(_csv(GOOD_ROWS[:3] + [f"{SEQS[3]},maybe"]))
  with pytest.raises(InputError, match=r"dev\.csv, line 5: label 'maybe' is not one of"):
    build(tmp_path / "out", train=[train], dev=[dev])
  assert not (tmp_path / "out").exists()


def test_gzip_input_is_read(tmp_path):
  path = tmp_path / "in.csv.gz"
  with gzip.open(path, "wt") as handle:
    handle.write(_csv(GOOD_ROWS))
  info = build(tmp_path / "out", train=[path])
  assert info.num_records("train") == len(GOOD_ROWS)


@pytest.mark.parametrize("kwargs,pattern", [
    ({}, "give either --train"),
    ({"train": ["a.csv"], "input": ["b.csv"]}, "not both"),
    ({"input": ["a.csv"]}, "exactly one split rule"),
    ({"input": ["a.csv"], "split_fractions": (0.5, 0.5, 0.5)}, "split_fractions"),
    ({"train": ["a.csv"], "split_column": "s"}, "applies to --input"),
    ({"train": ["a.bed"]}, "BED input needs --reference"),
    ({"train": ["a.gb"]}, "GenBank input needs --recipe"),
    ({"train": ["a.xyz"]}, "cannot tell the format"),
    ({"train": ["a.csv"], "classes": ("x",)}, "need at least 2"),
    ({"train": ["a.csv"], "task": "binary", "classes": ("a", "b", "c")}, "needs 2 classes"),
    ({"train": ["a.csv"], "missing_values": "zero"}, "missing_values='zero'"),
    ({"train": ["a.csv"], "bigwig_features": (("x", "x.bw"),)}, "need coordinates"),
])
def test_bad_config(tmp_path, kwargs, pattern):
  with pytest.raises(ConfigError, match=pattern):
    build(tmp_path / "out", **kwargs)


def test_missing_input_file(tmp_path):
  with pytest.raises(InputError, match=r"nothere\.csv: input file not found"):
    build(tmp_path / "out", train=[tmp_path / "nothere.csv"])


def test_fasta_without_label(tmp_path):
  path = tmp_path / "a.fa"
  path.write_text(f">r\n{SEQS[0]}\n")
  with pytest.raises(ConfigError, match=r"a\.fa needs a label: add :label=<class>"):
    build(tmp_path / "out", train=[path])
  assert os.listdir(tmp_path) == ["a.fa"]


def test_bed_contig_not_in_reference(tmp_path):
  genome = tmp_path / "g.fa"
  genome.write_text(">chr1\n" + SEQS[0] + SEQS[1] + "\n")
  bed = tmp_path / "x.bed"
  bed.write_text("chr1\t100\t200\nchr2\t10\t50\n")
  with pytest.raises(InputError, match=r"x\.bed, line 2: contig 'chr2' is not in the "
                                       r"reference"):
    build(tmp_path / "out", train=[f"{bed}:label=peak", f"{bed}:label=peak2"],
          reference=str(genome), length=50)


def test_byte_order_mark_and_crlf_are_read(tmp_path):
  path = tmp_path / "excel.csv"
  path.write_bytes(b"\xef\xbb\xbf" + _csv(GOOD_ROWS).replace("\n", "\r\n").encode())
  fasta = tmp_path / "win.fa"
  fasta.write_bytes(f">a\r\n{SEQS[0][:150]}\r\n{SEQS[0][150:]}\r\n".encode())
  info = build(tmp_path / "out", train=[path], test=[f"{fasta}:label=1"])
  assert info.num_records("train") == len(GOOD_ROWS)
  assert info.num_records("test") == 1


def test_repeated_fasta_header_words_with_position_ids(tmp_path):
  path = tmp_path / "dup.fa"
  path.write_text("".join(f">sulfate transporter {i}\n{s}\n" for i, s in enumerate(SEQS[:4])))
  with pytest.raises(InputError, match="duplicate id 'sulfate'"):
    build(tmp_path / "a", train=[f"{path}:label=x", f"{path}:label=y"])
  other = tmp_path / "other.fa"
  other.write_text(path.read_text())
  info = build(tmp_path / "b", train=[f"{path}:label=x", f"{other}:label=y"],
               fasta_ids="position")
  assert info.num_records("train") == 8
