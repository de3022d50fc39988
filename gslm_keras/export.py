r"""Exports a trained model as a SavedModel for TF Serving.

  python -m gslm_keras.export --model=build/models/quickstart \
      --export_base=build/export --model_name=splice --version=1

Writes <export_base>/<model_name>/<version>/ with the signatures serving_default
(raw DNA strings; one-hot encoding and computed features inside the graph),
predict_onehot and predict_examples, the dataset manifest and training config in
assets/, and real warm-up requests in assets.extra/. Refuses to overwrite an
existing version unless --overwrite.
"""

from __future__ import annotations

import os
import shlex

from absl import flags

from gslm_keras import cli, config_flags
from gslm_keras.serving.config import ExportConfig

# One flag per field of ExportConfig, its documentation as help (config_flags).
OPTIONS = config_flags.define(ExportConfig, module_name=__name__)
_OLD_MODEL_DIR = flags.DEFINE_string("model_dir", None, "Old spelling of --model.")


def main(argv):
  del argv
  config = OPTIONS.build(model=cli.model_to_read(OPTIONS.holders["model"],
                                                 _OLD_MODEL_DIR))
  from gslm_keras import api

  path = api.export(config)
  print(f"Exported to {path}")
  # Docker mounts need an absolute host path.
  models = os.path.dirname(os.path.abspath(path))
  print(f"Serve: docker run -p 8501:8501 -p 8500:8500 "
        f"-v {shlex.quote(models)}:/models/{config.model_name} "
        f"-e MODEL_NAME={config.model_name} tensorflow/serving")


def run():
  cli.run(main)


if __name__ == "__main__":
  run()
