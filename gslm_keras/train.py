r"""Trains a dual-input model on a dataset directory.

  python -m gslm_keras.train --flagfile=models/quickstart.flags
  python -m gslm_keras.train --flagfile=models/default.flags \
      --data_dir=build/datasets/prom_300_tata --model_dir=build/models/prom

Later flags override the flagfile's. Model flags left unset take the preset's
value (--model_preset). The model directory receives the resolved config, a
re-runnable flagfile, a copy of dataset_info.json, resumable checkpoints,
TensorBoard logs, the best dev model (model.keras), metrics/<split>.json and
plots. A killed run resumes when started again with the same flags.
"""

from __future__ import annotations

from absl import flags

from gslm_keras import cli
from gslm_keras.training.defaults import RECIPE


# === Data and output ===
_DATA_DIR = flags.DEFINE_string("data_dir", None, "Dataset directory (build_dataset).")
_MODEL_DIR = flags.DEFINE_string("model_dir", None, "Where the run's files go.")
_DATASET_FLAGFILE = flags.DEFINE_string(
    "dataset_flagfile", None, "build_dataset flagfile used to build --data_dir first "
    "when it holds no dataset yet.")
_OVERWRITE = flags.DEFINE_boolean(
    "overwrite", False, "Train again in a --model_dir that holds a finished run.")
_EVALUATE_SPLITS = flags.DEFINE_list(
    "evaluate_splits", ["dev", "test"], "Splits evaluated with the final model.")

# === Model ===
_MODEL_PRESET = flags.DEFINE_enum(
    # The names of gslm_keras.models.PRESETS (written out: importing the models
    # would load TensorFlow before the flags are parsed; a test keeps them equal).
    "model_preset", "default", ["tiny", "default", "global", "large"],
    "Architecture preset; the model flags below override single fields.")
_STEM_WIDTHS = flags.DEFINE_list("stem_widths", None, "Motif-scanner kernel widths.")
_STEM_FILTERS = flags.DEFINE_integer("stem_filters", None, "Filters per stem width.")
_STEM_POOL = flags.DEFINE_integer("stem_pool", None, "Max-pool size after the stem.")
_TOWER_BLOCKS = flags.DEFINE_integer("tower_blocks", None, "Dilated residual blocks.")
_TOWER_FILTERS = flags.DEFINE_integer("tower_filters", None, "Channels of the tower.")
_TOWER_KERNEL = flags.DEFINE_integer("tower_kernel", None, "Tower kernel width.")
_DILATION_BASE = flags.DEFINE_integer("dilation_base", None, "Dilation growth per block.")
_POOLING = flags.DEFINE_enum(
    "pooling", None, ["maxavg", "attention", "flatten", "maxavg_positions", "maxavg_bins"],
    "Pooling of the sequence branch's positions.")
_FLATTEN_CHANNELS = flags.DEFINE_integer(
    "flatten_channels", None, "Flatten pooling: channels per position after a 1x1 "
    "projection (0: all tower channels).")
_POOL_BINS = flags.DEFINE_integer(
    "pool_bins", None, "maxavg_bins pooling: stretches of the window, each max-pooled "
    "per channel beside the global max and average.")
_POSITION_DROPOUT = flags.DEFINE_float(
    "position_dropout", None, "maxavg_positions pooling: dropout rate of the flattened "
    "positions alone.")
_FEATURE_UNITS = flags.DEFINE_list("feature_units", None,
                                   "Dense widths of the feature branch.")
_FUSION_UNITS = flags.DEFINE_integer("fusion_units", None, "Width after fusion.")
_FUSION_NORM = flags.DEFINE_boolean(
    "fusion_norm", None, "Batch-normalise the fusion layer before its activation (keeps "
    "ReLU units from dying under a wide flatten head).")
_BRANCH_NORM = flags.DEFINE_boolean(
    "branch_norm", None, "Layer-normalise each branch's output before the fusion layer.")
