"""Attribution over both inputs at once: gradient x input and integrated gradients.

The target is a model output on the logit scale (log(p / (1 - p)) for sigmoid
heads, log p for softmax heads, the value for regression), where attributions
add up without the saturation of probabilities; it is computed from the output
layer's logits (`gslm_keras.inference.log_space`), not from float32
probabilities, which round to 1.0 and lose the gradient. The baseline is the all-N window
(one-hot zeros) with the train-mean features (zero after the model's own
normalisation), so integrated gradients split f(x) - f(baseline) between the
sequence positions and the features; the completeness gap is reported per
example.
"""

from __future__ import annotations

import csv

import numpy as np
import tensorflow as tf

from gslm_keras.inference import log_space
from gslm_keras.io.files import atomic_path, save_npz
from gslm_keras.tasks.supervised import task_type

EPSILON = 1e-7


def _target(outputs: tf.Tensor, task: str, index: int) -> tf.Tensor:
  column = outputs[:, index]
  if not task_type(task).probabilities:
    return column
  p = tf.clip_by_value(column, EPSILON, 1.0 - EPSILON)
  if task == "multiclass":
    return tf.math.log(p)
  return tf.math.log(p) - tf.math.log1p(-p)


def baseline(info, one_hot: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
  """(all-zero one-hot, train-mean features) shaped like a batch of `one_hot`."""
  mean, _ = info.normalization()
  return (np.zeros_like(one_hot),
          np.repeat(mean[None, :].astype(np.float32), len(one_hot), axis=0))


def _target_fn(model, task: str, index: int):
  """inputs -> the target [N]. From the logits where the model has its named parts:
  a float32 probability rounds to 1.0 past a logit of about 16.6, and clipping it
  leaves no gradient."""
  log_model = log_space.LogModel.build(model, task)
  if log_model is None:
    return lambda one_hot, features: _target(
        model({"sequence": one_hot, "features": features}, training=False), task, index)

  def target(one_hot, features):
    log_p, log_q = log_model(one_hot, features)
    return log_p[:, index] if task == "multiclass" else log_p[:, index] - log_q[:, index]
  return target


def _gradients(target_fn, one_hot, features):
  one_hot = tf.convert_to_tensor(one_hot, tf.float32)
  features = tf.convert_to_tensor(features, tf.float32)
  with tf.GradientTape() as tape:
    tape.watch([one_hot, features])
    target = target_fn(one_hot, features)
  grad_sequence, grad_features = tape.gradient(target, [one_hot, features])
  return target.numpy(), grad_sequence.numpy(), grad_features.numpy()


def gradient_x_input(model, info, one_hot, features, index: int = -1) -> dict:
  """Gradient times (input - baseline), for the sequence and the features."""
  base_seq, base_feat = baseline(info, one_hot)
  target, g_seq, g_feat = _gradients(_target_fn(model, info.task, index), one_hot,
                                     features)
  return {"sequence": g_seq * (one_hot - base_seq),
          "features": g_feat * (features - base_feat), "target": target}


def integrated_gradients(model, info, one_hot, features, index: int = -1,
                         steps: int = 128) -> dict:
  """Integrated gradients along the straight path from the baseline, both inputs
  together (trapezoidal rule over `steps` intervals; ReLU networks have kinks
  along the path, so the completeness gap shrinks about as 1/steps: 128 steps
  gave a median gap of 0.7% on the quickstart model, 256 steps 0.3%).

  Returns:
    {"sequence": [N, L, 4], "features": [N, F], "target": f(x) [N],
     "baseline_target": f(baseline) [N], "completeness_gap": relative |sum of
     attributions - (f(x) - f(baseline))| / max(|f(x) - f(baseline)|, 1e-6) [N],
     "hypothetical": [N, L, 4] the path-averaged gradient of each base, centred
     over the four bases at each position: what each base would contribute there
     (the hypothetical contributions TF-MoDISco clusters; times the one-hot they
     are the sequence attributions up to that centring)}.
  """
  base_seq, base_feat = baseline(info, one_hot)
  delta_seq = one_hot - base_seq
  delta_feat = features - base_feat
  total_seq = np.zeros_like(one_hot, np.float64)
  total_feat = np.zeros_like(features, np.float64)
  targets = {}
  target_fn = _target_fn(model, info.task, index)
  for step in range(steps + 1):
    alpha = step / steps
    weight = 0.5 if step in (0, steps) else 1.0
    target, g_seq, g_feat = _gradients(target_fn, base_seq + alpha * delta_seq,
                                       base_feat + alpha * delta_feat)
    total_seq += weight * g_seq
    total_feat += weight * g_feat
    if step in (0, steps):
      targets[step] = target
  seq_attr = total_seq / steps * delta_seq
  feat_attr = total_feat / steps * delta_feat
  change = targets[steps] - targets[0]
  summed = seq_attr.sum(axis=(1, 2)) + feat_attr.sum(axis=1)
  gap = np.abs(summed - change) / np.maximum(np.abs(change), 1e-6)
  average = total_seq / steps
  return {"sequence": seq_attr, "features": feat_attr, "target": targets[steps],
          "baseline_target": targets[0], "completeness_gap": gap,
          "hypothetical": average - average.mean(axis=2, keepdims=True)}


def branch_shares(attributions: dict) -> dict[str, np.ndarray]:
  """Per example: signed sums and absolute shares of the two branches."""
  seq = attributions["sequence"].sum(axis=(1, 2))
  feat = attributions["features"].sum(axis=1)
  seq_abs = np.abs(attributions["sequence"]).sum(axis=(1, 2))
  feat_abs = np.abs(attributions["features"]).sum(axis=1)
  total = np.maximum(seq_abs + feat_abs, 1e-12)
  return {"sequence_sum": seq, "features_sum": feat, "sequence_share": seq_abs / total,
          "features_share": feat_abs / total}


def write_modisco(prefix: str, one_hot: np.ndarray, sequence_attr: np.ndarray) -> list[str]:
  """`<prefix>_ohe.npz` and `<prefix>_attr.npz` in the (N, 4, L) layout that
  TF-MoDISco-lite reads (`modisco motifs -s ..._ohe.npz -a ..._attr.npz`)."""
  paths = [f"{prefix}_ohe.npz", f"{prefix}_attr.npz"]
  save_npz(paths[0], np.transpose(one_hot, (0, 2, 1)).astype(np.float32))
  save_npz(paths[1], np.transpose(sequence_attr, (0, 2, 1)).astype(np.float32))
  return paths


def write_tracks(path: str, ids, windows, sequence_attr: np.ndarray) -> str:
  """Per-base tracks: one row per position with the attribution of its base."""
  with atomic_path(path) as tmp, open(tmp, "w", newline="") as handle:
    writer = csv.writer(handle, delimiter="\t", lineterminator="\n")
    writer.writerow(["id", "position", "base", "attribution"])
    for record_id, window, attr in zip(ids, windows, sequence_attr):
      per_base = attr.sum(axis=1)
      for position, (base, value) in enumerate(zip(window, per_base)):
        writer.writerow([record_id, position, base, f"{value:.6g}"])
  return path
