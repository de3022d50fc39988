r"""CAGI5 regulation saturation: measured effects of SNVs in 15 promoters/enhancers.

  python -m benchmarks.cagi5 --elements=../shared/data/cagi5/elements_hg19.fa \
      --train_variants=../shared/data/cagi5/variants_train.tsv \
      --zero_shot_models=build/models/prom_300_tata --output=benchmarks/results/cagi5.json

A language model (a pretrain run or a preset name, e.g. gslm-lm-multispecies)
among --zero_shot_models contributes its `llr` (log P(alt) - log P(ref) at the
masked variant, both strands, the whole element as context).

Trains on one variants file and evaluates on another of the same format
(--eval_variants), or, given only a training file, by K-fold cross-validation in
which all variants of a 10-bp block of an element fall in the same fold (so a
position and its neighbours are never on both sides). The model is a dual-input
regression model of gslm_keras: its sequence input is the alternate allele's
window from the element, its feature input the per-variant annotation columns
(missing values filled with the train mean plus indicators) and the zero-shot
effects (alt minus ref, strand-averaged) of the given pretrained models, and the
measured effects of the training variants near it in the same element (+-5, 15
and 40 bp; MPRA effects cluster in binding sites). Reported
per element and pooled: Pearson and Spearman of predicted vs measured effect, and
AUROC on `class3` (+1 vs rest with the prediction, -1 vs rest with its negation);
the JSON's `mean_pearson` is the mean per-element Pearson r. The zero-shot scores
alone and a ridge regression on the same features are scored the same way, as
references.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
import tempfile
import time

import numpy as np

from benchmarks import common

ANNOTATIONS = ["CHIP", "DNASE", "PWM", "FOOTPRINT", "PWM_matched", "FOOTPRINT_matched",
               "IC_change", "IC_matched_change", "CHIP_sig"]
LENGTH = 101


def read_elements(path: str) -> dict[str, str]:
  from Bio import SeqIO

  return {r.id: str(r.seq).upper() for r in SeqIO.parse(path, "fasta")}


def read_variants(path: str, elements: dict[str, str]):
  import pandas as pd

  frame = pd.read_csv(path, sep="\t", na_values=["NA"], keep_default_na=False)
  missing = sorted(set(frame["element"]) - set(elements))
  if missing:
    sys.exit(f"error: {path}: elements {missing} are not in the elements FASTA")
  refs = [elements[e][o] for e, o in zip(frame["element"], frame["offset0"])]
  bad = [i for i, (r, want) in enumerate(zip(refs, frame["ref"])) if r != want]
  if bad:
    row = frame.iloc[bad[0]]
    sys.exit(f"error: {path}, row {bad[0] + 2}: ref {row['ref']} differs from "
             f"{row['element']}[{row['offset0']}] = {refs[bad[0]]}")
  frame["id"] = [f"{e}:{o}:{r}>{a}" for e, o, r, a in
                 zip(frame["element"], frame["offset0"], frame["ref"], frame["alt"])]
  return frame


def zero_shot(frame, elements, model_dirs, tmp) -> dict[str, np.ndarray]:
  """Strand-averaged alt-minus-ref scores of pretrained models, per variant."""
  import pandas as pd

  from gslm_keras.inference.manifest import objective_of
  from gslm_keras.tasks.language import MASKED_NUCLEOTIDE
  from gslm_keras.variants.scorer import ScoreConfig, score_variants

  table = os.path.join(tmp, "variants_for_scoring.tsv")
  pd.DataFrame({"id": frame["id"], "sequence": [elements[e] for e in frame["element"]],
                "position": frame["offset0"], "ref": frame["ref"],
                "alt": frame["alt"]}).to_csv(table, sep="\t", index=False)
  columns = {}
  for n, model_dir in enumerate(model_dirs):
    out = os.path.join(tmp, f"zero_shot_{n}.tsv")
    language = objective_of(model_dir) == MASKED_NUCLEOTIDE.objective
    # A language model reads the whole element (any length): llr in its context.
    score_variants(ScoreConfig(model=model_dir, variants=table, output=out,
                               strand_average=True,
                               anchor="sequence" if language else "variant"))
    scores = pd.read_csv(out, sep="\t", comment="#")
    # A column name (pandas rows are read as attributes: no hyphens).
    name = os.path.basename(os.path.normpath(model_dir)).replace("-", "_")
    if language:  # llr, and the embedding distances where the model has layers.
      for score in ("llr", "embedding_l2", "embedding_cosine"):
        if score in scores:
          columns[f"zs_{name}_{score}"] = scores[score].to_numpy()
      continue
    wanted = [c for c in scores.columns if c.startswith(("diff_", "log_odds_ratio_"))]
    # A binary model scores both classes, one the negation of the other on these
    # scales: keep the positive class (the model's last column).
    outputs = list(dict.fromkeys(c.partition("_prob_")[2] or c for c in wanted))
    if len(outputs) == 2 and all("_prob_" in c for c in wanted):
      wanted = [c for c in wanted if c.endswith(f"_prob_{outputs[-1]}")]
    for column in wanted:
      columns[f"zs_{name}_{column}"] = scores[column].to_numpy()
  return columns


NEIGHBOURHOODS = (5, 15, 40)
# A language model's zero-shot score columns (llr and the embedding distances).
LM_SCORES = ("_llr", "_embedding_l2", "_embedding_cosine")


def neighbourhood(train_frame, query_frame, exclude: str | None):
  """Measured effects of the training variants near each query variant.

  MPRA effects cluster in binding sites, so the effects of other variants of the
  same element within +-d bp are informative. Only training variants are used. A
  training variant never sees itself (`exclude="self"`), and with block folds not
  its own 10-bp block either (`exclude="block"`), because a held-out variant's
  whole block is held out with it: training features then look like test ones.
  """
  columns = {}
  by_element = {e: g for e, g in train_frame.groupby("element")}
  for d in NEIGHBOURHOODS:
    mean, mean_abs, same_alt = [], [], []
    for row in query_frame.itertuples(index=False):
      group = by_element.get(row.element)
      if group is None:
        mean.append(np.nan), mean_abs.append(np.nan), same_alt.append(np.nan)
        continue
      offsets = group["offset0"].to_numpy()
      near = np.abs(offsets - row.offset0) <= d
      if exclude == "block":
        near &= (offsets // 10) != row.offset0 // 10
      elif exclude == "self":
        near &= ~((offsets == row.offset0) & (group["alt"].to_numpy() == row.alt))
      values = group["value"].to_numpy()[near]
      alts = group["alt"].to_numpy()[near]
      mean.append(values.mean() if values.size else np.nan)
      mean_abs.append(np.abs(values).mean() if values.size else np.nan)
      same = values[alts == row.alt]
      same_alt.append(same.mean() if same.size else np.nan)
    columns[f"near{d}_mean"] = np.array(mean)
    columns[f"near{d}_mean_abs"] = np.array(mean_abs)
    columns[f"near{d}_same_alt_mean"] = np.array(same_alt)
  return columns


def fold_of(element: str, offset: int, folds: int, seed: int, alt: str = "",
            unit: str = "block") -> int:
  """The fold of a variant: by 10-bp block of its element, or by variant."""
  key = f"{offset // 10}" if unit == "block" else f"{offset}:{alt}"
  digest = hashlib.sha256(f"{seed}:{element}:{key}".encode()).digest()
  return int.from_bytes(digest[:4], "little") % folds


def _write_table(path, frame, elements, provided_columns, with_label=True):
  lines = ["\t".join(["id", "sequence", "label", *provided_columns])]
  for i, row in enumerate(frame.itertuples(index=False)):
    element = elements[row.element]
    alt_haplotype = element[:row.offset0] + row.alt + element[row.offset0 + 1:]
    start = row.offset0 - LENGTH // 2
    window = "".join(alt_haplotype[p] if 0 <= p < len(alt_haplotype) else "N"
                     for p in range(start, start + LENGTH))
    values = []
    for column in provided_columns:
      value = getattr(row, column)
      values.append("" if value != value else f"{value:.6g}")  # NaN -> missing.
    label = f"{row.value:.6g}" if with_label else "0"
    lines.append("\t".join([row.id, window, label, *values]))
  with open(path, "w") as handle:
    handle.write("\n".join(lines) + "\n")


def train_and_predict(train_frame, eval_frame, elements, provided_columns, tmp, args,
                      seed):
  """Out-of-sample predictions of the dual-input model for `eval_frame`."""
  import pandas as pd

  from gslm_keras.data.builder.builder import BuildConfig, build_dataset
  from gslm_keras.data.readers import InputSpec
  from gslm_keras.features import parse_specs
  from gslm_keras.models import ModelConfig
  from gslm_keras.training.config import TrainConfig
  from gslm_keras.training.trainer import train

  os.makedirs(tmp, exist_ok=True)
  _write_table(os.path.join(tmp, "train.tsv"), train_frame, elements, provided_columns)
  _write_table(os.path.join(tmp, "eval.tsv"), eval_frame, elements, provided_columns)
  data_dir = os.path.join(tmp, "data")
  build_dataset(BuildConfig(
      output_dir=data_dir, train=(InputSpec(os.path.join(tmp, "train.tsv")),),
      test=(InputSpec(os.path.join(tmp, "eval.tsv")),), dev_fraction=0.1, seed=seed,
      task="regression", id_column="id", provided_features=tuple(provided_columns),
      missing_values="fill_mean", num_workers=1, progress_seconds=1e9,
      computed_features=parse_specs(["gc_content", "cpg_oe", "kmer:k=3"])))
  model = ModelConfig(stem_widths=(7, 11), stem_filters=24, stem_pool=2, tower_blocks=2,
                      tower_filters=48, pooling="maxavg", feature_units=(64, 32),
                      fusion_units=64, dropout=0.3, rc_average=False)
  config = TrainConfig.create(data_dir=data_dir, model_dir=os.path.join(tmp, "model"),
                       model=model, epochs=args.epochs, batch_size=64,
                       optimizer="adamw", learning_rate=1e-3, weight_decay=1e-3,
                       lr_schedule="cosine", warmup_steps=20, early_stopping_patience=8,
                       seed=seed, evaluate_splits=("test",), overwrite=True, verbose=0)
  train(config)
  predictions = pd.read_csv(os.path.join(config.model_dir, "predictions", "test.tsv"),
                            sep="\t")
  by_id = dict(zip(predictions["id"], predictions.iloc[:, -1]))
  return np.array([by_id[i] for i in eval_frame["id"]])


def ridge_predict(train_frame, eval_frame, columns):
  from sklearn.linear_model import RidgeCV

  x_train = train_frame[columns].to_numpy(float)
  x_eval = eval_frame[columns].to_numpy(float)
  means = np.nanmean(x_train, axis=0)
  means = np.where(np.isnan(means), 0.0, means)
  fill = lambda x: np.where(np.isnan(x), means, x)  # noqa: E731
  # Standardised with the training statistics, so that one penalty treats the
  # columns alike (phyloP, a log-likelihood ratio and neighbourhood means have
  # different scales); a missing value is the mean, 0 after standardising.
  scale = np.std(fill(x_train), axis=0)
  scale = np.where(scale > 0, scale, 1.0)
  indicators = lambda x: np.isnan(x).astype(float)  # noqa: E731
  design = lambda x: np.hstack([(fill(x) - means) / scale, indicators(x)])  # noqa: E731
  model = RidgeCV(alphas=np.logspace(-3, 3, 13)).fit(design(x_train),
                                                     train_frame["value"].to_numpy())
  return model.predict(design(x_eval))


def score(frame, prediction) -> dict:
  from scipy import stats
  from sklearn import metrics as skm

  per_element = {}
  for element, group in frame.assign(prediction=prediction).groupby("element"):
    if group["value"].std() == 0 or np.std(group["prediction"]) == 0:
      continue
    per_element[element] = {
        "n": int(len(group)),
        "pearson": float(stats.pearsonr(group["prediction"], group["value"])[0]),
        "spearman": float(stats.spearmanr(group["prediction"], group["value"])[0]),
        # Effect size whatever its sign: what an unsigned score (an embedding
        # distance) or the size of a signed one can predict.
        "magnitude_spearman": float(stats.spearmanr(np.abs(group["prediction"]),
                                                    np.abs(group["value"]))[0])}
  classes = frame["class3"].to_numpy()
  auroc = {}
  if len(np.unique(classes == 1)) == 2:
    auroc["positive"] = float(skm.roc_auc_score(classes == 1, prediction))
  if len(np.unique(classes == -1)) == 2:
    auroc["negative"] = float(skm.roc_auc_score(classes == -1, -prediction))
  effect = classes != 0
  if len(np.unique(effect)) == 2:
    auroc["any_effect"] = float(skm.roc_auc_score(effect, np.abs(prediction)))
  return {"mean_pearson": float(np.mean([e["pearson"] for e in per_element.values()])),
          "mean_magnitude_spearman": float(np.mean(
              [e["magnitude_spearman"] for e in per_element.values()])),
          "mean_spearman": float(np.mean([e["spearman"] for e in per_element.values()])),
          "pooled_pearson": float(stats.pearsonr(prediction, frame["value"])[0]),
          "pooled_spearman": float(stats.spearmanr(prediction, frame["value"])[0]),
          "auroc_class3": auroc,
          "auroc_class3_mean": float(np.mean([auroc[k] for k in ("positive", "negative")
                                              if k in auroc])) if auroc else None,
          "per_element": per_element}


def main():
  parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
  parser.add_argument("--elements", required=True)
  parser.add_argument("--train_variants", required=True)
  parser.add_argument("--eval_variants", help="evaluate here; cross-validate if unset")
  parser.add_argument("--cv_folds", type=int, default=5)
  parser.add_argument("--cv_unit", choices=["block", "variant"], default="block",
                      help="what a fold holds out: 10-bp blocks (strict) or variants")
  parser.add_argument("--zero_shot_models", default="",
                      help="comma-separated model dirs scored zero-shot (features)")
  parser.add_argument("--epochs", type=int, default=40)
  parser.add_argument("--seed", type=int, default=0)
  parser.add_argument("--output", required=True)
  args = parser.parse_args()
  os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
  import pandas as pd

  elements = read_elements(args.elements)
  train_frame = read_variants(args.train_variants, elements)
  eval_frame = read_variants(args.eval_variants, elements) if args.eval_variants else None
  model_dirs = [m for m in args.zero_shot_models.split(",") if m]
  results = common.header("benchmarks.cagi5")
  results.update({"elements": args.elements, "train_variants": args.train_variants,
                  "eval_variants": args.eval_variants, "zero_shot_models": model_dirs,
                  "window": LENGTH, "annotations": ANNOTATIONS})
  start = time.time()
  with tempfile.TemporaryDirectory() as tmp:
    both = pd.concat([train_frame, eval_frame]) if eval_frame is not None else train_frame
    zs = zero_shot(both, elements, model_dirs, tmp) if model_dirs else {}
    both = both.assign(**zs).reset_index(drop=True)
    zs_columns = list(zs)
    provided = ANNOTATIONS + zs_columns
    if eval_frame is not None:
      train_part, eval_part = both.iloc[:len(train_frame)], both.iloc[len(train_frame):]
      splits = [(train_part, eval_part)]
      protocol = f"trained on {args.train_variants}, evaluated on {args.eval_variants}"
    else:
      folds = np.array([fold_of(e, o, args.cv_folds, args.seed, a, args.cv_unit)
                        for e, o, a in zip(both["element"], both["offset0"], both["alt"])])
      splits = [(both[folds != k], both[folds == k]) for k in range(args.cv_folds)]
      unit = ("10-bp blocks of each element (a held-out variant's neighbours within its "
              "block are held out too)" if args.cv_unit == "block" else
              "variants (the other alleles at a held-out variant's position may be in "
              "training, as in a random split of a saturation screen)")
      protocol = (f"{args.cv_folds}-fold cross-validation over {unit}, seed {args.seed}, "
                  f"on {args.train_variants}")
    evaluated = pd.concat([e for _, e in splits])
    model_pred, ridge_pred, ridge_no_llr = [], [], []
    for k, (train_part, eval_part) in enumerate(splits):
      print(f"fold {k}: {len(train_part)} train / {len(eval_part)} evaluated", flush=True)
      train_part = train_part.assign(**neighbourhood(
          train_part, train_part, "block" if args.cv_unit == "block" else "self"))
      eval_part = eval_part.assign(**neighbourhood(train_part, eval_part, None))
      columns = provided + [f"near{d}_{kind}" for d in NEIGHBOURHOODS
                            for kind in ("mean", "mean_abs", "same_alt_mean")]
      model_pred.append(train_and_predict(train_part, eval_part, elements, columns,
                                          os.path.join(tmp, f"fold{k}"), args, args.seed))
      ridge_pred.append(ridge_predict(train_part, eval_part, columns))
      # What a language model's scores add, in the same run: the ridge without them.
      without = [c for c in columns if not c.endswith(LM_SCORES)]
      if len(without) < len(columns):
        ridge_no_llr.append(ridge_predict(train_part, eval_part, without))
    results["protocol"] = protocol
    results["gslm_keras"] = score(evaluated, np.concatenate(model_pred))
    results["ridge_on_features"] = score(evaluated, np.concatenate(ridge_pred))
    if ridge_no_llr:
      results["ridge_without_llr"] = score(evaluated, np.concatenate(ridge_no_llr))
    results["zero_shot"] = {c: score(evaluated, evaluated[c].to_numpy())
                            for c in zs_columns}
  results["total_seconds"] = time.time() - start
  common.write_results(args.output, results, markdown(results))
  print(markdown(results))


def markdown(results: dict) -> str:
  rows = [("gslm_keras dual-input (alt window + annotations, zero-shot, neighbours)",
           results["gslm_keras"]), ("ridge on the same features", results["ridge_on_features"])]
  if "ridge_without_llr" in results:
    rows.append(("ridge on the same features without the language model's scores",
                 results["ridge_without_llr"]))
  rows += [(f"zero-shot {name}", value) for name, value in results["zero_shot"].items()]
  lines = ["# CAGI5 regulation saturation", "", common.machine_lines(results),
           f"Protocol: {results['protocol']}. Window {results['window']} bp.", "",
           "| model | mean per-element Pearson | mean Spearman | pooled Pearson | "
           "AUROC class3 (+ / -) | mean Spearman of sizes, abs(score) vs abs(effect) | "
           "AUROC any effect (abs(score), class3 != 0) |",
           "|---|---:|---:|---:|---|---:|---:|"]
  for name, r in rows:
    auroc = r["auroc_class3"]
    size = r.get("mean_magnitude_spearman", float("nan"))
    lines.append(f"| {name} | {r['mean_pearson']:.3f} | {r['mean_spearman']:.3f} | "
                 f"{r['pooled_pearson']:.3f} | {auroc.get('positive', float('nan')):.3f} / "
                 f"{auroc.get('negative', float('nan')):.3f} | {size:.3f} | "
                 f"{auroc.get('any_effect', float('nan')):.3f} |")
  lines += ["", "Published anchors (mean per-element Pearson r): AlphaGenome 0.57 zero-shot, "
            "0.65 at best; Enformer about 0.51 zero-shot. Goal here: above 0.5 on variants "
            f"not used for training: {'met' if results['gslm_keras']['mean_pearson'] > 0.5 else 'not met'}.",
            ""]
  llr = [name for name in results["zero_shot"] if name.endswith(LM_SCORES)]
  header = "| element | n | Pearson | Spearman |"
  header += "".join(f" {name} Pearson | {name} Spearman |" for name in llr)
  lines += ["Per element: the dual-input model" + (", and the language model's "
            "zero-shot scores" if llr else "") + ".", "", header,
            "|---|---:|---:|---:|" + "---:|---:|" * len(llr)]
  for element, e in sorted(results["gslm_keras"]["per_element"].items()):
    row = f"| {element} | {e['n']} | {e['pearson']:.3f} | {e['spearman']:.3f} |"
    for name in llr:
      z = results["zero_shot"][name]["per_element"].get(element)
      row += (f" {z['pearson']:.3f} | {z['spearman']:.3f} |" if z else " n/a | n/a |")
    lines.append(row)
  return "\n".join(lines) + "\n"


if __name__ == "__main__":
  common.run(main)
