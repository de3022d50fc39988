"""Physicochemical and structural features from published dinucleotide scales.

A scale gives one value per dinucleotide step (5'->3', top strand); the feature is
the mean over the sequence's steps whose two bases are both unambiguous (0 when
there is none).
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from gslm_keras.dna import alphabet
from gslm_keras.features.registry import register

_STEPS = [a + b for a in alphabet.BASES for b in alphabet.BASES]

# Nearest-neighbour duplex free energy at 37 C, kcal/mol, from the unified
# parameters of SantaLucia J Jr (1998) "A unified view of polymer, dumbbell, and
# oligonucleotide DNA nearest-neighbor thermodynamics", PNAS 95:1460-1465, Table 1
# (identical to Allawi & SantaLucia 1997, Biochemistry 36:10581): DeltaG = DeltaH -
# T * DeltaS with T = 310.15 K; DeltaH in kcal/mol, DeltaS in cal/(mol K).
_NN_ENTHALPY_ENTROPY = {
    "AA": (-7.9, -22.2), "AT": (-7.2, -20.4), "TA": (-7.2, -21.3),
    "CA": (-8.5, -22.7), "GT": (-8.4, -22.4), "CT": (-7.8, -21.0),
    "GA": (-8.2, -22.2), "CG": (-10.6, -27.2), "GC": (-9.8, -24.4),
    "GG": (-8.0, -19.9),
}


def _nn_free_energy():
  table = {}
  for step in _STEPS:
    # A step and its reverse complement are the same duplex stack.
    key = step if step in _NN_ENTHALPY_ENTROPY else alphabet.reverse_complement(step)
    enthalpy, entropy = _NN_ENTHALPY_ENTROPY[key]
    table[step] = enthalpy - 310.15 * entropy / 1000.0
  return table


SCALES = {
    # Base-stacking energy, kcal/mol: Ornstein RL, Rein R, Breen DL, MacElroy RD
    # (1978) "An optimized potential function for the calculation of nucleic acid
    # interaction energies I. Base stacking", Biopolymers 17:2341-2360
    # (doi:10.1002/bip.1978.360171005); values as tabulated in DiProDB (Friedel et
    # al. 2009, Nucleic Acids Res 37:D37).
    "stacking_energy": {
        "AA": -5.37, "AC": -10.51, "AG": -6.78, "AT": -6.57,
        "CA": -6.57, "CC": -8.26, "CG": -9.69, "CT": -6.78,
        "GA": -9.81, "GC": -14.59, "GG": -8.26, "GT": -10.51,
        "TA": -3.82, "TC": -9.81, "TG": -6.57, "TT": -5.37,
    },
    # Protein-induced deformability: Olson WK, Gorin AA, Lu XJ, Hock LM, Zhurkin VB
    # (1998) "DNA sequence-dependent deformability deduced from protein-DNA crystal
    # complexes", PNAS 95:11163-11168 (PMID 9736707).
    "deformability": {
        "AA": 2.9, "AC": 2.3, "AG": 2.1, "AT": 1.6,
        "CA": 9.8, "CC": 6.1, "CG": 12.1, "CT": 2.1,
        "GA": 4.5, "GC": 4.0, "GG": 6.1, "GT": 2.3,
        "TA": 6.3, "TC": 4.5, "TG": 9.8, "TT": 2.9,
    },
    # Bending stiffness (persistence length, nm): Sivolob AV, Khrapunov SN (1995)
    # "Translational positioning of nucleosomes on DNA: the role of sequence-
    # dependent isotropic DNA bending stiffness", J Mol Biol 247:918-931
    # (PMID 7723041).
    "bending_stiffness": {
        "AA": 35.0, "AC": 60.0, "AG": 60.0, "AT": 20.0,
        "CA": 60.0, "CC": 130.0, "CG": 85.0, "CT": 60.0,
        "GA": 60.0, "GC": 85.0, "GG": 130.0, "GT": 60.0,
        "TA": 20.0, "TC": 60.0, "TG": 60.0, "TT": 35.0,
    },
    "nn_free_energy": _nn_free_energy(),
}


def scale_table(scale: str) -> np.ndarray:
  """float32 [16] values of `scale`, indexed by 4 * first + second base code."""
  return np.array([SCALES[scale][step] for step in _STEPS], np.float32)


def _dinucleotide_names(scale):
  return [f"dinuc_{scale}"]


@register("dinucleotide", defaults={"scale": "stacking_energy"},
          output_names=_dinucleotide_names, choices={"scale": tuple(SCALES)})
def dinucleotide(codes, scale):
  """Mean of a published dinucleotide scale over the sequence's steps."""
  first, second = codes[:, :-1], codes[:, 1:]
  valid = (first < 4) & (second < 4)
  index = tf.minimum(first, 3) * 4 + tf.minimum(second, 3)
  values = tf.gather(tf.constant(scale_table(scale)), index)
  total = tf.reduce_sum(tf.where(valid, values, 0.0), axis=1)
  count = tf.reduce_sum(tf.cast(valid, tf.float32), axis=1)
  return tf.math.divide_no_nan(total, count)[:, None]
