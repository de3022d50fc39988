"""The output directory of a build: what may be replaced."""

from __future__ import annotations

import os

from gslm_keras.data.dataset_info import MANIFEST
from gslm_keras.errors import ConfigError


def check_output_dir(output_dir: str, overwrite: bool):
  if not os.path.exists(output_dir):
    return
  if not os.path.isdir(output_dir):
    raise ConfigError(f"output_dir {output_dir} exists and is not a directory")
  if os.path.exists(os.path.join(output_dir, MANIFEST)):
    if not overwrite:
      raise ConfigError(
          f"output_dir {output_dir} already holds a dataset; pass --overwrite to "
          "replace it")
    return
  if os.listdir(output_dir):
    raise ConfigError(
        f"output_dir {output_dir} exists, is not empty and holds no dataset; "
        "refusing to replace it (choose another --output_dir)")
