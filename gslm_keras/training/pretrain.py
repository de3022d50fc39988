"""`pretrain(config)`: masked nucleotide modelling of the sequence backbone on a corpus.

The run directory, its lock, the safe overwrite and the exact resume after a
kill are the supervised path's (`session`, `callbacks`): `fit` runs in segments
with a backup at every segment end, and the seeded, repeated stream of masked
batches skips what a resumed run already trained on. The dev split (masked with
a fixed seed) selects the model by `val_loss`. At the end the kept model is
measured on each evaluated split against its yardsticks (`evaluation.language`),
the yardsticks are kept beside the model, and a model card is written.
"""

from __future__ import annotations

import dataclasses
import os

from absl import logging

from gslm_keras.errors import ConfigError
from gslm_keras.io.files import write_json_atomic, write_text_atomic
from gslm_keras.io.model_files import save_model
from gslm_keras.io.outputs import exclusive_output
from gslm_keras.run_dir import RunDir
from gslm_keras.tasks.language import MASKED_NUCLEOTIDE
from gslm_keras.training import callbacks as callbacks_lib
from gslm_keras.training import init_from as warm_start
from gslm_keras.training import recipe, session
from gslm_keras.training.card import MODEL_CARD
from gslm_keras.training.config import LmConfig, PretrainConfig  # noqa: F401
from gslm_keras.training.loop import make_loop

YARDSTICKS = "yardsticks.npz"
# Optimizer steps per call of the compiled train function: each call costs Keras
# some Python (70-110 ms measured on synthetic input on this 2-core machine, about
# half a step of the default trunk at batch 128); 8 steps share it.
STEPS_PER_EXECUTION = 8


def pretrain(config: PretrainConfig) -> session.TrainResult:
  """Pretrains, keeps the best dev model as `model.keras`, measures it.

  Raises:
    ConfigError, DatasetError (not a corpus), TrainingError: as `train`.
  """
  from gslm_keras.data.corpus_pipeline import open_corpus
  from gslm_keras.training.strategy import make_strategy, resolve_precision

  info = open_corpus(config.data.data_dir)
  runtime = config.runtime
  if runtime.distribution_strategy == "multi_worker":
    raise ConfigError("pretrain runs on one machine (default, mirrored or tpu)")
  recipe.set_seeds(runtime.seed, runtime.deterministic)
  strategy = make_strategy(runtime.distribution_strategy, runtime.tpu)
  policy = resolve_precision(runtime.mixed_precision, runtime.distribution_strategy)
  with exclusive_output(config.model_dir, "model directory"):
    with session.prepared(config, lambda r: r.backup) as (run, resumed):
      result = _fit(config, run, resumed, info, strategy, policy)
    session.finish_run(config, run)
  return dataclasses.replace(result, model_dir=config.model_dir)


def _fit(config: PretrainConfig, run: RunDir, resumed: bool, info, strategy, policy
         ) -> session.TrainResult:
  from gslm_keras.data.corpus_pipeline import make_lm_dataset

  plan = session.plan_for(config, info, strategy.num_replicas_in_sync)
  model = _compiled_model(config, run, info, strategy, policy, plan)
  done = callbacks_lib.backed_up_segments(run.backup)
  data, lm = config.data, config.lm
  train_ds = make_lm_dataset(
      data.data_dir, "train", "train", data.batch_size, masker=lm.masker(),
      repeat_weight=lm.repeat_weight, reverse_complement=data.reverse_complement,
      seed=config.runtime.seed, repeat=True, skip_batches=done * plan.segment_steps,
      drop_remainder=config.runtime.distribution_strategy == "tpu")
  dev_ds = None
  if "dev" in info.splits:
    dev_ds = make_lm_dataset(data.data_dir, "dev", "eval", data.batch_size,
                             masker=lm.masker(), repeat_weight=lm.repeat_weight,
                             seed=lm.eval_seed).cache()
  # The language model is selected by its masked loss on dev.
  loop = make_loop(run, plan, done, "val_loss", "min",
                   config.optim.early_stopping_patience, dev_ds is not None)
  logging.info("Pretraining %d steps (%d epochs of %d steps, backups every %d steps), "
               "%d-base windows, precision %s%s", plan.total_steps, config.optim.epochs,
               plan.steps_per_epoch, plan.segment_steps, info.length_rule.length, policy,
               f", resuming after step {done * plan.segment_steps}" if done else "")
  steps = loop.fit(model, train_ds, dev_ds, plan, config.verbose)
  final = session.kept_model(run, model)
  save_model(final, run.model)
  metrics = measure_run(config, run, info, final)
  write_text_atomic(run.join(MODEL_CARD), model_card(config, run, info, metrics, steps))
  session.complete(run)
  return session.TrainResult(
      model_dir=run.path, steps=steps, best=loop.dev_monitor.state, metrics=metrics,
      stopped_early=steps < plan.total_steps, resumed=resumed,
      weights_fingerprint=session.weights_fingerprint(final))


def _compiled_model(config: PretrainConfig, run: RunDir, info, strategy, policy, plan):
  """Writes the run's files and returns the compiled language model (its trunk
  from --init_from when given)."""
  from gslm_keras.models.language import MaskedAccuracy, build_language_model, lm_loss

  resolved = {"objective": MASKED_NUCLEOTIDE.objective}
  with strategy.scope():
    model = build_language_model(config.model, config.lm.head_units,
                                 config.lm.local_width, dtype=policy)
    if config.optim.init_from:  # Continue from another model's trunk.
      resolved["init_from"] = warm_start.start(model, config.optim.init_from)
    model.compile(optimizer=recipe.make_optimizer(config.optim, plan, policy, model),
                  loss=lm_loss, metrics=[MaskedAccuracy()],
                  steps_per_execution=steps_per_execution(plan.segment_steps))
  session.write_run_files(config, run, info, policy, plan, resolved)
  return model


