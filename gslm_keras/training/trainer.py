"""`train(config)`: the one library call behind `python -m gslm_keras.train`."""

from __future__ import annotations

from gslm_keras.training import recipe, session
from gslm_keras.training.config import TrainConfig
from gslm_keras.training.session import TrainingError, TrainResult

__all__ = ["TrainResult", "TrainingError", "train"]


def train(config: TrainConfig) -> TrainResult:
  """Trains, keeps the best dev model as `model.keras`, evaluates it.

  Raises:
    ConfigError: invalid options, a model that does not fit the dataset, or a
      model_dir holding another run.
    DatasetError: no usable dataset at data_dir.
    TrainingError: the loss became NaN or infinite.
  """
  from gslm_keras.training.strategy import make_strategy, resolve_precision

  info = session.load_dataset(config)
  recipe.set_seeds(config.runtime.seed, config.runtime.deterministic)
  runtime = config.runtime
  strategy = make_strategy(runtime.distribution_strategy, runtime.tpu)
  policy = resolve_precision(runtime.mixed_precision, runtime.distribution_strategy)
  if runtime.distribution_strategy == "multi_worker":
    from gslm_keras.training.multi_worker import train_multi_worker

    return train_multi_worker(config, info, strategy, policy)
  from gslm_keras.training.fit import fit

  return fit(config, info, strategy, policy)
