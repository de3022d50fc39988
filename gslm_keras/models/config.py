"""Model configuration: a frozen, validated dataclass and its named presets."""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar

from gslm_keras.errors import ConfigError

ABLATIONS = ("both", "sequence", "features")
POOLINGS = ("maxavg", "attention", "flatten", "maxavg_positions", "maxavg_bins")
FUSION_ACTIVATIONS = ("relu", "gelu")
FUSIONS = ("dense", "gated")


@dataclasses.dataclass(frozen=True)
class ModelConfig:
  """Architecture of the dual-input model (see `gslm_keras.models.build_model`).

  Attributes:
    stem_widths: kernel widths of the parallel motif-scanning convolutions.
    stem_filters: filters per stem width.
    stem_pool: max-pool size after the stem (1: no pooling).
    tower_blocks: dilated residual blocks; block i has dilation dilation_base**i.
    tower_filters: channels of the tower.
    tower_kernel: kernel width of the tower's dilated convolutions.
    dilation_base: growth of the dilation from block to block.
    pooling: "maxavg" (global max and average, concatenated), "attention"
      (learnt weights over positions), "flatten" (every position kept: for
      fixed-length windows whose signal sits at a fixed place, such as splice
      junctions centred in the window), or "maxavg_positions" (global max and
      average, and beside them every position projected to `flatten_channels`
      channels, 8 if 0, and flattened: what a motif is and where it sits), or
      "maxavg_bins" (global max and average, and beside them the maximum of
      every channel in each of `pool_bins` equal stretches of the window: what
      a motif is, and roughly where).
    flatten_channels: with flatten pooling (or maxavg_positions), project each
      position to this many channels (a 1x1 convolution) before flattening; 0
      keeps all tower channels (8 for maxavg_positions). A 101 bp window flattens
      to 51 x 96 = 4,896 inputs of the fusion layer without it, 51 x 8 = 408 with 8.
    position_dropout: with maxavg_positions, the dropout rate of the flattened
      positions alone (the global max and average keep the model's rate), so
      that where a motif sits does not crowd out what it is on small data.
    pool_bins: stretches of the window with maxavg_bins pooling (the last one
      shorter when they do not divide it).
    feature_units: widths of the Dense blocks of the feature branch.
    fusion_units: width of the Dense layer after concatenating the branches.
    fusion_norm: batch-normalise the fusion layer before its activation.
    branch_norm: layer-normalise each branch's output (the pooled or flattened
      positions, the feature vector) before they are concatenated. Adam moves
      every weight of a unit by about the learning rate at once; on thousands of
      non-negative inputs (a flatten of post-ReLU positions) those moves add up
      coherently and one step can push a fusion unit below zero on every example
      ("dying ReLU"). Centred, unit-scale inputs stop the moves adding up, and the
      two branches enter the fusion on the same scale.
    fusion_activation: "relu" or "gelu" (no dead zone) in the fusion layer.
    fusion: "dense" (a Dense layer over the concatenated branches) or "gated" (a
      gated multimodal unit: each branch projected with tanh, and a sigmoid gate
      over both mixing them unit by unit; fusion_norm and fusion_activation do
      not apply; with one branch, that branch's tanh projection).
    film: the feature branch scales and shifts the sequence branch's channels
      before pooling (FiLM), so that features condition what the positions say.
      Nothing with one branch.
    wide: a wide path (Wide & Deep): a linear layer over the normalised features
      whose output is added to the output layer's logits, so that the model holds
      the logistic (or linear) regression on its features it must beat. Nothing
      without a feature branch (the sequence-only ablation).
    modality_dropout: in training, the probability that an example loses one
      whole branch (sequence or features, half each) before the fusion layer
      (`layers.ModalityDropout`), so that the fusion learns from each branch
      alone as well as from both. Nothing with one branch.
    dropout: dropout rate in the tower, feature and fusion blocks.
    ablation: "both" branches, "sequence" only or "features" only.
    rc_average: predict the mean over the sequence and its reverse complement.
    recalibrate_norms: before each dev evaluation (and at the end of a run without
      dev), set every batch norm's inference statistics from a fixed sample of the
      training split read with dropout off (`training/batch_norm.py`). Moving
      averages lag: on a small dataset they have not converged when the model is
      kept (on the UCI promoters, 30 steps a run, the stem's moving variance is a
      median 5.9 times its input's; `benchmarks/results/norm_statistics_uci.md`),
      and they see the variance dropout adds in training. The preset `default`'s
      since 2026-12-07; a language model does not use it.
  """

  CHOICES: ClassVar[dict[str, tuple[str, ...]]] = {
      "pooling": POOLINGS, "fusion_activation": FUSION_ACTIVATIONS, "fusion": FUSIONS,
      "ablation": ABLATIONS}

  stem_widths: tuple[int, ...] = (7, 11, 15)
  stem_filters: int = 48
  stem_pool: int = 2
  tower_blocks: int = 3
  tower_filters: int = 96
  tower_kernel: int = 3
  dilation_base: int = 2
  pooling: str = "flatten"
  flatten_channels: int = 0
  pool_bins: int = 8
  position_dropout: float = 0.0
  feature_units: tuple[int, ...] = (64,)
  fusion_units: int = 96
  fusion_norm: bool = False
  branch_norm: bool = False
  fusion_activation: str = "relu"
  fusion: str = "dense"
  film: bool = False
  wide: bool = False
  modality_dropout: float = 0.0
  dropout: float = 0.2
  ablation: str = "both"
  rc_average: bool = False
  recalibrate_norms: bool = False

  def __post_init__(self):
    positive = {"stem_filters": self.stem_filters, "stem_pool": self.stem_pool,
                "tower_filters": self.tower_filters, "tower_kernel": self.tower_kernel,
                "dilation_base": self.dilation_base, "fusion_units": self.fusion_units,
                "pool_bins": self.pool_bins}
    for name, value in positive.items():
      if not isinstance(value, int) or value < 1:
        raise ConfigError(f"model {name}={value!r}: expected an integer >= 1")
    if not self.stem_widths or any(w < 1 for w in self.stem_widths):
      raise ConfigError(f"model stem_widths={self.stem_widths}: expected widths >= 1")
    if not isinstance(self.flatten_channels, int) or self.flatten_channels < 0:
      raise ConfigError(f"model flatten_channels={self.flatten_channels!r}: expected an "
                        "integer >= 0")
    if self.tower_blocks < 0:
      raise ConfigError(f"model tower_blocks={self.tower_blocks}: expected >= 0")
    if any(u < 1 for u in self.feature_units):
      raise ConfigError(f"model feature_units={self.feature_units}: expected >= 1")
    if not 0.0 <= self.dropout < 1.0:
      raise ConfigError(f"model dropout={self.dropout}: expected 0 <= dropout < 1")
    if not 0.0 <= self.position_dropout < 1.0:
      raise ConfigError(f"model position_dropout={self.position_dropout}: expected "
                        "0 <= position_dropout < 1")
    if not 0.0 <= self.modality_dropout < 1.0:
      raise ConfigError(f"model modality_dropout={self.modality_dropout}: expected "
                        "0 <= modality_dropout < 1")
    if self.pooling not in POOLINGS:
      raise ConfigError(f"model pooling={self.pooling!r}: expected one of "
                        f"{', '.join(POOLINGS)}")
    if self.fusion_activation not in FUSION_ACTIVATIONS:
      raise ConfigError(f"model fusion_activation={self.fusion_activation!r}: expected "
                        f"one of {', '.join(FUSION_ACTIVATIONS)}")
    if self.fusion not in FUSIONS:
      raise ConfigError(f"model fusion={self.fusion!r}: expected one of "
                        f"{', '.join(FUSIONS)}")
    if self.fusion == "gated" and self.fusion_norm:
      raise ConfigError("model fusion='gated' has no fusion layer to normalise; drop "
                        "fusion_norm or use fusion='dense'")
    if self.ablation not in ABLATIONS:
      raise ConfigError(f"model ablation={self.ablation!r}: expected one of "
                        f"{', '.join(ABLATIONS)}")

  def replace(self, **changes) -> "ModelConfig":
    """A copy with `changes` applied; None values are ignored."""
    return dataclasses.replace(self, **{k: v for k, v in changes.items()
                                        if v is not None})

  def to_json(self) -> dict[str, Any]:
    return dataclasses.asdict(self)

  @classmethod
  def from_json(cls, data: dict[str, Any]) -> "ModelConfig":
    data = dict(data)
    for key in ("stem_widths", "feature_units"):
      if key in data:
        data[key] = tuple(data[key])
    return cls(**data)


