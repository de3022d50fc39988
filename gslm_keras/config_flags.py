"""Command-line flags generated from the typed configs: one declaration per option.

Every field of a config dataclass becomes an absl flag of the same name, typed
after the field (bool, int, float, str, a tuple as a comma-separated list), with
the field's entry in the class's `Attributes:` docstring as its help. A class's
`CHOICES` (a ClassVar: field name -> allowed values) turns a string field into
an enum flag. Nothing here imports TensorFlow: entry points define their flags
before it loads.

  OPTIONS = config_flags.define(PredictConfig, module_name=__name__)
  ...
  config = OPTIONS.build()    # after absl parsed the command line

`define_config` does the same for a nested config (`TrainConfig`: one group of
flags per part), refusing the fields a kind of run does not use.
"""

from __future__ import annotations

import dataclasses
import inspect
import re
import sys
import types
import typing
from typing import Any, Iterable

from absl import flags

from gslm_keras.errors import ConfigError

_ENTRY = re.compile(r"^(?P<names>[a-z_][a-z0-9_]*(?:, [a-z_][a-z0-9_]*)*): (?P<text>.*)$")


def field_help(cls) -> dict[str, str]:
  """Field name -> the one-paragraph text of its `Attributes:` entry, from the
  class and its bases (the class's own entry wins)."""
  docs: dict[str, str] = {}
  for klass in reversed(cls.__mro__):
    docs.update(_attributes(klass.__doc__ or ""))
  return docs


def _attributes(doc: str) -> dict[str, str]:
  lines = inspect.cleandoc(doc).splitlines()
  try:
    start = lines.index("Attributes:") + 1
  except ValueError:
    return {}
  entries: dict[str, list[str]] = {}
  current: list[str] = []
  for line in lines[start:]:
    if line and not line.startswith(" "):
      break  # The next section.
    match = _ENTRY.match(line[2:]) if line.startswith("  ") and line[2:3] != " " else None
    if match:
      current = [match["text"]]
      for name in match["names"].split(", "):
        entries[name] = current
    elif line.strip():
      current.append(line.strip())
  return {name: " ".join(words) for name, words in entries.items()}


def _without_none(hint):
  """`X` of `X | None` (the first of a union's other members); else the hint."""
  if typing.get_origin(hint) in (typing.Union, types.UnionType):
    return [a for a in typing.get_args(hint) if a is not type(None)][0]
  return hint


def _kind(hint) -> type:
  """The flag type of a field's hint: bool, int, float, str or tuple."""
  hint = _without_none(hint)
  return tuple if typing.get_origin(hint) is tuple else hint


def _item_type(hint):
  """The item type of a tuple field (`tuple[int, ...]` -> int), else None."""
  hint = _without_none(hint)
  return typing.get_args(hint)[0] if typing.get_origin(hint) is tuple else None


@dataclasses.dataclass
class FlagGroup:
  """The flags generated for one config class, and their parsed values."""

  cls: type
  holders: dict[str, Any]
  hints: dict[str, Any]
  unset_is_none: bool

  def values(self) -> dict[str, Any]:
    """Field name -> parsed value. With `unset_is_none`, only the flags given (the
    rest keep the preset's value); lists become tuples of the field's item type."""
    out = {}
    for name, holder in self.holders.items():
      value = holder.value
      if value is None and self.unset_is_none:
        continue
      if isinstance(value, list):
        value = _items(name, value, _item_type(self.hints[name]))
      out[name] = value
    return out

  def given(self) -> list[str]:
    """The fields whose flags were given on the command line or in a flagfile."""
    return [name for name, holder in self.holders.items() if holder.present]

  def build(self, **fields):
    """The config from the parsed flags, and `fields` the caller sets (these win).

    Raises:
      ConfigError: a required flag is missing, or the config refuses a value.
    """
    self.check_required(given=fields)
    return self.cls(**{**self.values(), **fields})

  def check_required(self, given=()) -> None:
    """ConfigError naming the first field without a usable default ("" or none at
    all) whose flag was not given (nor is in `given`)."""
    for f in dataclasses.fields(self.cls):
      required = f.default == "" or (f.default is dataclasses.MISSING
                                     and f.default_factory is dataclasses.MISSING)
      if (required and f.name in self.holders and f.name not in given
          and self.holders[f.name].value in (None, "")):
        raise ConfigError(f"--{f.name} is required")


def _items(name: str, values: list[str], item_type) -> tuple:
  if item_type in (None, str):
    return tuple(values)
  try:
    return tuple(item_type(v) for v in values)
  except ValueError:
    raise ConfigError(f"--{name}={','.join(values)}: expected "
                      f"{item_type.__name__} values, comma-separated") from None