_FUSION_ACTIVATION = flags.DEFINE_enum(
    "fusion_activation", None, ["relu", "gelu"], "Activation of the fusion layer.")
_FUSION = flags.DEFINE_enum(
    "fusion", None, ["dense", "gated"], "How the branches are fused: a Dense layer over "
    "both, or a gated multimodal unit.")
_FILM = flags.DEFINE_boolean(
    "film", None, "The feature branch scales and shifts the sequence branch's channels "
    "before pooling (FiLM).")
_WIDE = flags.DEFINE_boolean(
    "wide", None, "A wide path: a linear layer over the normalised features added to "
    "the output logits (Wide & Deep), so the model holds the feature regression.")
_MODALITY_DROPOUT = flags.DEFINE_float(
    "modality_dropout", None, "Training only: probability that an example loses one "
    "whole branch (sequence or features) before the fusion layer.")
_DROPOUT = flags.DEFINE_float("dropout", None, "Dropout rate.")
_ABLATION = flags.DEFINE_enum("ablation", None, ["both", "sequence", "features"],
                              "Which branches the model uses.")
_RC_AVERAGE = flags.DEFINE_boolean(
    "rc_average", None, "Predict the mean over the sequence and its reverse complement.")

# === Optimisation ===
_BATCH_SIZE = flags.DEFINE_integer("batch_size", 64, "Global batch size.")
_EPOCHS = flags.DEFINE_integer("epochs", RECIPE["epochs"],
                               "Passes over the training split.")
_STEPS_PER_EPOCH = flags.DEFINE_integer(
    "steps_per_epoch", None, "Steps per epoch; ceil(train records / batch) if unset.")
_CHECKPOINT_EVERY = flags.DEFINE_integer(
    "checkpoint_every", None, "Steps between resumable backups; one epoch if unset.")
_OPTIMIZER = flags.DEFINE_enum("optimizer", RECIPE["optimizer"],
                               ["adam", "adamw", "sgd"],
                               "Optimizer.")
_LEARNING_RATE = flags.DEFINE_float("learning_rate", RECIPE["learning_rate"],
                                    "Peak learning rate.")
_LR_SCHEDULE = flags.DEFINE_enum(
    "lr_schedule", RECIPE["lr_schedule"], ["constant", "cosine", "exponential"],
    "Learning-rate schedule: constant, cosine to 0, or halved every epoch.")
_WARMUP_STEPS = flags.DEFINE_integer("warmup_steps", RECIPE["warmup_steps"],
                                     "Linear warm-up (cosine).")
_WEIGHT_DECAY = flags.DEFINE_float("weight_decay", RECIPE["weight_decay"],
                                   "Weight decay (adamw).")
_CLIPNORM = flags.DEFINE_float("clipnorm", RECIPE["clipnorm"],
                               "Clip each gradient to this norm (0: "
                               "off).")
_EARLY_STOPPING_PATIENCE = flags.DEFINE_integer(
    "early_stopping_patience", RECIPE["early_stopping_patience"],
    "Epochs without dev improvement before stopping; "
    "0 never stops early.")
_MONITOR = flags.DEFINE_string(
    "monitor", "auto", "Dev metric for model selection (val_auroc, val_accuracy, "
    "val_loss ...); auto picks by task.")
_CLASS_WEIGHTS = flags.DEFINE_string(
    "class_weights", "none", "none, balanced, or one weight per class (w0,w1,...).")
_INIT_FROM = flags.DEFINE_string(
    "init_from", None, "Start the sequence backbone from this model's weights (by "
    "layer name): a pretrain or train run directory, or a preset name "
    "(python -m gslm_keras.pretrain --list_presets).")
_FREEZE_TRUNK_STEPS = flags.DEFINE_integer(
    "freeze_trunk_steps", 0, "With --init_from: keep the sequence backbone fixed for "
    "this many optimizer steps while the new head and feature branch learn.")
