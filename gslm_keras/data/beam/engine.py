"""`build_on_beam(config, options)`: `build_dataset` as an Apache Beam pipeline."""

from __future__ import annotations

from gslm_keras.data.dataset_info import DatasetInfo
from gslm_keras.errors import ConfigError


def _import_beam_quietly() -> None:
  """Imports apache_beam without its import-time lines (Google Cloud clients not
  installed, type-hint conversions, state cache size): none concerns a local
  build. Beam's warnings and errors while it runs still show."""
  import logging

  root = logging.getLogger()
  level = root.level
  root.setLevel(logging.ERROR)
  try:
    import apache_beam  # noqa: F401
    import apache_beam.io.gcp  # noqa: F401  Where the Cloud client warnings come from.
  except ImportError:
    raise ConfigError("--engine=beam needs apache-beam: pip install -e '.[beam]' "
                      "(requirements.txt pins a version that works offline)") from None
  finally:
    root.setLevel(level)
  logging.getLogger("apache_beam").setLevel(logging.WARNING)


def build_on_beam(config, options_text: str | None = None) -> DatasetInfo:
  """Builds the dataset of `config` (a `BuildConfig` or a `CorpusConfig`) on Beam.

  Args:
    config: what to build, as for `build_dataset`.
    options_text: Beam's pipeline options as one string ("--runner=... ..."); the
      DirectRunner when it names no runner.

  Raises:
    ConfigError: apache-beam is not installed, or an invalid option.
    InputError, OutputBusyError: as `build_dataset`.
  """
  _import_beam_quietly()
  from gslm_keras.data.builder.corpus import CorpusConfig

  if isinstance(config, CorpusConfig):
    from gslm_keras.data.beam.corpus import build_corpus_on_beam

    return build_corpus_on_beam(config, options_text)
  from gslm_keras.data.beam.labelled import build_labelled

  return build_labelled(config, options_text)
