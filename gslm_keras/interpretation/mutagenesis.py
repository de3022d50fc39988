"""In-silico mutagenesis: the effect of every single-base substitution of a window.

Each mutant is a full raw sequence, encoded by the dataset's `SequenceEncoder`,
so its computed features are recomputed too: the effect is that of the mutation
through both branches of the model.

Effects of a classifier are on the logit scale (logit(p_mutant) - logit(p_ref)):
on the probability scale a confidently classified sequence shows effects of
1e-4 that hide which bases matter. They come from the model's logits, not from
its float32 probabilities, which round to 1.0 past a logit of about 16.6 and
would make every effect 0 (`gslm_keras.inference.log_space`). Probability
differences are kept beside them.
"""

from __future__ import annotations

import numpy as np

from gslm_keras.dna import alphabet
from gslm_keras.tasks.supervised import task_type

BASES = alphabet.BASES


def mutants(window: str) -> tuple[list[str], list[tuple[int, int]]]:
  """Every single-base substitution of `window`: (sequences, (position, base))."""
  sequences, where = [], []
  for position, letter in enumerate(window.upper()):
    for base_index, base in enumerate(BASES):
      if base != letter:
        sequences.append(window[:position] + base + window[position + 1:])
        where.append((position, base_index))
  return sequences, where


def window_of(model, sequence: str) -> str:
  """The model's window of a raw sequence, by the dataset's length rule (in TF,
  as the model sees it)."""
  import tensorflow as tf

  windows = model.encoder.windows(tf.constant([sequence]))
  return windows.numpy()[0].tobytes().decode("ascii").upper()


def ism(model, sequence: str, provided=None, batch_size: int = 512) -> dict:
  """Effects of all substitutions of a sequence's window.

  Args:
    model: a `LoadedModel` (training run or export).
    sequence: raw sequence (cropped or padded to the window by the dataset's rule).
    provided: provided features [P] of the sequence (held for every mutant).
    batch_size: mutants per batch.

  Returns:
    {"window": the window string, "reference": outputs [K] of the window (one per
     output column), "effects": float [L, 4, K] mutant minus reference on the
     `scale` (0 at the reference base), "effects_probability": the same on the
     probability scale (classifiers), "scale": "logit" (classifiers) or "value"
     (regression)}.
  """
  window = window_of(model, sequence)
  variants, where = mutants(window)
  strings = [window] + variants
  extra = None
  if model.info.n_provided:
    extra = np.repeat(np.asarray(provided, np.float32)[None, :], len(strings), axis=0)
  classifier = task_type(model.info.task).probabilities
  if classifier:
    # From the logits: a probability that float32 rounds to 1.0 keeps its log-odds.
    log_p, log_q = model.log_probabilities(strings, extra, batch_size)
    transformed, outputs = log_p - log_q, np.exp(log_p)
  else:
    outputs = model.predict(strings, extra, batch_size)
    transformed = np.asarray(outputs, np.float64)
  effects = np.zeros((len(window), 4, outputs.shape[1]), np.float64)
  raw = np.zeros_like(effects)
  for (position, base), value, plain in zip(where, transformed[1:], outputs[1:]):
    effects[position, base] = value - transformed[0]
    raw[position, base] = plain - outputs[0]
  result = {"window": window, "reference": outputs[0], "effects": effects,
            "scale": "logit" if classifier else "value"}
  if classifier:
    result["effects_probability"] = raw
  return result


def llr_map(language_model, sequence: str) -> dict:
  """The zero-shot effect of every substitution of a sequence under a language
  model: llr = log P(alt) - log P(ref) with the position masked, averaged over
  both strands (the whole sequence is the window: a language model reads any
  length). Same layout as `ism`: effects [L, 4, 1], 0 at the reference base and
  at positions that hold no A, C, G or T."""
  window = sequence.upper()
  positions = [p for p, letter in enumerate(window) if letter in BASES]
  effects = np.zeros((len(window), 4, 1), np.float64)
  reference = 0.0
  if positions:
    # One masked read of each position (both strands) gives all four bases.
    logp = language_model.strand_log_probabilities([window] * len(positions), positions)
    ref_logp = logp[np.arange(len(positions)),
                    [BASES.index(window[p]) for p in positions]]
    effects[positions, :, 0] = logp - ref_logp[:, None]
    reference = float(ref_logp.mean())
  return {"window": window, "reference": np.array([reference]), "effects": effects,
          "scale": "llr"}


def plot_ism(result: dict, output_index: int, output_name: str, path: str,
             title: str = "") -> str:
  """Heatmap of the effects with a logo of the importance-weighted sequence.

  A base's importance is minus the mean effect of replacing it: tall letters are
  bases whose loss lowers the output. The colour scale is symmetric around 0 and
  ends at the 99th percentile of |effect| (a single extreme mutant would wash
  out the rest); `title` names the sequence.
  """
  import logomaker
  import pandas as pd

  from gslm_keras.evaluation.plots import _pyplot, _save

  plt = _pyplot()
  effects = result["effects"][:, :, output_index]
  window = result["window"]
  length = len(window)
  importance = np.zeros((length, 4))
  for position, letter in enumerate(window):
    if letter in BASES:
      others = [b for b in range(4) if BASES[b] != letter]
      importance[position, BASES.index(letter)] = -effects[position, others].mean()
  fig, (logo_ax, heat_ax) = plt.subplots(2, 1, figsize=(min(max(8, length / 14), 24), 5),
                                         sharex=True,
                                         gridspec_kw={"height_ratios": [1, 1.2]})
  logomaker.Logo(pd.DataFrame(importance, columns=list(BASES)), ax=logo_ax)
  scale = result.get("scale", "value")
  unit = {"logit": "logit", "llr": "llr"}.get(scale, "output")
  logo_ax.set_ylabel(f"importance\n({unit})")
  reference = float(result["reference"][output_index])
  logo_ax.set_title(f"In-silico mutagenesis of {title or 'the sequence'}: "
                    f"{output_name} = {reference:.3g}")
  limit = float(np.percentile(np.abs(effects), 99)) or float(np.abs(effects).max()) or 1.0
  image = heat_ax.imshow(effects.T, aspect="auto", cmap="RdBu_r", vmin=-limit,
                         vmax=limit, extent=(-0.5, length - 0.5, 3.5, -0.5),
                         interpolation="nearest")
  # The reference base of each position, marked in its row.
  for position, letter in enumerate(window):
    if letter in BASES and length <= 400:
      heat_ax.plot(position, BASES.index(letter), marker=".", color="black",
                   markersize=2)
  heat_ax.set_yticks(range(4), list(BASES))
  heat_ax.set_ylabel("mutant base")
  heat_ax.set_xlabel("position in window (dot: reference base)")
  label = {"logit": "logit(p mutant) - logit(p reference)",
           "llr": "log P(mutant) - log P(reference), masked"}.get(
               scale, "mutant - reference")
  fig.colorbar(image, ax=[logo_ax, heat_ax], orientation="vertical", fraction=0.03,
               pad=0.01, label=label, extend="both")
  return _save(fig, path)
