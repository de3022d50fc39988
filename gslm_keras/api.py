"""The verbs of the Python API, one per command line entry point.

  import gslm_keras as gk
  gk.build_dataset(flagfile="datasets/splice_statlog/build.flags",
                   output_dir="build/datasets/splice_statlog")
  result = gk.train(data_dir="build/datasets/splice_statlog",
                    model_dir="build/models/splice", epochs=5, seed=0)
  gk.evaluate("build/models/splice", split="test")
  model = gk.load("build/models/splice")

Each verb takes a config object, or keyword arguments named as the command's
flags (`train(..., epochs=5, pooling="maxavg")`: model fields replace those of
`model_preset`'s architecture, as on the command line), and does what the
command does, with the same locks, atomic outputs and errors (GslmError
subclasses, one line each). Nothing here imports TensorFlow until a verb runs.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Sequence

from gslm_keras.errors import ConfigError
from gslm_keras.tasks.language import MASKED_NUCLEOTIDE
from gslm_keras.tasks.supervised import SUPERVISED


def _config(cls, config, fields: dict[str, Any], verb: str):
  if config is not None and fields:
    raise ConfigError(f"{verb}: give a config or keyword arguments, not both")
  if config is not None:
    if not isinstance(config, cls):
      raise ConfigError(f"{verb}: expected a {cls.__name__}, got "
                        f"{type(config).__name__}")
    return config
  try:
    return cls(**fields)
  except TypeError as error:
    raise ConfigError(f"{verb}: {error}") from None


def _given(**fields) -> dict[str, Any]:
  """The keyword arguments a caller gave (those not left at None)."""
  return {k: v for k, v in fields.items() if v is not None}


def _run_config(cls, config, fields: dict[str, Any], verb: str):
  """A TrainConfig (or PretrainConfig) from keyword arguments as flags give them:
  model fields replace those of `model_preset`'s architecture."""
  from gslm_keras.models.config import ModelConfig, preset

  if config is not None:
    return _config(cls, config, fields, verb)
  fields = dict(fields)
  unused = [k for k in fields if any(k in names for names in cls.UNUSED.values())]
  if unused:
    raise ConfigError(f"{verb}: {unused[0]} is a classifier option; {verb} does not "
                      "use it: drop it")
  names = {f.name for f in dataclasses.fields(ModelConfig)}
  changes = {k: fields.pop(k) for k in list(fields) if k in names}
  if "model" not in fields:
    fields["model"] = preset(fields.get("model_preset", "default")).replace(**changes)
  elif changes:
    fields["model"] = dataclasses.replace(fields["model"], **changes)
  unknown = [k for k in fields if k not in _known(cls)]
  if unknown:
    raise ConfigError(f"{verb}: unknown option {unknown[0]!r}")
  return cls.create(**fields)


def _known(cls) -> set[str]:
  names = {f.name for f in dataclasses.fields(cls)}
  for kind in cls.PARTS.values():
    names |= {f.name for f in dataclasses.fields(kind)}
  return names


def build_dataset(config=None, /, *, flagfile: str | None = None, **fields):
  """Builds a dataset (python -m gslm_keras.build_dataset); returns its DatasetInfo.

  Args:
    config: a BuildConfig (or CorpusConfig).
    flagfile: a build_dataset flagfile; `fields` then act as later flags
      (`output_dir=...`).
    **fields: BuildConfig fields, without a config or flagfile.
  """
  from gslm_keras.data.builder import builder
  from gslm_keras.data.builder.config import BuildConfig

  if flagfile is not None:
    if config is not None:
      raise ConfigError("build_dataset: give a config or a flagfile, not both")
    from gslm_keras.data.builder.flags import config_from_flagfile

    return builder.build_dataset(config_from_flagfile(flagfile, **fields))
  if config is not None and not fields:
    return builder.build_dataset(config)
  return builder.build_dataset(_config(BuildConfig, config, fields, "build_dataset"))