# The fields the sequence backbone reads (build_backbone); the rest shape the
# supervised head and the feature branch, which a language model does not have.
BACKBONE_FIELDS = ("stem_widths", "stem_filters", "stem_pool", "tower_blocks",
                   "tower_filters", "tower_kernel", "dilation_base", "dropout")
HEAD_FIELDS = tuple(f.name for f in dataclasses.fields(ModelConfig)
                    if f.name not in BACKBONE_FIELDS)

# What a motif is and where it sits: global max and average pooling beside every
# position projected to 8 channels (with a dropout of 0.5 of their own), a fusion
# layer batch-normalised before its GELU, and the wide path. The design was chosen
# on dev by issue 22's sweep (benchmarks/results/fusion_sweep.md): ahead of the
# flatten design (ModelConfig's field defaults, the default until 2026-12-05) on
# the 8 GUE tasks measured and on StatLog, with a fifth to a half of its
# parameters. The batch norm (default since 2026-12-07) stops the fusion units
# dying: without it 21 to 79 of the 96 units were below zero on every dev example of
# the 9 GUE tasks (benchmarks/results/gue_positions_recount.md), pushed there by the
# post-ReLU global max pool (fusion_units_tf0.md); with it none in 27 runs, and a
# mean paired dev gain of +0.4 MCC over the 9 tasks, on a rule written before the
# runs (gue_positions_fusion_norm3.md). Its batch norms' statistics are measured
# again before each dev evaluation (recalibrate_norms, default since 2026-12-07):
# on the UCI promoters 14.7 errors of 106 instead of 20.3, StatLog and the 9 GUE
# tasks no worse on dev, on a rule written before the runs (gue_recal.md).
DEFAULT = ModelConfig(pooling="maxavg_positions", position_dropout=0.5,
                      fusion_activation="gelu", fusion_norm=True, wide=True,
                      recalibrate_norms=True)
