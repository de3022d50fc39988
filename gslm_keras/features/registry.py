"""Registry of computed features: each a TF function of base codes, by name.

Feature modules (composition, coding, physchem) register their functions here
with `@register`; `gslm_keras.features.spec` imports them all and resolves
names. Every feature function takes int32 base codes [batch, L] (A=0, C=1, G=2,
T=3, anything else 4, see `gslm_keras.dna.ops.base_codes`) and returns float32
[batch, width]; its output columns have stable names, recorded in the dataset
manifest, so a model knows which column is which.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable, Mapping



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


def registered_so_far() -> dict[str, ComputedFeature]:
  """The features registered by the modules imported so far (see `spec.registered`)."""
  return dict(_REGISTRY)
