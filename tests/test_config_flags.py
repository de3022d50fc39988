"""Flags generated from the typed configs (gslm_keras.config_flags): every option
declared once, documented, parsed back to the config that wrote it."""

from __future__ import annotations

import dataclasses

import pytest
from absl import flags

from gslm_keras import config_flags
from gslm_keras.data.builder.options import BuildOptions
from gslm_keras.errors import ConfigError
from gslm_keras.models.config import BACKBONE_FIELDS, HEAD_FIELDS, ModelConfig, preset
from gslm_keras.training import config as train_config
from gslm_keras.evaluation.config import EvaluateConfig
from gslm_keras.inference.config import EmbedConfig, PredictConfig
from gslm_keras.interpretation.config import InterpretConfig
from gslm_keras.serving.config import ExportConfig
from gslm_keras.training.config import PretrainConfig, TrainConfig, model_from_preset
from gslm_keras.variants.config import ScoreConfig

from conftest import REPO

CLASSES = [train_config.DataConfig, train_config.OptimConfig,
           train_config.RuntimeConfig, train_config.LmConfig, ModelConfig, TrainConfig,
           PretrainConfig, ScoreConfig, PredictConfig, ExportConfig, EvaluateConfig]


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__name__)
def test_every_field_is_documented(cls):
  docs = config_flags.field_help(cls)
  for field in dataclasses.fields(cls):
    assert len(docs.get(field.name, "")) > 10, (cls.__name__, field.name)


def test_help_is_the_whole_docstring_entry():
  docs = config_flags.field_help(train_config.OptimConfig)
  assert docs["clipnorm"].startswith("clip each gradient to this norm (0: no clipping).")
  assert docs["clipnorm"].endswith("(a collapse to a constant output, seen once in three "
                                   "seeds on GUE mouse/0 without it).")
  assert config_flags.field_help(ModelConfig)["dropout"] == (
      "dropout rate in the tower, feature and fusion blocks.")


def test_backbone_and_head_fields_split_the_model():
  names = [f.name for f in dataclasses.fields(ModelConfig)]
  assert sorted(BACKBONE_FIELDS + HEAD_FIELDS) == sorted(names)
  assert not set(BACKBONE_FIELDS) & set(HEAD_FIELDS)


def _parse(cls, args):
  fv = flags.FlagValues()
  options = config_flags.define_config(cls, bases=("model",), why="a classifier option",
                                       flag_values=fv)
  fv(["prog", *args])
  return options, fv


def test_flags_build_the_config():
  options, fv = _parse(TrainConfig, [
      "--data_dir=d", "--model_dir=m", "--model_preset=tiny", "--stem_widths=5,9,13",
      "--nowide", "--pooling=flatten", "--epochs=3", "--lr_schedule=constant",
      "--seed=7", "--mixed_precision=float32", "--evaluate_splits=dev", "--max_shift=2"])
  config = options.config(bases={"model": model_from_preset})
  expected = TrainConfig(
      data=train_config.DataConfig(data_dir="d", max_shift=2), model_dir="m",
      model=preset("tiny").replace(stem_widths=(5, 9, 13), wide=False, pooling="flatten"),
      optim=train_config.OptimConfig(epochs=3, lr_schedule="constant"),
      runtime=train_config.RuntimeConfig(seed=7, mixed_precision="float32"),
      model_preset="tiny", evaluate_splits=("dev",))
  assert config == expected
  # Unset model flags keep the preset's values; unset others the dataclass's.
  assert fv["fusion_units"].value is None and fv["batch_size"].value == 64


@pytest.mark.parametrize("args, message", [
    (["--data_dir=d"], "--model_dir is required"),
    (["--model_dir=m"], "--data_dir is required"),
    (["--data_dir=d", "--model_dir=m", "--feature_units=64,x"],
     "--feature_units=64,x: expected int values, comma-separated"),
])
def test_bad_flags_are_one_line(args, message):
  options, _ = _parse(TrainConfig, args)
  with pytest.raises(ConfigError, match=message):
    options.config(bases={"model": model_from_preset})


@pytest.mark.parametrize("flag", ["--pooling=flatten", "--nowide", "--class_weights=1,2",
                                  "--monitor=val_loss", "--max_shift=3",
                                  "--freeze_trunk_steps=10"])
def test_pretrain_refuses_classifier_options(flag):
  options, _ = _parse(PretrainConfig, ["--data_dir=d", "--model_dir=m", flag])
  name = flag[2:].split("=")[0].removeprefix("no")
  with pytest.raises(ConfigError, match=f"^--{name}: a classifier option; python -m "
                     "gslm_keras.pretrain does not use it: drop it$"):
    options.config(bases={"model": model_from_preset})


