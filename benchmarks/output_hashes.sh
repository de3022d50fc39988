#!/bin/bash
# Hashes of what the quickstart model and the tiny language model (trained in the
# current directory's build/models) give through score_variants, interpret ism,
# export and predict, without comment lines (they name paths). For
# `python -m benchmarks.before_after`: the same script runs in both checkouts,
#   python -m benchmarks.before_after --before=../old --must_match="scores " ... \
#       -- bash "$PWD/benchmarks/output_hashes.sh"
# Needs python (with the checkout's requirements) and saved_model_cli on PATH.
set -euo pipefail
out=build/output_hashes
rm -rf "$out"
mkdir -p "$out"
# 150 substitutions (0-based positions) in 50 StatLog sequences, and one sequence.
python - "$out" <<'PY'
import csv, sys
rows = list(csv.DictReader(open("datasets/splice_statlog/splice_statlog_dna.csv")))
with open(f"{sys.argv[1]}/variants.tsv", "w") as out:
  out.write("id\tsequence\tposition\tref\talt\n")
  for i, row in enumerate(rows[:400:8]):
    s = row["sequence"].upper()
    for p in (10, 29, 45):
      if s[p] in "ACGT":
        out.write(f"v{i}_{p}\t{s}\t{p}\t{s[p]}\t{'ACGT'[('ACGT'.index(s[p]) + 1) % 4]}\n")
open(f"{sys.argv[1]}/seq.txt", "w").write(rows[3]["sequence"].upper())
PY
h() { grep -v '^#' "$1" | sha256sum | cut -c1-16; }
# saved_model_cli prints the op names as a Python set, in no fixed order: sorted.
signatures() {
  saved_model_cli show --all --dir "$1" 2>/dev/null | python -c '
import re, sys
for line in sys.stdin:
  m = re.match(r"(.*contains the following ops: )\{(.*)\}$", line.rstrip("\n"))
  print(m[1] + ", ".join(sorted(m[2].split(", "))) if m else line, end="" if not m else "\n")
' | sha256sum | cut -c1-16
}
for m in quickstart lm_tiny; do
  M=build/models/$m
  python -m gslm_keras.score_variants --model=$M --variants=$out/variants.tsv \
      --output=$out/$m.scores.tsv --strand_average >/dev/null 2>&1
  echo "scores $m: $(h $out/$m.scores.tsv) ($(grep -vc '^#' $out/$m.scores.tsv) lines)"
  python -m gslm_keras.interpret ism --model=$M --sequence="$(cat $out/seq.txt)" \
      --output_dir=$out/ism_$m >/dev/null 2>&1
  echo "ism $m: $(h $out/ism_$m/ism_sequence.tsv)"
  python -m gslm_keras.export --model=$M --export_base=$out/export --model_name=$m \
      >/dev/null 2>&1
  echo "export $m: signatures $(signatures $out/export/$m/1); assets" \
      "$(ls $out/export/$m/1/assets | tr '\n' ' ')"
done
python -m gslm_keras.predict --model=build/models/quickstart --input=$out/variants.tsv \
    --id_column=id --output=$out/predictions.tsv >/dev/null 2>&1
echo "predict quickstart: $(h $out/predictions.tsv)"
