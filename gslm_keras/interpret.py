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
file, Tomtom matches against JASPAR (pyjaspar, offline) and logos.
"""

from __future__ import annotations

import json
import os

from absl import app, flags

from gslm_keras import cli

COMMANDS = ("ism", "attribute", "motifs")

_MODEL = flags.DEFINE_string("model", None, "model_dir of a training run.")
_OUTPUT_DIR = flags.DEFINE_string("output_dir", None, "Where the results go.")
_OUTPUT_NAME = flags.DEFINE_string(
    "output_name", None, "Class or target to explain (default: the positive class, "
    "or the first).")
_SEQUENCE = flags.DEFINE_string("sequence", None, "ism: a raw DNA sequence.")
_FASTA = flags.DEFINE_string("fasta", None, "ism: FASTA whose records to mutate.")
_PROVIDED = flags.DEFINE_list("provided", None, "ism: provided feature values.")
_DATA_DIR = flags.DEFINE_string("data_dir", None,
                                "attribute / motifs: dataset (default: the model's).")
_SPLIT = flags.DEFINE_string("split", None, "attribute (test) / motifs (train): split.")
_LIMIT = flags.DEFINE_integer("limit", 500, "attribute / motifs: sequences used.")
_METHOD = flags.DEFINE_enum("method", "integrated_gradients",
                            ["integrated_gradients", "gradient_x_input"],
                            "attribute: method.")
_STEPS = flags.DEFINE_integer("steps", 128, "attribute: integration steps.")
_MAX_P = flags.DEFINE_float("max_p", 0.01, "motifs: Tomtom p-value cut-off.")
_TAX_GROUP = flags.DEFINE_string("tax_group", "vertebrates",
                                 "motifs: JASPAR taxonomic group ('' for all).")


def _output_index(info, name):
  from gslm_keras.errors import ConfigError
  from gslm_keras.variants.scorer import output_names

  names = output_names(info)
  if name is None:
    return 0, names[0]
  if name not in names:
    raise ConfigError(f"--output_name={name!r}: the model's outputs are "
                      f"{', '.join(names)}")
  return names.index(name), name


def _eval_arrays(data_dir, split, limit):
  import numpy as np

  from gslm_keras import make_dataset

  xs, fs, ids = [], [], []
  for inputs, _, batch_ids in make_dataset(data_dir, split, "eval", 256, normalize=False,
                                           with_ids=True, limit=limit):
    xs.append(inputs["sequence"].numpy())
    fs.append(inputs["features"].numpy())
    ids += [i.decode() for i in batch_ids.numpy()]
  return np.concatenate(xs), np.concatenate(fs), ids


def run_ism(model_dir, output_dir):
  import numpy as np

  from gslm_keras.data.readers import read_fasta
  from gslm_keras.errors import ConfigError
  from gslm_keras.interpretation import ism
  from gslm_keras.variants.scorer import TensorModel

  model = TensorModel(model_dir)
  info = model.info
  index, name = _output_index(info, _OUTPUT_NAME.value)
  if _SEQUENCE.value:
    records = [("sequence", _SEQUENCE.value)]
  elif _FASTA.value:
    records = [(r.id, r.sequence) for r in read_fasta(_FASTA.value)][:_LIMIT.value]
  else:
    raise ConfigError("ism needs --sequence or --fasta")
  provided = [float(v) for v in _PROVIDED.value] if _PROVIDED.value else None
  if info.n_provided and provided is None:
    raise ConfigError(f"the model takes {info.n_provided} provided features: pass "
                      "--provided")
  for record_id, sequence in records:
    result = ism.ism(model, info, sequence, provided)
    stem = os.path.join(output_dir, f"ism_{record_id}")
    np.savez_compressed(stem + ".npz", effects=result["effects"],
                        window=np.array(result["window"]), reference=result["reference"])
    with open(stem + ".tsv", "w") as handle:
      handle.write("position\tref\talt\t" + f"effect_{name}\n")
      for position, letter in enumerate(result["window"]):
        for b, base in enumerate(ism.BASES):
          if base != letter:
            handle.write(f"{position}\t{letter}\t{base}\t"
                         f"{result['effects'][position, b, index]:.6g}\n")
    ism.plot_ism(result, index, name, stem + ".png")
    print(f"{record_id}: {stem}.npz, .tsv, .png")


def run_attribute(model_dir, output_dir):
  import numpy as np

  from gslm_keras.interpretation import attribution
  from gslm_keras.prediction import load_trained

  model, info = load_trained(model_dir)
  index, name = _output_index(info, _OUTPUT_NAME.value)
  data_dir = _DATA_DIR.value or json.load(open(os.path.join(model_dir,
                                                            "config.json")))["data_dir"]
  one_hot, features, ids = _eval_arrays(data_dir, _SPLIT.value or "test", _LIMIT.value)
  if _METHOD.value == "integrated_gradients":
    result = attribution.integrated_gradients(model, info, one_hot, features, index,
                                              _STEPS.value)
  else:
    result = attribution.gradient_x_input(model, info, one_hot, features, index)
  shares = attribution.branch_shares(result)
  prefix = os.path.join(output_dir, "attr")
  paths = attribution.write_modisco(prefix, one_hot, result["sequence"])
  windows = ["".join("ACGT"[i] if row.max() > 0 else "N" for i, row in
                     zip(r.argmax(axis=1), r)) for r in one_hot]
  attribution.write_tracks(os.path.join(output_dir, "attribution_tracks.tsv"), ids, windows,
                           result["sequence"])
  with open(os.path.join(output_dir, "feature_attributions.tsv"), "w") as handle:
    handle.write("id\t" + "\t".join(info.feature_names) + "\n")
    for record_id, row in zip(ids, result["features"]):
      handle.write(record_id + "\t" + "\t".join(f"{v:.6g}" for v in row) + "\n")
  summary = {"method": _METHOD.value, "output": name, "examples": len(ids),
             "sequence_share_mean": float(shares["sequence_share"].mean()),
             "features_share_mean": float(shares["features_share"].mean())}
  if "completeness_gap" in result:
    gap = result["completeness_gap"]
    summary.update({"steps": _STEPS.value, "completeness_gap_median": float(np.median(gap)),
                    "completeness_gap_p90": float(np.percentile(gap, 90)),
                    "fraction_within_1_percent": float((gap <= 0.01).mean())})
  with open(os.path.join(output_dir, "attribution_summary.json"), "w") as handle:
    json.dump(summary, handle, indent=2)
  print(json.dumps(summary, indent=2))
  print(f"TF-MoDISco-lite inputs: {paths[0]}, {paths[1]}")


def run_motifs(model_dir, output_dir):
  import csv

  from gslm_keras.interpretation import motifs
  from gslm_keras.prediction import load_trained

  model, info = load_trained(model_dir)
  data_dir = _DATA_DIR.value or json.load(open(os.path.join(model_dir,
                                                            "config.json")))["data_dir"]
  one_hot, _, _ = _eval_arrays(data_dir, _SPLIT.value or "train", _LIMIT.value)
  found = motifs.filter_motifs(model, one_hot)
  motifs.write_meme(os.path.join(output_dir, "filters.meme"), found)
  jaspar = motifs.jaspar_motifs(tax_group=_TAX_GROUP.value or None)
  rows = motifs.match_jaspar(found, max_p=_MAX_P.value, jaspar=jaspar)
  with open(os.path.join(output_dir, "tomtom.tsv"), "w", newline="") as handle:
    fields = ["filter", "rank", "jaspar_id", "jaspar_name", "p_value", "offset",
              "overlap", "strand", "sites", "information_bits", "release"]
    writer = csv.DictWriter(handle, fields, delimiter="\t", lineterminator="\n")
    writer.writeheader()
    writer.writerows(sorted(rows, key=lambda r: r["p_value"]))
  best = {}
  for row in sorted(rows, key=lambda r: r["p_value"]):
    best.setdefault(row["filter"], f"{row['jaspar_name']} ({row['jaspar_id']})")
  by_name = {m.name: m for m in found}
  # Logos of the best-matching filters first (best is in p-value order).
  top = [by_name[name] for name in best][:12] or sorted(
      found, key=lambda m: -m.information())[:12]
  motifs.plot_logos(top, os.path.join(output_dir, "logos.png"), best)
  print(f"{len(found)} filter motifs, {len(best)} with a JASPAR match (p <= "
        f"{_MAX_P.value}); {output_dir}/filters.meme, tomtom.tsv, logos.png")
  for name, match in list(best.items())[:10]:
    print(f"  {name}: {match}")


def main(argv):

  if len(argv) != 2 or argv[1] not in COMMANDS:
    raise app.UsageError(f"expected one command: {' | '.join(COMMANDS)}")
  cli.require(_MODEL, _OUTPUT_DIR)
  os.makedirs(_OUTPUT_DIR.value, exist_ok=True)
  {"ism": run_ism, "attribute": run_attribute, "motifs": run_motifs}[argv[1]](
      _MODEL.value, _OUTPUT_DIR.value)


def run():
  cli.run(main, positional=1)


if __name__ == "__main__":
  run()