def steps_per_execution(segment_steps: int) -> int:
  """The most steps per call, up to STEPS_PER_EXECUTION, that divide a segment
  (backups fall on segment ends)."""
  return next(n for n in range(STEPS_PER_EXECUTION, 0, -1) if segment_steps % n == 0)


def measure_run(config: PretrainConfig, run: RunDir, info, model) -> dict[str, dict]:
  """Fits the yardsticks (k on dev), measures each evaluated split, writes
  metrics/<split>.json and the yardsticks."""
  from gslm_keras.evaluation import language

  data_dir, seed = config.data.data_dir, config.lm.eval_seed
  yardsticks = language.Yardsticks().fit(language.corpus_batches(
      data_dir, "train", seed + 1, limit=config.yardstick_windows or None))
  dev_split = "dev" if "dev" in info.splits else "train"
  choice = yardsticks.choose_k(language.corpus_batches(data_dir, dev_split, seed + 2))
  yardsticks.save(run.join(YARDSTICKS))
  predict = _predictor(model)
  metrics = {}
  for split in config.evaluate_splits:
    if split not in info.splits:
      continue
    report = language.measure(predict, language.corpus_batches(data_dir, split, seed),
                              yardsticks)
    report["kmer_bits_on_" + dev_split] = {str(k): v for k, v in choice.items()}
    report["split"] = split
    write_json_atomic(run.metrics(split), report)
    metrics[split] = report
    logging.info("%s: %.4f bits per base (k-mer k=%d: %.4f, frequencies %.4f), "
                 "accuracy %.4f", split, report["bits_per_base"], yardsticks.k,
                 report["yardsticks"]["kmer"]["bits_per_base"],
                 report["yardsticks"]["frequencies"]["bits_per_base"],
                 report["accuracy"])
  return metrics


def _predictor(model):
  import tensorflow as tf

  @tf.function(reduce_retracing=True)
  def call(x):
    return model(x, training=False)

  return lambda one_hot: call(tf.constant(one_hot)).numpy()


def model_card(config: PretrainConfig, run: RunDir, info, metrics: dict, steps: int) -> str:
  """The run's model card: data, objective, training, results (Markdown)."""
  corpus = info.corpus
  lines = [f"# Nucleotide language model `{os.path.basename(config.model_dir)}`", "",
           "Masked nucleotide model over the gslm_keras sequence backbone "
           f"(`{config.model_preset}` preset; the weights of the layers of "
           "`sequence_backbone` move by name to a classifier: "
           "`train --init_from`).", "", "## Data", "",
           f"Corpus `{info.data.get('name')}`: windows of {corpus.get('length')} bases "
           f"at stride {corpus.get('stride')}"
           f"{', both strands' if corpus.get('both_strands') else ''}; "
           f"{info.num_records('train')} train windows. Built with:", "",
           f"    {info.data.get('build_command')}", "", "| source | bases | train | dev | "
           "test | dropped (N / excluded / split edge) |", "|---|---|---|---|---|---|"]
  for name, c in sorted(corpus.get("sources", {}).items()):
    d = c["dropped"]
    lines.append(f"| {name} | {c['bases']:,} | {c['windows']['train']:,} | "
                 f"{c['windows']['dev']:,} | {c['windows']['test']:,} | "
                 f"{d['too_many_n']} / {d['excluded']} / {d['split_boundary']} |")
  exclusion = corpus.get("exclusion")
  if exclusion:
    lines += ["", f"Excluded: {exclusion['rule']} ({len(exclusion['files'])} files, "
              f"{exclusion['windows_dropped']} windows dropped)."]
  lm = config.lm
  lines += ["", "## Objective and training", "",
            f"{lm.mask_rate:.0%} of bases chosen in spans of {lm.mask_span}; "
            f"{lm.mask_share:.0%} set to N, {lm.random_share:.0%} random, the rest kept; "
            f"soft-masked bases weighted {lm.repeat_weight}. {steps} steps of batch "
            f"{config.data.batch_size}, {config.optim.optimizer} at "
            f"{config.optim.learning_rate} ({config.optim.lr_schedule}). Re-run: "
            "`python -m gslm_keras.pretrain --flagfile="
            f"{os.path.join(config.model_dir, os.path.basename(run.flagfile))}`.", "",
            "## Results", "",
            "Masked 15% of single positions (all N, seeded); bits per base, lower is "
            "better; the k-mer model predicts a base from k bases on each side (k chosen "
            "on dev).", "", "| split | source | LM | k-mer | frequencies | margin | "
            "LM accuracy |", "|---|---|---|---|---|---|---|"]
  for split, report in metrics.items():
    for source, entry in [("all", report), *report["by_source"].items()]:
      y = entry["yardsticks"]
      lines.append(f"| {split} | {source} | {entry['bits_per_base']:.4f} | "
                   f"{y['kmer']['bits_per_base']:.4f} | "
                   f"{y['frequencies']['bits_per_base']:.4f} | "
                   f"{entry['margin_over_kmer_bits']:+.4f} | {entry['accuracy']:.4f} |")
  return "\n".join(lines) + "\n"
