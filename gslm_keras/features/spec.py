"""Computed features by spec string: `name` or `name:param=value:param=value`.

For example `kmer:k=3:canonical=true`. A `FeatureSpec` is a registered feature
with every parameter resolved; its output column names are recorded in the
dataset manifest. This module imports every feature module, so the registry is
complete when it is used.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Iterable, Mapping

from gslm_keras.errors import ConfigError
from gslm_keras.features import coding, composition, physchem  # noqa: F401  Register.
from gslm_keras.features.registry import ComputedFeature, registered_so_far


def registered() -> dict[str, ComputedFeature]:
  """All registered features by name."""
  return registered_so_far()


def _parse_value(feature: str, key: str, text: str, default: Any) -> Any:
  if isinstance(default, bool):
    lowered = text.lower()
    if lowered in ("1", "true", "yes"):
      return True
    if lowered in ("0", "false", "no"):
      return False
    raise ConfigError(f"computed feature {feature!r}: {key}={text!r} is not a boolean")
  if isinstance(default, int):
    try:
      return int(text)
    except ValueError:
      raise ConfigError(
          f"computed feature {feature!r}: {key}={text!r} is not an integer") from None
  if isinstance(default, float):
    try:
      return float(text)
    except ValueError:
      raise ConfigError(
          f"computed feature {feature!r}: {key}={text!r} is not a number") from None
  return text


@dataclasses.dataclass(frozen=True)
class FeatureSpec:
  """A feature name with all its parameters resolved (defaults filled in).

  Attributes:
    name: registered feature name.
    params: sorted (key, value) pairs, every parameter of the feature.
  """

  name: str
  params: tuple[tuple[str, Any], ...] = ()

  @classmethod
  def create(cls, name: str, params: Mapping[str, Any] | None = None) -> "FeatureSpec":
    """Validates `params` against the registry and fills in defaults."""
    features = registered()
    if name not in features:
      raise ConfigError(
          f"computed feature {name!r} is not registered; known: "
          f"{', '.join(sorted(features))}")
    feature = features[name]
    given = dict(params or {})
    unknown = sorted(set(given) - set(feature.defaults))
    if unknown:
      raise ConfigError(
          f"computed feature {name!r} has no parameter {unknown[0]!r}; "
          f"parameters: {', '.join(sorted(feature.defaults)) or 'none'}")
    resolved = dict(feature.defaults)
    for key, value in given.items():
      if isinstance(value, str) and not isinstance(feature.defaults[key], str):
        value = _parse_value(name, key, value, feature.defaults[key])
      allowed = feature.choices.get(key)
      if allowed is not None and value not in allowed:
        raise ConfigError(
            f"computed feature {name!r}: {key}={value!r}; expected one of "
            f"{', '.join(map(str, allowed))}")
      resolved[key] = value
    spec = cls(name, tuple(sorted(resolved.items())))
    spec.output_names()  # Lets the feature reject bad parameter values now.
    return spec

  @classmethod
  def parse(cls, text: str) -> "FeatureSpec":
    """Parses `name` or `name:key=value:key=value`."""
    parts = [part.strip() for part in text.strip().split(":")]
    params = {}
    for part in parts[1:]:
      key, sep, value = part.partition("=")
      if not sep or not key:
        raise ConfigError(
            f"computed feature spec {text!r}: {part!r} is not key=value "
            "(expected name:key=value:key=value)")
      params[key.strip()] = value.strip()
    return cls.create(parts[0], params)

  @property
  def param_dict(self) -> dict[str, Any]:
    return dict(self.params)

  @property
  def feature(self) -> ComputedFeature:
    return registered()[self.name]

  def output_names(self) -> list[str]:
    return list(self.feature.output_names(**self.param_dict))

  def compute(self, codes):
    return self.feature.fn(codes, **self.param_dict)

  def __str__(self) -> str:
    defaults = self.feature.defaults
    changed = [f"{k}={str(v).lower() if isinstance(v, bool) else v}"
               for k, v in self.params if v != defaults.get(k)]
    return ":".join([self.name] + changed)

  def to_json(self) -> dict[str, Any]:
    return {"name": self.name, "params": self.param_dict,
            "outputs": self.output_names()}

  @classmethod
  def from_json(cls, data: Mapping[str, Any]) -> "FeatureSpec":
    return cls.create(data["name"], data.get("params", {}))


def parse_specs(texts: Iterable[str]) -> tuple[FeatureSpec, ...]:
  """Parses spec strings; refuses two specs whose column names collide."""
  specs = tuple(FeatureSpec.parse(t) for t in texts if t.strip())
  output_names(specs)
  return specs


def output_names(specs: Iterable[FeatureSpec]) -> list[str]:
  """Column names of the concatenated features, checked to be unique."""
  names: list[str] = []
  seen = set()
  for spec in specs:
    for column in spec.output_names():
      if column in seen:
        raise ConfigError(
            f"computed feature column {column!r} appears twice (from {spec}); "
            "list each feature once")
      seen.add(column)
      names.append(column)
  return names


def describe() -> str:
  """One line per registered feature: name, parameters with defaults, summary."""
  lines = []
  for name, feature in sorted(registered().items()):
    params = ", ".join(f"{k}={v}" for k, v in feature.defaults.items())
    lines.append(f"{name}({params}): {feature.doc}")
  return "\n".join(lines)


def compute_features(codes, specs: Iterable[FeatureSpec]):
  """int32 codes [batch, L] -> float32 [batch, F]: the specs' columns, in order."""
  import tensorflow as tf

  columns = [spec.compute(codes) for spec in specs]
  if not columns:
    return tf.zeros([tf.shape(codes)[0], 0], tf.float32)
  return tf.concat(columns, axis=1)
