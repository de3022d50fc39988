"""MODEL_CARD.md of a trained classifier or regressor: what it predicts, from what
data, where its weights started (random, or `--init_from` with the source's
sha256 and the parts copied) and how it scored. Written from the run's own files
(config.json, dataset_info.json, metrics/), so it always agrees with them."""

from __future__ import annotations

import os

from gslm_keras.io.files import read_json
from gslm_keras.run_dir import Resolved, RunDir

MODEL_CARD = "MODEL_CARD.md"
SCALARS = ("n", "accuracy", "mcc", "auroc", "auprc", "auroc_macro", "f1_macro", "mae",
           "rmse", "pearson", "spearman")


def _initialisation(config: dict, steps: int) -> list[str]:
  optim = config["optim"]
  resolved = Resolved.of(config)
  source = resolved.init_from if resolved else None
  if not source:
    return [f"Random initialisation (seed {config['runtime']['seed']})."]
  # The source as the user named it (a preset name, or their path), not the
  # absolute path of this machine's copy: config.json keeps that.
  lines = [f"Fine-tuned from `{source['source']}` (model.keras sha256 "
           f"`{source['sha256']}`); copied from it: "
           f"{', '.join(source.get('copied', ['backbone']))}; the rest started new."]
  freeze = optim.get("freeze_trunk_steps", 0)
  if freeze:
    lines.append(f"The sequence backbone was frozen for the first {freeze} steps"
                 + (" (the whole run)." if freeze >= steps else
                    f", then released (trained) for the remaining {steps - freeze}."))
  if optim.get("trunk_learning_rate_multiplier", 1.0) != 1.0:
    lines.append(f"It then learned at {optim['trunk_learning_rate_multiplier']} times "
                 "the learning rate.")
  return lines


def model_card(run: RunDir, steps: int) -> str:
  from gslm_keras.data.dataset_info import DatasetInfo

  config = read_json(run.config)
  info = DatasetInfo(read_json(run.manifest))
  optim = config["optim"]
  lines = [f"# Model `{os.path.basename(os.path.normpath(config['model_dir']))}`", "",
           f"Task: {info.task}"
           + (f" ({', '.join(info.classes)})" if info.classes else "")
           + f"; dataset `{config['data']['data_dir']}` ({info.data.get('name', '')}); "
           f"architecture preset `{config.get('model_preset')}`; "
           f"{info.n_features} per-sequence features.", "",
           "## Initialisation", "", *_initialisation(config, steps), "",
           "## Training", "",
           f"{steps} steps, batch {config['data']['batch_size']}, {optim['optimizer']} at "
           f"{optim['learning_rate']} ({optim['lr_schedule']}); "
           + (f"auxiliary heads on both branches, weight {optim['aux_weight']}, in "
              "training only" + (", each branch trained by its own head alone "
                                 "(`--isolate_branches`)" if optim.get("isolate_branches")
                                 else "") + "; " if optim.get("aux_weight")
              and config["model"].get("ablation", "both") == "both" else "")
           + "model selected on dev. "
           "Re-run: `python -m gslm_keras.train --flagfile="
           f"{os.path.join(config['model_dir'], os.path.basename(run.flagfile))}`.", "",
           "## Results", ""]
  results = {split: read_json(run.metrics(split)) for split in config.get(
      "evaluate_splits", []) if os.path.exists(run.metrics(split))}
  keys = [key for key in SCALARS if any(key in m for m in results.values())]
  lines += ["| split | " + " | ".join(keys) + " |", "|---|" + "---|" * len(keys)]
  lines += [f"| {split} | " + " | ".join(_cell(m.get(key)) for key in keys) + " |"
            for split, m in results.items()]
  return "\n".join(lines) + "\n"


def _cell(value) -> str:
  if value is None:
    return "-"
  return str(value) if isinstance(value, int) else f"{value:.4f}"
