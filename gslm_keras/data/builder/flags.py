"""The `build_dataset` flags, generated from `BuildOptions` (one declaration per
option: its type, default, allowed values and help), and the config they make.

Defined on a given `FlagValues`, so that the entry point (`python -m
gslm_keras.build_dataset`) and the training entry point (which builds a missing
dataset from its flagfile) read the same flags; library code never reads the
global FLAGS.
"""

from __future__ import annotations

from absl import flags

from gslm_keras import cli, config_flags
from gslm_keras.data.builder.options import BuildOptions
from gslm_keras.errors import ConfigError


def define_flags(fv: flags.FlagValues,
                 module_name: str = "gslm_keras.build_dataset") -> config_flags.FlagGroup:
  """Defines the build flags on `fv` (the global FLAGS when run as a program)."""
  return config_flags.define(BuildOptions, flag_values=fv, module_name=module_name)


def options_from_flags(group: config_flags.FlagGroup) -> BuildOptions:
  """The parsed flags as `BuildOptions`."""
  return BuildOptions(**group.values())


def config_from_flags(group: config_flags.FlagGroup, command: str | None = None):
  """Turns parsed build flags into a BuildConfig (a CorpusConfig for
  --task=unlabelled), once.

  Args:
    group: the flags `define_flags` defined, parsed.
    command: the command line to record; this process's own when None.
  """
  command = command or cli.command_line("gslm_keras.build_dataset")
  return options_from_flags(group).to_config(set(group.given()), command)


def config_from_flagfile(path: str, **overrides):
  """The BuildConfig a dataset flagfile describes, with `overrides` as later flags."""
  fv = flags.FlagValues()
  group = define_flags(fv)
  args = [f"--flagfile={path}"] + [f"--{key}={value}" for key, value in overrides.items()]
  try:
    fv(["build_dataset", *args])
  except flags.Error as error:
    raise ConfigError(f"dataset flagfile {path}: {error}") from None
  command = " ".join(["python -m gslm_keras.build_dataset", *args])
  return config_from_flags(group, command=command)


def build_missing(data_dir: str, flagfile: str | None,
                  distribution_strategy: str = "default") -> None:
  """Builds `data_dir` from a dataset flagfile when it holds no dataset yet (the
  quickstart). Not under multi-worker training: the workers would race; the
  dataset must exist before they start."""
  import os

  from absl import logging

  from gslm_keras.data.builder.builder import build_dataset
  from gslm_keras.data.dataset_info import MANIFEST

  if not flagfile or os.path.exists(os.path.join(data_dir, MANIFEST)):
    return
  if distribution_strategy == "multi_worker":
    return
  logging.info("No dataset at %s yet: building it from %s", data_dir, flagfile)
  build_dataset(config_from_flagfile(flagfile, output_dir=data_dir))
