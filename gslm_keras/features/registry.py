"""Registry of computed features: each a TF function of base codes, by name.

A feature is named in configs and on the command line as a spec string,
`name` or `name:param=value:param=value`, for example `kmer:k=3:canonical=true`.
Every feature function takes int32 base codes [batch, L] (A=0, C=1, G=2, T=3,
anything else 4, see `gslm_keras.dna.ops.base_codes`) and returns float32
[batch, width]; its output columns have stable names, recorded in the dataset
manifest, so a model knows which column is which.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable, Iterable, Mapping

from gslm_keras.errors import ConfigError


@dataclasses.dataclass(frozen=True)
class ComputedFeature:
  """One registered feature.

  Attributes:
    name: registry name, used in spec strings.
    fn: `fn(codes, **params) -> float32 [batch, width]`.
    defaults: every parameter with its default; the default's type is the type
      a spec string value is parsed to.
    output_names: `output_names(**params) -> list[str]`, one name per column.
    choices: allowed values of parameters that take one of a set.
    doc: one line for `--helpfull` and the docs.
  """

  name: str
  fn: Callable[..., Any]
  defaults: Mapping[str, Any]
  output_names: Callable[..., list[str]]
  choices: Mapping[str, tuple[Any, ...]]
  doc: str


_REGISTRY: dict[str, ComputedFeature] = {}


def register(name: str, *, defaults: Mapping[str, Any] | None = None,
             output_names: Callable[..., list[str]] | None = None,
             choices: Mapping[str, tuple[Any, ...]] | None = None):
  """Decorator registering `fn` as computed feature `name`."""

  def decorator(fn):
    if name in _REGISTRY:
      raise ValueError(f"computed feature {name!r} is registered twice")
    doc = (fn.__doc__ or "").strip().splitlines()[0] if fn.__doc__ else ""
    _REGISTRY[name] = ComputedFeature(
        name=name, fn=fn, defaults=dict(defaults or {}),
        output_names=output_names or (lambda **_: [name]),
        choices=dict(choices or {}), doc=doc)
    return fn

  return decorator


def registered() -> dict[str, ComputedFeature]:
  """All registered features by name (the modules defining them are imported)."""
  _import_feature_modules()
  return dict(_REGISTRY)


def _import_feature_modules():
  # Imported here, not at module top, so the registry has no import cycle.
  from gslm_keras.features import coding, composition, physchem  # noqa: F401


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
  import tensorflow as tf  # Deferred: parsing specs must not need TensorFlow.

  columns = [spec.compute(codes) for spec in specs]
  if not columns:
    return tf.zeros([tf.shape(codes)[0], 0], tf.float32)
  return tf.concat(columns, axis=1)
