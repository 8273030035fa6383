"""Settings declared once: each field of a settings dataclass names its environment variable, default, type and
help (``setting``); one loader (``load``) reads and validates every group the same way, and docs/CONFIGURATION.md's
tables are generated from the same declarations (``inventory.config.docs``).

The type comes from the field's annotation: ``str``, ``int``, ``float``, ``bool`` or ``tuple[str, ...]`` (a
comma-separated list). An unset variable takes the default; so does an empty one for numbers, booleans, lists and
settings declared ``blank_default``. A bad value raises ``ConfigError`` with one line naming the variable.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import MISSING, Field, dataclass, field, fields
from typing import Any, TypeVar

T = TypeVar("T")
_KEY = "inventory.setting"
_TRUE, _FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off")


class ConfigError(ValueError):
    """Raised when an environment variable holds an invalid value (the message is one line)."""


@dataclass(frozen=True)
class Var:
    """One environment variable: what it is called, what it means, how it is checked."""

    env: str
    help: str
    minimum: float = 0.0  # numbers only
    choices: tuple[str, ...] = ()
    case: str = ""  # "lower" | "upper": normalise before the choices are checked
    blank_default: bool = False  # an empty value means the default (numbers, booleans and lists always)
    convert: Callable[[str], str] | None = None  # may raise ConfigError (a URL normalised, a prefix checked)
    shown: str = ""  # the default as the docs show it, when the value alone says too little

    def read(self, env: Mapping[str, str], kind: str, default: Any) -> Any:
        raw = env.get(self.env)
        if raw is None or (raw.strip() == "" and (self.blank_default or kind != "str")):
            return default
        if kind == "bool":
            lowered = raw.strip().lower()
            if lowered in _TRUE or lowered in _FALSE:
                return lowered in _TRUE
            raise ConfigError(f"{self.env}={raw!r} is not a boolean (use true or false)")
        if kind in ("int", "float"):
            return self._number(raw, int if kind == "int" else float)
        if kind == "tuple[str, ...]":
            return tuple(part.strip() for part in raw.split(",") if part.strip())
        value = raw.strip()
        value = value.lower() if self.case == "lower" else value.upper() if self.case == "upper" else value
        if self.choices and value not in self.choices:
            raise ConfigError(f"{self.env}={value!r} is not one of {', '.join(self.choices)}")
        return self.convert(value) if self.convert else value

    def _number(self, raw: str, kind: type[int] | type[float]) -> int | float:
        try:
            value = kind(raw)
        except ValueError:
            raise ConfigError(f"{self.env}={raw!r} is not {'an integer' if kind is int else 'a number'}") from None
        if value < self.minimum:
            raise ConfigError(f"{self.env}={raw!r} must be >= {kind(self.minimum)}")
        return value


def setting(env: str, default: Any, help: str, **how: Any) -> Any:
    """A settings field: ``port: int = setting("PORT", 8000, "where to listen", minimum=1)``."""
    return field(default=default, metadata={_KEY: Var(env, help, **how)})


def declared(cls: type) -> list[tuple[Var, str, Any]]:
    """(variable, type, default) of every setting of a settings dataclass, in declaration order."""
    out = []
    for f in fields(cls):
        var = f.metadata.get(_KEY)
        if isinstance(var, Var):
            out.append((var, _kind(f), f.default))
    return out


def _kind(f: Field[Any]) -> str:
    kind = f.type if isinstance(f.type, str) else getattr(f.type, "__name__", "")
    if kind not in ("str", "int", "float", "bool", "tuple[str, ...]"):
        raise TypeError(f"setting {f.name}: unsupported type {kind!r}")
    if f.default is MISSING:
        raise TypeError(f"setting {f.name}: no default")
    return kind


def load(cls: type[T], env: Mapping[str, str]) -> T:
    """Read every declared setting of ``cls`` from ``env``; ConfigError (one line) for the first bad one."""
    values = {}
    for f in fields(cls):  # type: ignore[arg-type]  # cls is a dataclass (declared() would fail otherwise)
        var = f.metadata.get(_KEY)
        if isinstance(var, Var):
            values[f.name] = var.read(env, _kind(f), f.default)
    return cls(**values)


def read(cls: type, name: str, env: Mapping[str, str]) -> Any:
    """One declared setting of ``cls`` (a command that needs DATABASE_URL only)."""
    f = next(f for f in fields(cls) if f.name == name)
    var: Var = f.metadata[_KEY]
    return var.read(env, _kind(f), f.default)
