r"""Interprets a trained model: mutagenesis, attribution, learnt motifs.

  python -m gslm_keras.interpret ism --model=build/models/quickstart \
      --sequence=CTAGGCTCCAGATAGCCATAG... --output_dir=build/interpret
  python -m gslm_keras.interpret attribute --model=build/models/quickstart \
      --split=test --limit=200 --output_dir=build/interpret
  python -m gslm_keras.interpret motifs --model=build/models/quickstart \
      --output_dir=build/interpret
  python -m gslm_keras.interpret modisco --model=build/models/quickstart \
      --limit=1000 --output_dir=build/modisco

ism: the effect of all three substitutions at every position (features
recomputed for each mutant), as .npz, .tsv and a heatmap with a logo.
attribute: integrated gradients (or gradient x input) over the one-hot sequence and
the feature vector together, with the completeness gap and each branch's share;
TF-MoDISco-lite inputs (N, 4, L) and per-base tracks.
motifs: first-layer filters as PWMs from their top-activating subsequences, a MEME
file, Tomtom matches against JASPAR (pyjaspar, offline) with q-values (p-values
corrected for the offsets tried, Benjamini-Hochberg over all filter-JASPAR
pairs), logos, and with --families=promoter which promoter motif families the
filters recover.
modisco: TF-MoDISco (modisco-lite) on the integrated gradients of a split: its
patterns (seqlets clustered by their contributions) as a MEME file, matched to
JASPAR with q-values, logos and a Markdown report.
"""

from __future__ import annotations

import json

from absl import app

from gslm_keras import cli, config_flags
from gslm_keras.interpretation.config import COMMANDS, STEPS, InterpretConfig

# One flag per field of InterpretConfig but the command, its documentation as help.
OPTIONS = config_flags.define(InterpretConfig, exclude=("command",),
                              module_name=__name__)


def _ism(config: InterpretConfig):
  from gslm_keras import api
  from gslm_keras.data.readers import read_fasta

  if config.sequence:
    records, source = [("sequence", config.sequence)], "--sequence"
  else:
    records = [(r.id, r.sequence) for r in read_fasta(config.fasta)][:config.limit]
    source = config.fasta
  provided = list(config.provided) if config.provided else None
  for result in api.interpret("ism", config.model, config.output_dir, sequences=records,
                              output_name=config.output_name, provided=provided,
                              source=source, length_mismatch=config.length_mismatch):
    adjusted = result["length_adjustment"]
    note = "" if adjusted == "none" else f" ({adjusted} to the model's window)"
    print(f"{result['id']}: {result['files']}.npz, .tsv, .png{note}")


def _attribute(config: InterpretConfig):
  from gslm_keras import api

  out = config.output_dir
  summary = api.interpret("attribute", config.model, out, data_dir=config.data_dir,
                          split=config.split or "test", limit=config.limit,
                          method=config.method,
                          steps=config.steps or STEPS["attribute"],
                          output_name=config.output_name)
  print(json.dumps(summary, indent=2))
  print(f"TF-MoDISco-lite inputs: {out}/attr_ohe.npz, {out}/attr_attr.npz")


def _motifs(config: InterpretConfig):
  from gslm_keras import api

  out, max_q = config.output_dir, config.max_q
  found = api.interpret("motifs", config.model, out, data_dir=config.data_dir,
                        split=config.split or "train", limit=config.limit,
                        max_q=max_q, tax_group=config.tax_group,
                        families=config.families)
  print(f"{len(found['motifs'])} filter motifs, {len(found['best'])} with a JASPAR "
        f"match (q <= {max_q}) in {found['seconds']['total']:.0f} s; "
        f"{out}/filters.meme, tomtom.tsv, logos.png")
  for name, match in list(found["best"].items())[:10]:
    print(f"  {name}: {match}")
  for family, hit in (found["families"] or {}).items():
    if hit is None:
      print(f"  {family}: not among any filter's top matches")
    else:
      verdict = (f"recovered by {hit['filters']} filter(s)" if hit["recovered"]
                 else f"not recovered at q <= {max_q}")
      print(f"  {family}: {verdict}; best {hit['jaspar']} by {hit['filter']} "
            f"(q={hit['q_value']:.2g})")


def _modisco(config: InterpretConfig):
  from gslm_keras import api

  out, max_q = config.output_dir, config.max_q
  found = api.interpret("modisco", config.model, out, data_dir=config.data_dir,
                        split=config.split or "test", limit=config.limit,
                        steps=config.steps or STEPS["modisco"], max_q=max_q,
                        tax_group=config.tax_group, families=config.families,
                        output_name=config.output_name, max_seqlets=config.max_seqlets)
  summary = found["summary"]
  print(f"{summary['patterns']} patterns from {summary['seqlets']} seqlets of "
        f"{summary['examples']} sequences in {found['seconds']['total']:.0f} s; "
        f"{out}/report.md, patterns.meme, patterns_tomtom.tsv, patterns_logos.png")
  for pattern in found["patterns"][:10]:
    name, row = pattern.motif.name, found["best"].get(pattern.motif.name)
    match = (f"{row['jaspar_name']} ({row['jaspar_id']}, q={row['q_value']:.2g}"
             f"{'' if row['q_value'] <= max_q else ', not kept'})" if row else "no match")
    print(f"  {name}: {pattern.motif.sites} seqlets, {len(pattern.motif.pwm)} bp; {match}")


def main(argv):
  if len(argv) != 2 or argv[1] not in COMMANDS:
    raise app.UsageError(f"expected one command: {' | '.join(COMMANDS)}")
  InterpretConfig.refuse_unused(argv[1], OPTIONS.given())
  config = OPTIONS.build(command=argv[1])  # Before TensorFlow loads.
  {"ism": _ism, "attribute": _attribute, "motifs": _motifs,
   "modisco": _modisco}[argv[1]](config)


def run():
  cli.run(main, positional=1)


if __name__ == "__main__":
  run()
