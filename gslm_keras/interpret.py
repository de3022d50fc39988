r"""Interprets a trained model: mutagenesis, attribution, learnt motifs.

  python -m gslm_keras.interpret ism --model=build/models/quickstart \
      --sequence=CTAGGCTCCAGATAGCCATAG... --output_dir=build/interpret
  python -m gslm_keras.interpret attribute --model=build/models/quickstart \
      --split=test --limit=200 --output_dir=build/interpret
  python -m gslm_keras.interpret motifs --model=build/models/quickstart \
      --output_dir=build/interpret

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
"""

from __future__ import annotations

import json

from absl import app, flags

from gslm_keras import cli

COMMANDS = ("ism", "attribute", "motifs")

_MODEL = flags.DEFINE_string(
    "model", None, "model_dir of a training run; for ism also a language model or a "
    "preset name (the LLR map: every substitution, its position masked).")
_OUTPUT_DIR = flags.DEFINE_string("output_dir", None, "Where the results go.")
_OUTPUT_NAME = flags.DEFINE_string(
    "output_name", None, "Class or target to explain (default: the positive class, "
    "or the first).")
_SEQUENCE = flags.DEFINE_string("sequence", None, "ism: a raw DNA sequence.")
_FASTA = flags.DEFINE_string("fasta", None, "ism: FASTA whose records to mutate.")
_PROVIDED = flags.DEFINE_list("provided", None, "ism: provided feature values.")
_LENGTH_MISMATCH = flags.DEFINE_enum(
    "length_mismatch", "rule", ["rule", "adjust"], "ism: a sequence whose length is not "
    "the model's window: follow the training dataset's length rule, or crop / pad it.")
_DATA_DIR = flags.DEFINE_string("data_dir", None,
                                "attribute / motifs: dataset (default: the model's).")
_SPLIT = flags.DEFINE_string("split", None, "attribute (test) / motifs (train): split.")
_LIMIT = flags.DEFINE_integer("limit", 500, "attribute / motifs: sequences used.")
_METHOD = flags.DEFINE_enum("method", "integrated_gradients",
                            ["integrated_gradients", "gradient_x_input"],
                            "attribute: method.")
_STEPS = flags.DEFINE_integer("steps", 128, "attribute: integration steps.")
_MAX_Q = flags.DEFINE_float("max_q", 0.05, "motifs: q-value cut-off (Tomtom p-values "
                            "calibrated on column-shuffled filters, Benjamini-Hochberg "
                            "over all filter-JASPAR pairs).")
_FAMILIES = flags.DEFINE_enum("families", None, ["promoter"],
                              "motifs: report which known motif families the filters "
                              "recover (promoter: TBP, SP/KLF, NRF1, NFY, ETS, YY1, "
                              "CREB) in families.json.")
_TAX_GROUP = flags.DEFINE_string("tax_group", "vertebrates",
                                 "motifs: JASPAR taxonomic group ('' for all).")


def _ism(model, output_dir):
  from gslm_keras import api
  from gslm_keras.data.readers import read_fasta
  from gslm_keras.errors import ConfigError

  if _SEQUENCE.value:
    records, source = [("sequence", _SEQUENCE.value)], "--sequence"
  elif _FASTA.value:
    records = [(r.id, r.sequence) for r in read_fasta(_FASTA.value)][:_LIMIT.value]
    source = _FASTA.value
  else:
    raise ConfigError("ism needs --sequence or --fasta")
  try:
    provided = [float(v) for v in _PROVIDED.value] if _PROVIDED.value else None
  except ValueError:
    raise ConfigError(f"--provided={','.join(_PROVIDED.value)}: expected numbers") from None
  for result in api.interpret("ism", model, output_dir, sequences=records,
                              output_name=_OUTPUT_NAME.value, provided=provided,
                              source=source, length_mismatch=_LENGTH_MISMATCH.value):
    adjusted = result["length_adjustment"]
    note = "" if adjusted == "none" else f" ({adjusted} to the model's window)"
    print(f"{result['id']}: {result['files']}.npz, .tsv, .png{note}")


def _attribute(model, output_dir):
  from gslm_keras import api

  summary = api.interpret("attribute", model, output_dir, data_dir=_DATA_DIR.value,
                          split=_SPLIT.value or "test", limit=_LIMIT.value,
                          method=_METHOD.value, steps=_STEPS.value,
                          output_name=_OUTPUT_NAME.value)
  print(json.dumps(summary, indent=2))
  print(f"TF-MoDISco-lite inputs: {output_dir}/attr_ohe.npz, {output_dir}/attr_attr.npz")


def _motifs(model, output_dir):
  from gslm_keras import api

  found = api.interpret("motifs", model, output_dir, data_dir=_DATA_DIR.value,
                        split=_SPLIT.value or "train", limit=_LIMIT.value,
                        max_q=_MAX_Q.value, tax_group=_TAX_GROUP.value,
                        families=_FAMILIES.value)
  print(f"{len(found['motifs'])} filter motifs, {len(found['best'])} with a JASPAR "
        f"match (q <= {_MAX_Q.value}) in {found['seconds']['total']:.0f} s; "
        f"{output_dir}/filters.meme, tomtom.tsv, logos.png")
  for name, match in list(found["best"].items())[:10]:
    print(f"  {name}: {match}")
  for family, hit in (found["families"] or {}).items():
    if hit is None:
      print(f"  {family}: not among any filter's top matches")
    else:
      verdict = (f"recovered by {hit['filters']} filter(s)" if hit["recovered"]
                 else f"not recovered at q <= {_MAX_Q.value}")
      print(f"  {family}: {verdict}; best {hit['jaspar']} by {hit['filter']} "
            f"(q={hit['q_value']:.2g})")


def main(argv):

  if len(argv) != 2 or argv[1] not in COMMANDS:
    raise app.UsageError(f"expected one command: {' | '.join(COMMANDS)}")
  cli.require(_MODEL, _OUTPUT_DIR)
  {"ism": _ism, "attribute": _attribute, "motifs": _motifs}[argv[1]](
      _MODEL.value, _OUTPUT_DIR.value)


def run():
  cli.run(main, positional=1)


if __name__ == "__main__":
  run()
