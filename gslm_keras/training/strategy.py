"""Distribution strategies and mixed-precision policies, by name."""

from __future__ import annotations

import os

import tensorflow as tf

from gslm_keras.errors import ConfigError


def configure_logical_cpus(count: int) -> None:
  """Splits the CPU into `count` logical devices (before TensorFlow starts).

  Lets `mirrored` run over several replicas on a CPU-only machine, for tests and
  development. Must run before any op executes.
  """
  if count <= 1:
    return
  cpus = tf.config.list_physical_devices("CPU")
  try:
    tf.config.set_logical_device_configuration(
        cpus[0], [tf.config.LogicalDeviceConfiguration()] * count)
  except RuntimeError as error:
    raise ConfigError(f"cannot split the CPU into {count} devices now: {error}") from None


def make_strategy(name: str, tpu: str | None = None) -> tf.distribute.Strategy:
  """The tf.distribute strategy called `name`.

  default: the current (single-device) strategy. mirrored: all GPUs, or all
  logical CPUs when there is no GPU. multi_worker: MultiWorkerMirroredStrategy
  from TF_CONFIG. tpu: TPUStrategy on `tpu` ("" or "local" on a TPU VM).
  """
  if name == "default":
    return tf.distribute.get_strategy()
  if name == "mirrored":
    devices = [d.name for d in tf.config.list_logical_devices("GPU")]
    devices = devices or [d.name for d in tf.config.list_logical_devices("CPU")]
    return tf.distribute.MirroredStrategy(devices=devices)
  if name == "multi_worker":
    if "TF_CONFIG" not in os.environ:
      raise ConfigError(
          "distribution_strategy=multi_worker needs the TF_CONFIG environment "
          "variable (cluster and task of this worker)")
    return tf.distribute.MultiWorkerMirroredStrategy()
  if name == "tpu":
    try:
      resolver = tf.distribute.cluster_resolver.TPUClusterResolver(tpu=tpu or "")
      tf.config.experimental_connect_to_cluster(resolver)
      tf.tpu.experimental.initialize_tpu_system(resolver)
    except (ValueError, RuntimeError, tf.errors.OpError) as error:
      raise ConfigError(
          f"distribution_strategy=tpu: no TPU reachable at tpu={tpu!r} ({error}); run "
          "on a TPU VM or pass --tpu=<name or grpc://address>") from None
    return tf.distribute.TPUStrategy(resolver)
  raise ConfigError(f"distribution_strategy={name!r}: expected default, mirrored, "
                    "multi_worker or tpu")


def resolve_precision(name: str, strategy_name: str) -> str:
  """The dtype policy for `--mixed_precision=name`.

  auto: bfloat16 on TPU, float16 on GPU, float32 on CPU (mixed precision costs
  about 4x on CPU, measured).
  """
  if name != "auto":
    return name
  if strategy_name == "tpu":
    return "mixed_bfloat16"
  if tf.config.list_physical_devices("GPU"):
    return "mixed_float16"
  return "float32"
