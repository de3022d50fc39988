r"""Gene annotation across species: coding vs intergenic, trained on one genome,
evaluated on two others, against Fickett-only and a logistic regression.

  python -m benchmarks.coding_transfer --shared_data=../shared/data \
      --output=benchmarks/results/coding_transfer.json

The GenBank coding recipe (datasets/genomes/genbank_coding.flags: 200-base windows,
label from the CDS annotation, the same computed features) on the C. trachomatis
genome, split 80/10/10; the dual-input model (the accuracy suite's settings, 3
seeds) and two baselines fitted on its train split: a logistic regression on the
Fickett score alone and one on all the computed features (C chosen on the
C. trachomatis dev split). Each is evaluated on the C. trachomatis test split and
on every window of the Y. pestis plasmid pPCP1 and of the A. thaliana chloroplast
(stride 100 there: the plasmid has 9.6 kb), with the decision threshold chosen on
C. trachomatis dev: nothing of the target species is used for any choice. For
each target the report also says how far each feature moved from the C.
trachomatis training statistics (gslm_keras.features.shift).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

import numpy as np

from benchmarks import common, task_runs

SOURCE = "genomes/chlamydia_trachomatis_CHLTCG.gbk"
TARGETS = {"y_pestis_plasmid": "genomes/NC_005816.gb",
           "a_thaliana_chloroplast": "genomes/NC_000932.gb"}
FLAGS = "datasets/genomes/genbank_coding.flags"


def build(path: str, output_dir: str, fractions: str, stride: int) -> None:
  from gslm_keras.data.builder.builder import build_dataset
  from gslm_keras.data.builder.flags import config_from_flagfile

  build_dataset(config_from_flagfile(FLAGS, input=path, output_dir=output_dir,
                                     split_fractions=fractions, recipe_stride=stride,
                                     num_workers=1, progress_seconds=1e9))


def arrays(model, data_dir: str):
  """(labels, positive-class probability, features) over every split of a dataset."""
  from gslm_keras.data.dataset_info import DatasetInfo
  from gslm_keras.evaluation.evaluator import predict_split

  info = DatasetInfo.load(data_dir, verify="none")
  labels, probs, features = [], [], []
  for split in info.splits:
    _, y, columns, x = predict_split(model, info, split)
    labels.append(y)
    probs.append(columns[:, 1])
    features.append(x)
  return np.concatenate(labels), np.concatenate(probs), np.concatenate(features)


def split_arrays(data_dir: str, split: str):
  from gslm_keras import make_dataset

  xs, ys = [], []
  for inputs, labels in make_dataset(data_dir, split, "eval", 1024, verify="none"):
    xs.append(inputs["features"].numpy())
    ys.append(labels.numpy())
  return np.concatenate(xs), np.concatenate(ys)


def fit_logistic(x_train, y_train, x_dev, y_dev):
  """A standardised logistic regression, C and threshold chosen on dev MCC
  (`baselines.logistic_on_dev`); (model, threshold)."""
  from sklearn.pipeline import make_pipeline
  from sklearn.preprocessing import StandardScaler

  from benchmarks.baselines import logistic_on_dev

  scaler = StandardScaler().fit(x_train)
  found = logistic_on_dev({"train": scaler.transform(x_train), "dev": scaler.transform(x_dev)},
                          {"train": y_train, "dev": y_dev}, (0.01, 0.1, 1.0, 10.0),
                          binary=True)
  return make_pipeline(scaler, found["model"]), found["threshold"]


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
  parser.add_argument("--shared_data", required=True)
  parser.add_argument("--output", required=True)
  parser.add_argument("--seeds", type=int, default=3)
  parser.add_argument("--epochs", type=int, default=15)
  args = parser.parse_args(argv)
  results = common.header("benchmarks.coding_transfer")
  settings = task_runs.Settings(
      preset="default", epochs=args.epochs, patience=4, batch_size=64,
      learning_rate=2e-3, seeds=args.seeds, ablation_seeds=0, rc_tasks=(), ablations=("both",), workers=0)
  start = time.time()
  with tempfile.TemporaryDirectory() as tmp:
    source_dir = os.path.join(tmp, "c_trachomatis")
    build(os.path.join(args.shared_data, SOURCE), source_dir, "0.8,0.1,0.1", 200)
    targets = {}
    for name, path in TARGETS.items():
      targets[name] = os.path.join(tmp, name)
      build(os.path.join(args.shared_data, path), targets[name], "0.5,0,0.5", 100)
    results["evaluations"] = evaluate_all(source_dir, targets, settings, tmp)
  results["seconds"] = time.time() - start
  common.write_results(args.output, results, markdown(results))
  print(markdown(results))


def evaluate_all(source_dir: str, targets: dict, settings, tmp: str) -> dict:
  from gslm_keras.data.dataset_info import DatasetInfo
  from gslm_keras.features.shift import feature_shift
  from gslm_keras.inference.model import LoadedModel

  info = DatasetInfo.load(source_dir, verify="none")
  names = info.feature_names
  domains = {"c_trachomatis (test split)": None, **targets}
  x_train, y_train = split_arrays(source_dir, "train")
  x_dev, y_dev = split_arrays(source_dir, "dev")
  data = {"c_trachomatis (test split)": split_arrays(source_dir, "test")}
  for name, directory in targets.items():
    parts = [split_arrays(directory, s) for s in DatasetInfo.load(directory).splits]
    data[name] = (np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts]))
  out = {"sizes": {"c_trachomatis train / dev": [len(y_train), len(y_dev)],
                   **{d: int(len(data[d][1])) for d in domains}},
         "positive_class": info.classes[1],
         "coding_fraction": {d: float(np.mean(data[d][1] == info.classes.index("coding")))
                             for d in domains},
         "models": {"dual-input": {d: [] for d in domains}}}
  fickett = [names.index("fickett")]
  for label, columns in (("Fickett score only", fickett),
                         ("logistic regression, all features", list(range(len(names))))):
    model, threshold = fit_logistic(x_train[:, columns], y_train, x_dev[:, columns], y_dev)
    out["models"][label] = {d: [task_runs._binary_scores(
        data[d][1], model.predict_proba(data[d][0][:, columns])[:, 1], threshold)]
        for d in domains}
  for seed in range(settings.seeds):
    model_dir = os.path.join(tmp, f"model_{seed}")
    task_runs.train_one(source_dir, model_dir, settings, "both", seed, False)
    model = LoadedModel(model_dir)
    dev_y, dev_p, _ = _split_probs(model, info, "dev")
    threshold = task_runs.dev_threshold(dev_y, dev_p)
    for d in domains:
      if targets.get(d):
        y, p, _ = arrays(model, targets[d])
      else:
        y, p, _ = _split_probs(model, info, "test")
      out["models"]["dual-input"][d].append(task_runs._binary_scores(y, p, threshold))
  mean, std = info.normalization()
  out["feature_shift"] = {}
  for name in targets:
    report = feature_shift(names, mean, std, data[name][0])
    out["feature_shift"][name] = {
        "rows_outside": report["rows_outside"], "moved": report["moved"],
        "features": {f: report["features"][f] for f in report["moved"][:8]}}
  return out


def _split_probs(model, info, split):
  from gslm_keras.evaluation.evaluator import predict_split

  _, y, columns, x = predict_split(model, info, split)
  return y, columns[:, 1], x


def markdown(results: dict) -> str:
  ev = results["evaluations"]
  domains = list(ev["sizes"])[1:]
  lines = ["# Coding vs intergenic across species", "", common.machine_lines(results),
           "Trained on C. trachomatis (GenBank coding recipe, 200-base windows); the "
           "threshold and every other choice on C. trachomatis dev. MCC x100 (mean ± sd "
           f"over seeds for the dual-input model) and AUROC, with "
           f"`{ev['positive_class']}` the positive class.", "",
           f"Windows: C. trachomatis train / dev {ev['sizes']['c_trachomatis train / dev']}; "
           + ", ".join(f"{d} {ev['sizes'][d]} ({ev['coding_fraction'][d]:.0%} coding)"
                       for d in domains) + ".", "",
           "| model | " + " | ".join(domains) + " |", "|---|" + "---|" * len(domains)]
  for model, by_domain in ev["models"].items():
    cells = []
    for d in domains:
      runs = by_domain[d]
      mcc = np.array([r["mcc"] for r in runs]) * 100
      auroc = np.mean([r["auroc"] for r in runs])
      sd = f" ± {mcc.std(ddof=1):.1f}" if len(mcc) > 1 else ""
      cells.append(f"{mcc.mean():.1f}{sd} (AUROC {auroc:.3f})")
    lines.append(f"| {model} | " + " | ".join(cells) + " |")
  lines += ["", "## How far the features moved", "",
            "Per target species: the share of windows with some feature more than 4 "
            "C. trachomatis training sd from its training mean, and the features that "
            "moved most (mean shift in training sd; share of windows beyond 4 sd).", ""]
  for name, report in ev["feature_shift"].items():
    moved = ", ".join(f"{f} {v['mean_shift_sd']:+.1f} sd ({v['outside_fraction']:.0%})"
                      for f, v in report["features"].items())
    lines.append(f"- {name}: {report['rows_outside']:.0%} of windows outside; "
                 f"{len(report['moved'])} features moved: {moved or 'none'}")
  return "\n".join(lines) + "\n"


if __name__ == "__main__":
  common.run(main)
