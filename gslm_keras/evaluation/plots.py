"""PNG plots: training curves, ROC and PR curves, confusion matrices, scatter."""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from gslm_keras.io.files import atomic_path


class _Figures:
  """`plt.subplots` without pyplot: figures drawn straight to files, so that the
  package never switches the backend of the program using it (a notebook's inline
  plots went blank after the first gslm_keras plot), and no figure is left open."""

  @staticmethod
  def subplots(*args, figsize=None, **kwargs):
    from matplotlib.figure import Figure

    figure = Figure(figsize=figsize)
    return figure, figure.subplots(*args, **kwargs)


def _pyplot():
  return _Figures


def _save(fig, path: str) -> str:
  with atomic_path(path, suffix=".png") as tmp:
    fig.savefig(tmp, dpi=110, bbox_inches="tight")
  return path


def training_curves(history: Sequence[dict[str, Any]], path: str,
                    best: dict[str, Any] | None = None) -> str | None:
  """Loss and every tracked metric against epochs, train and dev together, with
  the epoch of the kept (best dev) model marked when `best` (the dev monitor's
  state: monitor, best_segment) is given."""
  if not history:
    return None
  chosen = None
  if best and best.get("best_segment") is not None:
    chosen = next((h["epoch"] for h in history if h.get("segment") == best["best_segment"]),
                  None)
  plt = _pyplot()
  keys = [k for k in history[-1] if k not in ("segment", "step", "epoch", "time")
          and not k.startswith("val_") and k != "learning_rate"]
  fig, axes = plt.subplots(1, len(keys), figsize=(4.2 * len(keys), 3.4), squeeze=False)
  epochs = [h["epoch"] for h in history]
  for ax, key in zip(axes[0], keys):
    ax.plot(epochs, [h.get(key, np.nan) for h in history], label="train")
    dev = [(h["epoch"], h[f"val_{key}"]) for h in history if f"val_{key}" in h]
    if dev:
      ax.plot(*zip(*dev), marker="o", label="dev")
    if chosen is not None:
      ax.axvline(chosen, color="grey", linestyle="--",
                 label=f"kept model (best {best['monitor']})")
    ax.set_xlabel("epoch")
    ax.set_title(key)
    ax.legend()
  return _save(fig, path)


def roc_pr_curves(y_true: np.ndarray, y_pred: np.ndarray, class_names: Sequence[str],
                  task: str, prefix: str, about: str = "") -> list[str]:
  """ROC and precision-recall curves (one-vs-rest per class for multiclass);
  `about` (e.g. "test split of prom_300_tata") goes into the titles."""
  from sklearn import metrics as skm

  plt = _pyplot()
  if task == "binary":
    curves = [(class_names[1] if len(class_names) > 1 else "positive",
               np.asarray(y_true).astype(int), np.asarray(y_pred).reshape(-1))]
  elif task == "multiclass":
    curves = [(name, (np.asarray(y_true) == k).astype(int), y_pred[:, k])
              for k, name in enumerate(class_names)]
  else:
    curves = [(name, np.asarray(y_true)[:, k].astype(int), y_pred[:, k])
              for k, name in enumerate(class_names)]
  fig, (roc_ax, pr_ax) = plt.subplots(1, 2, figsize=(9, 4))
  for name, truth, score in curves:
    if len(np.unique(truth)) < 2:
      continue
    fpr, tpr, _ = skm.roc_curve(truth, score)
    roc_ax.plot(fpr, tpr, label=f"{name} (AUC {skm.auc(fpr, tpr):.3f})")
    precision, recall, _ = skm.precision_recall_curve(truth, score)
    pr_ax.plot(recall, precision,
               label=f"{name} (AP {skm.average_precision_score(truth, score):.3f})")
  roc_ax.plot([0, 1], [0, 1], color="grey", linestyle=":")
  suffix = f"\n{about}" if about else ""
  roc_ax.set(xlabel="false positive rate", ylabel="true positive rate",
             title="ROC" + suffix, xlim=(0, 1), ylim=(0, 1.01))
  pr_ax.set(xlabel="recall", ylabel="precision", title="Precision-recall" + suffix,
            xlim=(0, 1), ylim=(0, 1.01))
  if task == "binary" and curves:
    # The precision of a model that guesses: the share of positives.
    pr_ax.axhline(float(np.mean(curves[0][1])), color="grey", linestyle=":",
                  label="chance")
  roc_ax.legend(fontsize=8)
  pr_ax.legend(fontsize=8)
  return [_save(fig, f"{prefix}_roc_pr.png")]


def confusion_matrix(matrix: Sequence[Sequence[int]], class_names: Sequence[str],
                     path: str, about: str = "") -> str:
  """Counts and the share of each true class (row), coloured by that share, so
  that a small class reads as clearly as a large one."""
  plt = _pyplot()
  matrix = np.asarray(matrix)
  share = matrix / np.maximum(matrix.sum(axis=1, keepdims=True), 1)
  side = 2.2 + 1.0 * len(class_names)
  fig, ax = plt.subplots(figsize=(side + 1.0, side))
  image = ax.imshow(share, cmap="Blues", vmin=0, vmax=1)
  for (i, j), value in np.ndenumerate(matrix):
    ax.text(j, i, f"{value}\n{share[i, j]:.0%}", ha="center", va="center",
            color="white" if share[i, j] > 0.5 else "black")
  ax.set_xticks(range(len(class_names)), class_names, rotation=45, ha="right")
  ax.set_yticks(range(len(class_names)), class_names)
  title = "Confusion matrix" + (f"\n{about}" if about else "")
  ax.set(xlabel="predicted class", ylabel="true class", title=title)
  fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04, label="share of the true class")
  return _save(fig, path)


def regression_scatter(y_true: np.ndarray, y_pred: np.ndarray,
                       target_names: Sequence[str], path: str, about: str = "") -> str:
  """Predicted against measured per target, with the identity line and Pearson r."""
  plt = _pyplot()
  n = y_pred.shape[1]
  fig, axes = plt.subplots(1, n, figsize=(4 * n, 4), squeeze=False)
  y_true = np.asarray(y_true).reshape(len(y_pred), -1)
  for k, ax in enumerate(axes[0]):
    ax.scatter(y_true[:, k], y_pred[:, k], s=6, alpha=0.5)
    low = float(min(y_true[:, k].min(), y_pred[:, k].min()))
    high = float(max(y_true[:, k].max(), y_pred[:, k].max()))
    ax.plot([low, high], [low, high], color="grey", linestyle=":")
    r = np.corrcoef(y_true[:, k], y_pred[:, k])[0, 1] if len(y_pred) > 1 else np.nan
    name = target_names[k] if k < len(target_names) else str(k)
    ax.set(xlabel="measured", ylabel="predicted",
           title=f"{name} (Pearson r {r:.3f})" + (f"\n{about}" if about else ""))
  return _save(fig, path)