def define(cls, *, exclude: Iterable[str] = (), unset_is_none: bool = False,
           flag_values: flags.FlagValues = flags.FLAGS,
           module_name: str | None = None) -> FlagGroup:
  """Defines one flag per field of the dataclass `cls`.

  Args:
    cls: a config dataclass; its `Attributes:` docstring gives the help and its
      `CHOICES` ClassVar the enums.
    exclude: fields not to define (a command refuses what it does not use).
    unset_is_none: every flag defaults to None, meaning "keep the preset's value".
    flag_values: where to define them (tests use their own).
    module_name: the module the flags belong to, for `--helpshort` (the entry
      point's `__name__`).
  """
  hints = typing.get_type_hints(cls)
  docs = field_help(cls)
  choices = getattr(cls, "CHOICES", {})
  wanted = [f for f in dataclasses.fields(cls) if f.name not in set(exclude)]
  holders = {}
  for f in wanted:
    default = f.default
    if unset_is_none or default in (dataclasses.MISSING, ""):
      default = None
    holders[f.name] = _define_one(f.name, hints[f.name], default,
                                  docs.get(f.name, f.name.replace("_", " ")),
                                  choices.get(f.name), flag_values, module_name)
  return FlagGroup(cls, holders, {f.name: hints[f.name] for f in wanted},
                   unset_is_none)


def _define_one(name, hint, default, help_text, allowed, flag_values,
                module_name=None):
  base = _kind(hint)
  if module_name == "__main__":
    module_name = sys.argv[0]  # How absl names the main module.
  kwargs = {"flag_values": flag_values, "module_name": module_name}
  if allowed:
    return flags.DEFINE_enum(name, default, list(allowed), help_text, **kwargs)
  if base is bool:
    return flags.DEFINE_boolean(name, default, help_text, **kwargs)
  if base is int:
    return flags.DEFINE_integer(name, default, help_text, **kwargs)
  if base is float:
    return flags.DEFINE_float(name, default, help_text, **kwargs)
  if base is tuple:
    listed = None if default is None else [str(v) for v in default]
    return flags.DEFINE_list(name, listed, help_text, **kwargs)
  if base is str:
    return flags.DEFINE_string(name, default, help_text, **kwargs)
  raise TypeError(f"{name}: no flag type for {hint!r}")


def _refuse(name, hint, program, why, flag_values, module_name):
  """A flag that exists only to be refused in one line (see `ConfigFlags.config`)."""
  return _define_one(name, hint, None, f"Not used by {program} ({why}): refused.",
                     None, flag_values, module_name)


@dataclasses.dataclass
class ConfigFlags:
  """The flags of a nested config (`TrainConfig` and its kin): one group per part
  and one for the top-level fields, and the flags it refuses."""

  cls: type
  parts: dict[str, FlagGroup]
  top: FlagGroup
  refused: dict[str, Any]
  why: str

  def config(self, bases: dict[str, Any] | None = None, **top_fields):
    """The config from the parsed flags.

    Args:
      bases: part -> a function of the top-level values giving the config whose
        fields the given flags replace (the model part starts from its preset).
      **top_fields: top-level fields set by the caller, not by a flag.

    Raises:
      ConfigError: a required flag is missing, or a refused one was given.
    """
    for name, holder in self.refused.items():
      if holder.present:
        raise ConfigError(f"--{name}: {self.why}; python -m {self.cls.PROGRAM} does "
                          "not use it: drop it")
    for group in (*self.parts.values(), self.top):
      group.check_required()
    top = {**self.top.values(), **top_fields}
    parts = {}
    for part, group in self.parts.items():
      if bases and part in bases:
        parts[part] = bases[part](top).replace(**group.values())
      else:
        parts[part] = self.cls.PARTS[part](**group.values())
    return self.cls(**parts, **top)


def define_config(cls, *, bases: Iterable[str] = (), why: str = "",
                  flag_values: flags.FlagValues = flags.FLAGS,
                  module_name: str | None = None) -> ConfigFlags:
  """Flags for every field of `cls`'s parts (`cls.PARTS`) and of `cls` itself,
  except the fields `cls.UNUSED` lists (part -> names), which are refused.

  Args:
    cls: a config class with PARTS, PROGRAM and UNUSED class variables.
    bases: parts whose flags default to None ("keep the base config's value").
    why: what the refused flags are, for their error line ("a classifier option").
    flag_values, module_name: as `define`.
  """
  unused = getattr(cls, "UNUSED", {})
  parts, refused = {}, {}
  for part, kind in cls.PARTS.items():
    skip = tuple(unused.get(part, ()))
    parts[part] = define(kind, exclude=skip, unset_is_none=part in bases,
                         flag_values=flag_values, module_name=module_name)
    hints = typing.get_type_hints(kind)
    for name in skip:
      # Defined under this module: --helpshort lists what the command takes.
      refused[name] = _refuse(name, hints[name], cls.PROGRAM, why, flag_values, None)
  top = define(cls, exclude=tuple(cls.PARTS), flag_values=flag_values,
               module_name=module_name)
  return ConfigFlags(cls, parts, top, refused, why)