# Position-free signal (a TF's motif anywhere in the window): global max and average
# pooling, a GELU fusion layer and the wide path, chosen on dev by issue 22's sweep
# (benchmarks/results/fusion_sweep.md) for such tasks. Its batch norms' statistics
# are measured again before each dev evaluation, as the default's (since
# 2026-12-07, on a rule written before the runs: UCI promoters 15.3 errors of 106
# against 21.7, StatLog within its seed sd, the three mouse TF tasks +0.6 on dev).
GLOBAL = ModelConfig(pooling="maxavg", fusion_activation="gelu", wide=True,
                     recalibrate_norms=True)

PRESETS = {
    # For tests: builds and trains in seconds.
    "tiny": ModelConfig(stem_widths=(5, 9), stem_filters=8, stem_pool=2, tower_blocks=1,
                        tower_filters=16, pooling="maxavg", feature_units=(16,),
                        fusion_units=16, dropout=0.1),
    # The default: 0.19 M parameters for 60 bp windows, 0.20 M for 101 bp, 0.28 M
    # for 300 bp; what a motif is (global pooling) and where it sits (the
    # projected positions), for aligned windows (a TSS, a splice junction) and
    # position-free ones (a TF's site) alike.
    "default": DEFAULT,
    # For windows whose signal can sit anywhere (TF binding sites): 0.16 M
    # parameters at any length. On aligned windows it loses: GUE prom_300_tata dev
    # MCC 60.3 against the default's 85.3, StatLog splice about 86% against 95.5%.
    "global": GLOBAL,
    # More capacity and an attention pooling, for larger datasets.
    "large": ModelConfig(stem_widths=(7, 11, 15, 21), stem_filters=96, stem_pool=2,
                         tower_blocks=5, tower_filters=192, pooling="attention",
                         feature_units=(128, 64), fusion_units=256, dropout=0.3),
}


def preset(name: str) -> ModelConfig:
  if name not in PRESETS:
    raise ConfigError(f"model preset {name!r}: expected one of {', '.join(PRESETS)}")
  return PRESETS[name]
