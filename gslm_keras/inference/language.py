"""`LanguageModel`: a pretrained nucleotide language model (a `pretrain` run, an
export of one, or a shipped preset) behind one interface: base probabilities for
windows, and log-likelihood ratios of substitutions at masked positions."""

from __future__ import annotations

import os
from typing import Sequence

import numpy as np
import tensorflow as tf

from gslm_keras import presets
from gslm_keras.data.dataset_info import DatasetInfo
from gslm_keras.dna import alphabet, ops
from gslm_keras.inference import log_space
from gslm_keras.errors import DatasetError
from gslm_keras.inference.manifest import manifest_path, require
from gslm_keras.io.files import read_json
from gslm_keras.io.model_files import load_model
from gslm_keras.run_dir import RunDir
from gslm_keras.tasks.language import MASKED_NUCLEOTIDE

YARDSTICKS = "yardsticks.npz"


class LanguageModel:
  """A nucleotide language model.

  Args:
    path: a pretrain run directory, an export of one, or a preset name.

  Attributes:
    path: the resolved directory.
    task: `tasks.language.MASKED_NUCLEOTIDE`.
    info: the corpus manifest it was pretrained on.
    length: the corpus window length (the model reads any length).
  """

  def __init__(self, path: str):
    self.path = presets.resolve(path)
    manifest = manifest_path(self.path)
    if manifest is None:
      raise DatasetError(f"{path} is neither a training run nor a gslm_keras export")
    require(self.path, MASKED_NUCLEOTIDE.objective, "the language model's uses (llr, "
            "bits per base)")
    self.info = DatasetInfo(read_json(manifest), self.path)
    self.task = MASKED_NUCLEOTIDE
    self.length = self.info.length_rule.length
    self._log_call = None
    if os.path.exists(os.path.join(self.path, "saved_model.pb")):
      self._saved = tf.saved_model.load(self.path)
      self._call = lambda x: self._saved.signatures["base_probabilities_onehot"](
          sequence=x)["probabilities"]
      self.keras_model = None
    else:

      from gslm_keras.models.language import LM_HEAD  # Also registers the layers.

      self.keras_model = load_model(
          RunDir(self.path).model, "pretrain it again (python -m gslm_keras.pretrain ... "
          "--overwrite) or restore it from a copy")
      self._call = tf.function(lambda x: self.keras_model(x, training=False),
                               reduce_retracing=True)
      # log P from the head's logits: a float32 softmax underflows and rounds.
      logits = log_space.logits_of(self.keras_model, LM_HEAD)
      self._log_call = tf.function(lambda x: tf.nn.log_softmax(logits(x), axis=-1),
                                   reduce_retracing=True)

  def yardsticks_path(self) -> str | None:
    for candidate in (os.path.join(self.path, YARDSTICKS),
                      os.path.join(self.path, "assets", YARDSTICKS)):
      if os.path.exists(candidate):
        return candidate
    return None

  def probabilities(self, one_hot) -> np.ndarray:
    """float32 [B, L, 4] base probabilities for one-hot input [B, L, 4]."""
    return np.asarray(self._call(tf.convert_to_tensor(one_hot, tf.float32)))

  def log_probabilities(self, one_hot) -> np.ndarray:
    """float64 [B, L, 4] natural-log base probabilities: from the head's logits for a
    training run (no floor), from the probabilities clipped at 1e-12 for an export."""
    one_hot = tf.convert_to_tensor(one_hot, tf.float32)
    if self._log_call is not None:
      return np.asarray(self._log_call(one_hot), np.float64)
    return np.log(np.clip(np.asarray(self._call(one_hot), np.float64), 1e-12, 1.0))

  def masked_log_probabilities(self, windows: Sequence[str], positions: Sequence[int],
                               batch_size: int = 256) -> np.ndarray:
    """float64 [N, 4]: natural-log P(base) at `positions[i]` of `windows[i]`, that
    position masked (N), the window read as it is (any length)."""
    out = []
    for start in range(0, len(windows), batch_size):
      chunk = list(windows[start:start + batch_size])
      where = np.asarray(positions[start:start + batch_size])
      width = max(len(w) for w in chunk)
      raw = ops.window_bytes(tf.constant(chunk), width, "left").numpy()
      raw[np.arange(len(chunk)), where] = ord(alphabet.PAD_LETTER)
      logp = self.log_probabilities(ops.one_hot(tf.constant(raw)))
      out.append(logp[np.arange(len(chunk)), where])
    return np.concatenate(out) if out else np.zeros((0, 4))

  def strand_log_probabilities(self, windows: Sequence[str], positions: Sequence[int],
                               both_strands: bool = True) -> np.ndarray:
    """float64 [N, 4]: `masked_log_probabilities` in forward-strand base order,
    averaged with the reverse complement's (the complementary base at the
    mirrored position) when `both_strands`."""
    return np.mean(self._strands(windows, positions, both_strands), axis=0)

  def _strands(self, windows, positions, both_strands: bool) -> list[np.ndarray]:
    """[forward] or [forward, reverse]: float64 [N, 4] log probabilities of each
    strand, both in forward-strand base order."""
    out = [self.masked_log_probabilities(windows, positions)]
    if both_strands:
      reverse = [alphabet.reverse_complement(w) for w in windows]
      rpos = [len(w) - 1 - p for w, p in zip(windows, positions)]
      # Column b of the reverse strand is base 3 - b of the forward one.
      out.append(self.masked_log_probabilities(reverse, rpos)[:, ::-1])
    return out

  def llr(self, windows: Sequence[str], positions: Sequence[int], refs: Sequence[str],
          alts: Sequence[str], both_strands: bool = True
          ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(llr, log P(ref), log P(alt)), natural logs, at each masked position;
    llr = log P(alt) - log P(ref) (GPN's score). With `both_strands` each is the
    mean over the window and its reverse complement."""
    found = self.llr_by_strand(windows, positions, refs, alts, both_strands)
    return found["llr"], found["log_p_ref"], found["log_p_alt"]

  def llr_by_strand(self, windows: Sequence[str], positions: Sequence[int],
                    refs: Sequence[str], alts: Sequence[str], both_strands: bool = True
                    ) -> dict[str, np.ndarray]:
    """`llr`'s three arrays by name, and with `both_strands` also `llr_forward` and
    `llr_reverse`, each strand's own (their mean is `llr`): a score that differs
    much between them depends on the strand the model reads."""
    ref_idx = np.array([alphabet.BASES.index(r.upper()) for r in refs])
    alt_idx = np.array([alphabet.BASES.index(a.upper()) for a in alts])
    rows = np.arange(len(windows))
    strands = self._strands(windows, positions, both_strands)
    logp = np.mean(strands, axis=0)
    out = {"log_p_ref": logp[rows, ref_idx], "log_p_alt": logp[rows, alt_idx]}
    out["llr"] = out["log_p_alt"] - out["log_p_ref"]
    if both_strands:
      for name, strand in zip(("llr_forward", "llr_reverse"), strands):
        out[name] = strand[rows, alt_idx] - strand[rows, ref_idx]
    return out