def train(config=None, /, **fields):
  """Trains a dual-input model (python -m gslm_keras.train); returns a TrainResult.

  Args:
    config: a TrainConfig.
    **fields: its fields by their flag names (data_dir, model_dir, epochs, seed,
      model_preset, pooling ...), or whole parts (model=ModelConfig(...)).
  """
  from gslm_keras.training.config import TrainConfig
  from gslm_keras.training.trainer import train as run

  return run(_run_config(TrainConfig, config, fields, "train"))


def pretrain(config=None, /, **fields):
  """Pretrains the sequence backbone as a masked language model (python -m
  gslm_keras.pretrain); returns a TrainResult. Arguments as `train`'s, plus the
  objective's (mask_rate, head_units ...)."""
  from gslm_keras.training.config import PretrainConfig
  from gslm_keras.training.pretrain import pretrain as run

  return run(_run_config(PretrainConfig, config, fields, "pretrain"))


def evaluate(config=None, /, **fields) -> dict:
  """Evaluates a model (python -m gslm_keras.evaluate); returns the metrics.

  A classifier on a dataset's split (its own dataset unless `data_dir`); a
  language model (a pretrain run or a preset name) on its corpus's split or on a
  FASTA file (`input`, report to `output`).

  Args:
    config: an EvaluateConfig, or its `model` (a path or preset name) with the
      other fields as keyword arguments: `evaluate("build/models/x", split="dev")`.
  """
  from gslm_keras.evaluation.config import EvaluateConfig
  from gslm_keras.inference.manifest import for_task

  if isinstance(config, str):
    fields, config = {"model": config, **fields}, None
  c = _config(EvaluateConfig, config, fields, "evaluate")
  return for_task(c.model, {SUPERVISED: _evaluate_classifier,
                            MASKED_NUCLEOTIDE.objective: _evaluate_language_model})(c)


def _evaluate_classifier(c) -> dict:
  from gslm_keras.evaluation.evaluator import evaluate as run

  if c.input:
    raise ConfigError(f"input is for language models; {c.model} is a classifier: "
                      "evaluate it on a dataset (data_dir, split)")
  return run(c.model, c.data_dir, c.split, c.batch_size, rc_average=c.rc_average)


def _evaluate_language_model(c) -> dict:
  from gslm_keras.evaluation.language import evaluate_language_model

  if c.data_dir:
    raise ConfigError("data_dir is for classifiers; a language model is measured on "
                      "input=<FASTA> or on its corpus's split")
  if c.rc_average:
    raise ConfigError(f"rc_average is for classifiers; {c.model} is a language model, "
                      "measured on masked positions of one strand")
  return evaluate_language_model(c.model, c.input, c.output, c.split, c.source, c.seed)


def embed(config=None, /, **fields) -> dict:
  """Embeds every sequence of a file with a model's backbone (python -m
  gslm_keras.embed); returns counts. For sequences in memory,
  `gslm_keras.inference.embedding.Embedder(model)(sequences)`.

  Args:
    config: an EmbedConfig.
    **fields: its fields (model, input, output, both_strands, batch_size ...).
  """
  from gslm_keras.inference.config import EmbedConfig
  from gslm_keras.inference.embedding import embed_file

  return embed_file(_config(EmbedConfig, config, fields, "embed"))


def scan(config=None, /, **fields) -> dict:
  """Tiles a genome (or BED regions) with a model's window into bigWig tracks and a
  BED of called elements (python -m gslm_keras.scan); returns the summary.

  Args:
    config: a ScanConfig.
    **fields: its fields (model, genome, output, regions, stride, threshold ...).
  """
  from gslm_keras.evaluation.threshold import element_threshold
  from gslm_keras.inference.config import ScanConfig
  from gslm_keras.inference.scan import scan_genome

  return scan_genome(_config(ScanConfig, config, fields, "scan"), element_threshold)


