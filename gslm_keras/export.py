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

from gslm_keras import cli

_MODEL = flags.DEFINE_string(
    "model", None, "A training run's directory, a pretrain run's (a language "
    "model: its signatures on raw DNA return per-position base probabilities), or a "
    "preset name.")
_OLD_MODEL_DIR = flags.DEFINE_string("model_dir", None, "Old spelling of --model.")
_EXPORT_BASE = flags.DEFINE_string("export_base", None, "Base directory of exports.")
_MODEL_NAME = flags.DEFINE_string("model_name", None, "Model name TF Serving serves.")
_VERSION = flags.DEFINE_integer("version", 1, "Numeric version directory.")
_OVERWRITE = flags.DEFINE_boolean("overwrite", False, "Replace an existing version.")
_UNKNOWN_LETTERS = flags.DEFINE_enum(
    "unknown_letters", "error", ["error", "as_n"], "Characters outside the IUPAC codes "
    "in a request: fail the request with a message, or read them as N.")

_LENGTH_MISMATCH = flags.DEFINE_enum(
    "length_mismatch", "rule", ["rule", "adjust"], "A request sequence whose length is "
    "not the model's window: follow the training dataset's length rule (crop or pad "
    "where it did, fail the request where it was error or skip), or crop / pad it "
    "anyway. The output length_adjustment says per row what was done.")


def main(argv):
  del argv
  model = cli.model_to_read(_MODEL, _OLD_MODEL_DIR)
  cli.require(_EXPORT_BASE, _MODEL_NAME)
  from gslm_keras.serving.export import export_model
  from gslm_keras.serving.signatures import ServingOptions

  path = export_model(model, _EXPORT_BASE.value, _MODEL_NAME.value,
                      _VERSION.value, overwrite=_OVERWRITE.value,
                      options=ServingOptions(unknown_letters=_UNKNOWN_LETTERS.value,
                                             length_mismatch=_LENGTH_MISMATCH.value))
  print(f"Exported to {path}")
  # Docker mounts need an absolute host path.
  models = os.path.dirname(os.path.abspath(path))
  print(f"Serve: docker run -p 8501:8501 -p 8500:8500 "
        f"-v {shlex.quote(models)}:/models/{_MODEL_NAME.value} "
        f"-e MODEL_NAME={_MODEL_NAME.value} tensorflow/serving")


def run():
  cli.run(main)


if __name__ == "__main__":
  run()