_TRUNK_LR_MULTIPLIER = flags.DEFINE_float(
    "trunk_learning_rate_multiplier", 1.0, "With --init_from: after the freeze, the "
    "sequence backbone learns at this times the learning rate.")
_REVERSE_COMPLEMENT = flags.DEFINE_boolean(
    "reverse_complement", False, "Augment with random reverse complements.")
_MAX_SHIFT = flags.DEFINE_integer("max_shift", 0, "Augment with random shifts up to "
                                  "this many bases.")
_SEED = flags.DEFINE_integer("seed", 0, "Seed of weights, data order and augmentation.")
_DETERMINISTIC = flags.DEFINE_boolean(
    "deterministic", False, "Deterministic TensorFlow ops: same seed, same metrics.")

# === Hardware ===
_DISTRIBUTION_STRATEGY = flags.DEFINE_enum(
    "distribution_strategy", "default", ["default", "mirrored", "multi_worker", "tpu"],
    "tf.distribute strategy; multi_worker reads TF_CONFIG.")
_MIXED_PRECISION = flags.DEFINE_enum(
    "mixed_precision", "auto", ["auto", "float32", "mixed_float16", "mixed_bfloat16"],
    "auto: float16 on GPU, bfloat16 on TPU, float32 on CPU.")
_TPU = flags.DEFINE_string("tpu", None, "TPU name or address for --distribution_strategy"
                           "=tpu.")
_LOGICAL_CPUS = flags.DEFINE_integer(
    "logical_cpus", 0, "Split the CPU into this many logical devices (for mirrored "
    "training on a CPU-only machine).")
_VERBOSE = flags.DEFINE_integer("verbose", 2, "Keras fit verbosity: 0, 1 or 2.")


def _ints(name, values):
  from gslm_keras.errors import ConfigError

  if values is None:
    return None
  try:
    return tuple(int(v) for v in values)
  except ValueError:
    raise ConfigError(f"--{name}={','.join(values)}: expected integers") from None


def config_from_flags():
  """Turns the parsed flags into a TrainConfig, once."""
  from gslm_keras.models.config import preset
  from gslm_keras.training import config as train_config

  cli.require(_DATA_DIR, _MODEL_DIR)
  model = preset(_MODEL_PRESET.value).replace(
      stem_widths=_ints("stem_widths", _STEM_WIDTHS.value),
      stem_filters=_STEM_FILTERS.value, stem_pool=_STEM_POOL.value,
      tower_blocks=_TOWER_BLOCKS.value, tower_filters=_TOWER_FILTERS.value,
      tower_kernel=_TOWER_KERNEL.value, dilation_base=_DILATION_BASE.value,
      pooling=_POOLING.value, flatten_channels=_FLATTEN_CHANNELS.value,
      pool_bins=_POOL_BINS.value, position_dropout=_POSITION_DROPOUT.value,
      feature_units=_ints("feature_units", _FEATURE_UNITS.value),
      fusion_units=_FUSION_UNITS.value, fusion_norm=_FUSION_NORM.value,
      branch_norm=_BRANCH_NORM.value, fusion_activation=_FUSION_ACTIVATION.value,
      fusion=_FUSION.value, film=_FILM.value, wide=_WIDE.value,
      modality_dropout=_MODALITY_DROPOUT.value, dropout=_DROPOUT.value,
      ablation=_ABLATION.value, rc_average=_RC_AVERAGE.value)
  return train_config.TrainConfig(
      data=train_config.DataConfig(
          data_dir=_DATA_DIR.value, batch_size=_BATCH_SIZE.value,
          reverse_complement=_REVERSE_COMPLEMENT.value, max_shift=_MAX_SHIFT.value),
      model=model,
      optim=train_config.OptimConfig(
          epochs=_EPOCHS.value, steps_per_epoch=_STEPS_PER_EPOCH.value,
          optimizer=_OPTIMIZER.value, learning_rate=_LEARNING_RATE.value,
          lr_schedule=_LR_SCHEDULE.value, warmup_steps=_WARMUP_STEPS.value,
          weight_decay=_WEIGHT_DECAY.value, clipnorm=_CLIPNORM.value,
          early_stopping_patience=_EARLY_STOPPING_PATIENCE.value,
          monitor=_MONITOR.value, class_weights=_CLASS_WEIGHTS.value,
          init_from=_INIT_FROM.value, freeze_trunk_steps=_FREEZE_TRUNK_STEPS.value,
          trunk_learning_rate_multiplier=_TRUNK_LR_MULTIPLIER.value),
      runtime=train_config.RuntimeConfig(
          seed=_SEED.value, deterministic=_DETERMINISTIC.value,
          checkpoint_every=_CHECKPOINT_EVERY.value,
          distribution_strategy=_DISTRIBUTION_STRATEGY.value,
          mixed_precision=_MIXED_PRECISION.value, tpu=_TPU.value),
      model_dir=_MODEL_DIR.value, model_preset=_MODEL_PRESET.value,
      dataset_flagfile=_DATASET_FLAGFILE.value,
      evaluate_splits=tuple(_EVALUATE_SPLITS.value), overwrite=_OVERWRITE.value,
      verbose=_VERBOSE.value)