def predict(model, input: str | None = None,  # noqa: A002
            output: str | None = None, **options) -> dict:
  """Predicts every sequence of a FASTA or table file into a TSV or Parquet file
  (python -m gslm_keras.predict); returns counts.

  Args:
    model: a PredictConfig, or the model (a run directory or an export) with
      `input`, `output` and `options` as the command's flags (batch_size,
      rc_average, sequence_column, id_column, on_error ...).

  For sequences in memory, `load(model).predict(...)`.
  """
  from gslm_keras.inference.batch import predict_file
  from gslm_keras.inference.config import PredictConfig

  if isinstance(model, PredictConfig):
    config = _config(PredictConfig, model, _given(input=input, output=output, **options),
                     "predict")
  else:
    if input is None or output is None:
      raise ConfigError("predict: input and output are required")
    config = _config(PredictConfig, None, dict(model=model, input=input, output=output,
                                                **options), "predict")
  return predict_file(config.model, config.input, config.output, **config.options())


def export(model, export_base: str | None = None, model_name: str | None = None,
           version: int = 1, *, overwrite: bool = False, unknown_letters: str = "error",
           length_mismatch: str = "rule") -> str:
  """Exports a SavedModel for TF Serving (python -m gslm_keras.export); returns the
  version directory. `model` is an ExportConfig, or the model (a run directory,
  a language model or a preset name) with the other arguments as the flags."""
  from gslm_keras.serving.config import ExportConfig
  from gslm_keras.serving.export import export_model

  config = model if isinstance(model, ExportConfig) else ExportConfig(
      model=model, export_base=export_base or "", model_name=model_name or "",
      version=version, overwrite=overwrite, unknown_letters=unknown_letters,
      length_mismatch=length_mismatch)
  if not config.export_base or not config.model_name:
    raise ConfigError("export: export_base and model_name are required")
  return export_model(config.model, config.export_base, config.model_name,
                      config.version, overwrite=config.overwrite,
                      options=config.options())


def score_variants(config=None, /, **fields) -> dict:
  """Scores variants (python -m gslm_keras.score_variants); returns counts.

  Args:
    config: a ScoreConfig.
    **fields: its fields (model, output, vcf, reference, variants, ...).
  """
  from gslm_keras.variants.config import ScoreConfig
  from gslm_keras.variants.scorer import score_variants as run

  return run(_config(ScoreConfig, config, fields, "score_variants"))


def interpret(command: str, model: str, output_dir: str, *,
              sequences: Sequence[tuple[str, str]] | None = None, **options):
  """Interprets a model (python -m gslm_keras.interpret <command>).

  Args:
    command: "ism" (in-silico mutagenesis of `sequences`, (id, sequence) pairs),
      "attribute" (attributions over a split), "motifs" (first-layer filters
      matched to JASPAR) or "modisco" (TF-MoDISco patterns of the attributions,
      matched to JASPAR).
    options: the command's own (data_dir, split, limit, method, steps, max_q,
      tax_group, output_name, provided, length_mismatch; motifs also
      families="promoter": which promoter motif families the filters recover).

  Returns:
    ism: one result per sequence; attribute: the summary; motifs: the motifs;
    modisco: the patterns, their matches and the summary.
  """
  from gslm_keras.interpretation import commands
  from gslm_keras.io.outputs import exclusive_output

  if command not in ("ism", "attribute", "motifs", "modisco"):
    raise ConfigError(f"interpret: command {command!r}: expected ism, attribute, "
                      "motifs or modisco")
  if (command == "ism") != (sequences is not None):
    raise ConfigError("interpret: sequences are what ism mutates, and ism needs them")
  import os

  with exclusive_output(output_dir, "interpretation output"):
    os.makedirs(output_dir, exist_ok=True)
    if command == "ism":
      return commands.ism(model, list(sequences), output_dir, **options)
    if options.get("families") == "promoter":
      from gslm_keras.interpretation.motifs import PROMOTER_FAMILIES

      options["families"] = PROMOTER_FAMILIES
    return getattr(commands, command)(model, output_dir, **options)


def load(model: str):
  """A trained model, export, language model or preset name, loaded for use in
  memory: a `LoadedModel` (predictions, ISM) or, for a language model, a
  `LanguageModel` (base probabilities, llr); `.task` says which task it has."""
  from gslm_keras.inference.load import load as run

  return run(model)