@pytest.mark.parametrize("cls", [TrainConfig, PretrainConfig], ids=lambda c: c.__name__)
def test_written_flagfile_parses_back_to_the_config(cls, tmp_path):
  from gslm_keras.training.session import to_flagfile

  config = cls.create(
      data_dir=str(tmp_path / "data"), model_dir=str(tmp_path / "run"), epochs=2,
      model=preset("tiny").replace(stem_widths=(3, 5), tower_blocks=2),
      model_preset="tiny", seed=3, reverse_complement=True, checkpoint_every=5,
      evaluate_splits=("test",))
  if cls is PretrainConfig:
    config = config.replace(lm=train_config.LmConfig(mask_rate=0.2, head_units=32),
                            yardstick_windows=100)
  path = tmp_path / "run.flags"
  path.write_text(to_flagfile(config))
  text = path.read_text()
  for name in (f for fields in cls.UNUSED.values() for f in fields):
    assert f"--{name}=" not in text and f"--no{name}\n" not in text, name
  options, _ = _parse(cls, [f"--flagfile={path}"])
  back = options.config(bases={"model": model_from_preset})
  assert back == config
  if cls is PretrainConfig:
    # The head fields are not the language model's: whatever the preset says, they
    # hold their field defaults, and the backbone's are the flags'.
    assert back.model == ModelConfig(stem_widths=(3, 5), tower_blocks=2,
                                     **{name: getattr(preset("tiny"), name)
                                        for name in BACKBONE_FIELDS
                                        if name not in ("stem_widths", "tower_blocks")})
    assert preset("tiny").pooling != ModelConfig().pooling  # So the check can fail.


def _fields(cls, skip=()):
  return {f.name for f in dataclasses.fields(cls)} - set(skip)


def _command_flags(module: str) -> set[str]:
  import os
  import re
  import subprocess
  import sys

  out = subprocess.run([sys.executable, "-m", module, "--helpshort"], cwd=REPO,
                       capture_output=True, text=True, timeout=120,
                       env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"))
  return set(re.findall(r"^  --(?:\[no\])?([a-z_0-9]+):", out.stdout, re.M))


def _nested(cls, skip_unused=True):
  names = _fields(cls, skip=cls.PARTS)
  for part, kind in cls.PARTS.items():
    names |= _fields(kind, skip=cls.UNUSED.get(part, ()) if skip_unused else ())
  return names


@pytest.mark.parametrize("module, expected", [
    ("gslm_keras.train", _nested(TrainConfig) | {"logical_cpus"}),
    ("gslm_keras.pretrain", _nested(PretrainConfig) | {"list_presets"}),
    ("gslm_keras.score_variants", _fields(ScoreConfig, skip=("command",))),
    ("gslm_keras.predict", _fields(PredictConfig)),
    ("gslm_keras.export", _fields(ExportConfig) | {"model_dir"}),  # Old spelling.
    ("gslm_keras.evaluate", _fields(EvaluateConfig) | {"model_dir"}),
    ("gslm_keras.interpret", _fields(InterpretConfig, skip=("command",))),
    ("gslm_keras.build_dataset", _fields(BuildOptions)),
    ("gslm_keras.embed", _fields(EmbedConfig)),
])
def test_a_command_takes_its_configs_fields(module, expected):
  # Every option of the command is a field of its config (help from the field's
  # documentation), and every field a flag: nothing declared twice, nothing missed.
  assert _command_flags(module) == expected


def test_interpret_refuses_another_commands_option():
  # One line, before TensorFlow loads, naming the option and who uses it.
  import subprocess
  import sys

  out = subprocess.run([sys.executable, "-m", "gslm_keras.interpret", "ism",
                        "--model=m", "--output_dir=o", "--sequence=ACGT", "--steps=9"],
                       cwd=REPO, capture_output=True, text=True, timeout=120)
  assert out.returncode != 0 and "Traceback" not in out.stderr
  assert out.stderr.strip().splitlines() == [
      "error: --steps: an option of interpret attribute / modisco; interpret ism does "
      "not use it: drop it"]
  with pytest.raises(ConfigError, match="ism needs --sequence or --fasta"):
    InterpretConfig(command="ism", model="m", output_dir="o")


def test_build_options_defaults_are_the_builders():
  # BuildOptions is the command line's shape of BuildConfig, CorpusConfig and
  # TilingRule; where a field means the same, its default must be the same.
  from gslm_keras.data.builder.config import BuildConfig
  from gslm_keras.data.builder.corpus import CorpusConfig
  from gslm_keras.data.builder.tiling import TilingRule

  options = {f.name: f.default for f in dataclasses.fields(BuildOptions)}
  compared = 0
  for cls in (BuildConfig, CorpusConfig, TilingRule):
    for f in dataclasses.fields(cls):
      if f.name in options and f.default is not dataclasses.MISSING and f.name not in (
          "on_shorter",  # A corpus skips short records unless --on_shorter is given.
          "split_fractions",  # Unset: none for a labelled build, 0.9,0.05,0.05 a corpus.
          "train", "dev", "test", "input", "computed_features", "bigwig_features"):
        assert options[f.name] == f.default, (cls.__name__, f.name)
        compared += 1
  assert compared >= 25
