"""Command-line flags derived from config dataclasses: a setting is named, typed and documented once, in its
``field(default=..., metadata={"help": ..., "env": ...})``, and the click commands and the app's argparse
read it from there (peft's config fields carry their help the same way).

Every derived flag defaults to None: a flag left out keeps the dataclass default (shown in the help), so the
config object, not the CLI, owns the defaults. ``config_from_flags`` builds the config from the given ones.
"""

from __future__ import annotations

import argparse
import dataclasses
from typing import Any, Callable, Sequence

import click


def flag_name(name: str) -> str:
    """``remote_url`` -> ``--remote-url``."""
    return "--" + name.replace("_", "-")


def _spec(config_cls: type, name: str, choices: Sequence[str] | None) -> dict[str, Any]:
    fields = {f.name: f for f in dataclasses.fields(config_cls)}
    if name not in fields:
        raise KeyError(f"{config_cls.__name__} has no field {name!r}")
    f = fields[name]
    default = f.default if f.default is not dataclasses.MISSING else None
    kind = type(default) if isinstance(default, (bool, int, float)) else str
    env = f.metadata.get("env")
    notes = [f"default: {default}"] if default not in (None, "", False) else []
    if env:
        notes.append(f"env {env}")
    help_text = f.metadata.get("help", "") + (f" [{'; '.join(notes)}]" if notes else "")
    return {"kind": kind, "env": env, "help": help_text, "choices": list(choices) if choices else None}


def click_options(config_cls: type, names: Sequence[str], choices: dict[str, Sequence[str]] | None = None,
                  aliases: dict[str, str] | None = None) -> Callable:
    """A decorator adding one click option per field of ``config_cls`` in ``names`` (order kept in --help).
    ``aliases``: a shorter spelling a flag also answers to (``learning_rate`` -> ``--lr``). A bool field that
    defaults to False is an on/off flag (``--rag``)."""
    choices, aliases = choices or {}, aliases or {}

    def decorate(fn: Callable) -> Callable:
        for name in reversed(names):
            spec = _spec(config_cls, name, choices.get(name))
            kwargs: dict[str, Any] = {"default": None, "help": spec["help"], "envvar": spec["env"]}
            if spec["kind"] is bool:
                kwargs.update(is_flag=True, default=False)
            elif spec["choices"]:
                kwargs.update(type=click.Choice(spec["choices"]))
            else:
                kwargs.update(type=spec["kind"])
            spellings = [flag_name(name)] + ([aliases[name]] if name in aliases else [])
            fn = click.option(*spellings, name, **kwargs)(fn)
        return fn

    return decorate


def add_arguments(parser: argparse.ArgumentParser, config_cls: type, names: Sequence[str],
                  choices: dict[str, Sequence[str]] | None = None) -> None:
    """The same flags for an argparse parser (the app's ``python app.py --model ...``)."""
    choices = choices or {}
    for name in names:
        spec = _spec(config_cls, name, choices.get(name))
        kind = spec["kind"]
        if kind is bool:
            parser.add_argument(flag_name(name), dest=name, default=None, action=argparse.BooleanOptionalAction,
                                help=spec["help"])
        else:
            parser.add_argument(flag_name(name), dest=name, default=None, type=kind, choices=spec["choices"],
                                help=spec["help"])


def config_from_flags(config_cls: type, values: dict[str, Any], base: Any = None, env: dict[str, str] | None = None):
    """``base`` (or a default ``config_cls()``) with every flag that was given (not None) applied. ``env``:
    where argparse flags read their ``metadata["env"]`` variable from when the flag is absent (click reads
    its own)."""
    config = base if base is not None else config_cls()
    fields = {f.name: f for f in dataclasses.fields(config_cls)}
    given = {}
    for name, value in values.items():
        if name not in fields:
            continue
        variable = fields[name].metadata.get("env")
        if value is None and env is not None and variable and env.get(variable):
            value = _coerce(env[variable], fields[name].default)
        if value is not None:
            given[name] = value
    return dataclasses.replace(config, **given)


def _coerce(text: str, default: Any) -> Any:
    if isinstance(default, bool):
        return text.strip().lower() in ("1", "true", "yes", "on")
    if isinstance(default, (int, float)):
        return type(default)(text)
    return text