def build_missing_dataset(data_dir: str, flagfile: str | None) -> None:
  """Builds `data_dir` from a dataset flagfile when it holds no dataset yet (the
  quickstart). Workers of a multi-worker cluster would race: it must exist."""
  import os

  from absl import logging

  from gslm_keras.data.builder.builder import build_dataset
  from gslm_keras.data.builder.flags import config_from_flagfile
  from gslm_keras.data.dataset_info import MANIFEST

  if not flagfile or os.path.exists(os.path.join(data_dir, MANIFEST)):
    return
  if _DISTRIBUTION_STRATEGY.value == "multi_worker":
    return
  logging.info("No dataset at %s yet: building it from %s", data_dir, flagfile)
  build_dataset(config_from_flagfile(flagfile, output_dir=data_dir))


def _headline(metrics: dict) -> str:
  keys = ("accuracy", "auroc", "auprc", "mcc", "f1", "auroc_macro", "pearson",
          "spearman")
  return ", ".join(f"{k} {metrics[k]:.4f}" for k in keys
                   if isinstance(metrics.get(k), float))


def main(argv):
  del argv
  from gslm_keras.training.strategy import configure_logical_cpus

  configure_logical_cpus(_LOGICAL_CPUS.value)
  from gslm_keras.training.trainer import train

  config = config_from_flags()
  build_missing_dataset(config.data.data_dir, config.dataset_flagfile)
  result = train(config)
  d = result.model_dir
  print(f"\nTrained {result.steps} steps{' (resumed)' if result.resumed else ''}"
        f"{' (stopped early)' if result.stopped_early else ''}.")
  for restart in result.restarts:
    print(f"Restarted: seed {restart['seed']} collapsed after epoch 1 "
          f"({restart['reason']}); see {result.model_dir}/restarts.json")
  if result.best.get("best") is not None:
    print(f"Best dev {result.best.get('monitor', 'metric')}: {result.best['best']:.4f}"
          + (f" at step {result.best['best_step']}" if "best_step" in result.best else ""))
  for split, metrics in result.metrics.items():
    print(f"{split}: {_headline(metrics)}")
  print(f"Weights fingerprint: {result.weights_fingerprint}")
  print(f"\nModel:        {d}/model.keras\n"
        f"Metrics:      {d}/metrics/\n"
        f"Plots:        {d}/plots/\n"
        f"Predictions:  {d}/predictions/\n"
        f"TensorBoard:  tensorboard --logdir {cli.quoted(d + '/logs')}\n"
        "Re-run:       python -m gslm_keras.train "
        f"--flagfile={cli.quoted(d + '/train.flags')}")


def run():
  cli.run(main)


if __name__ == "__main__":
  run()
