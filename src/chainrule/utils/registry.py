"""Name -> factory lookup tables, one per kind (activation, initializer, optimizer, loss …).

Recipes and the CLI name things by string. Resolving every name through one table means an
unknown name can list the valid ones, and adding a new one is one ``register`` line.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any, Generic, TypeVar

T = TypeVar("T")


class Registry(Generic[T]):
    """A table of named factories for one kind of object."""

    def __init__(self, kind: str, plural: str | None = None) -> None:
        self.kind = kind
        self.plural = plural or f"{kind}s"
        self._factories: dict[str, T] = {}
        self._aliases: dict[str, str] = {}

    def register(self, name: str, factory: T, aliases: tuple[str, ...] = ()) -> T:
        self._factories[name] = factory
        for alias in aliases:
            self._aliases[alias] = name
        return factory

    def names(self) -> list[str]:
        """The canonical names, in registration order."""
        return list(self._factories)

    def canonical(self, name: str) -> str:
        """The canonical spelling of ``name`` (case-insensitive, ``-`` same as ``_``)."""
        if not isinstance(name, str):
            raise TypeError(f"{self.kind} name must be a string, got {name!r}")
        key = name.strip().lower().replace("-", "_")
        key = self._aliases.get(key, key)
        if key not in self._factories:
            raise ValueError(
                f"unknown {self.kind} {name!r}; valid {self.plural}: {', '.join(self.names())}"
            )
        return key

    def get(self, name: str) -> T:
        return self._factories[self.canonical(name)]

    def name_of(self, factory: object) -> str:
        for name, candidate in self._factories.items():
            if candidate is factory:
                return name
        raise KeyError(f"{factory!r} is not a registered {self.kind}")

    def create(self, spec: str | dict[str, Any], **defaults: Any) -> Any:
        """Build from ``"name"`` or ``{"name": ..., **arguments}``; bad arguments say so."""
        if isinstance(spec, str):
            name, arguments = spec, {}
        elif isinstance(spec, dict) and "name" in spec:
            arguments = {k: v for k, v in spec.items() if k != "name"}
            name = spec["name"]
        else:
            raise TypeError(
                f"a {self.kind} is given as a name or as a mapping with a 'name' key, got {spec!r}"
            )
        return self.build(name, arguments, **defaults)

    def build(self, name: str, arguments: dict[str, Any], **defaults: Any) -> Any:
        """Call the factory registered as ``name`` with ``arguments`` (checked by name)."""
        factory: Callable[..., Any] = self.get(name)  # type: ignore[assignment]
        accepted = _parameters(factory)
        unknown = sorted(set(arguments) - accepted) if accepted is not None else []
        if unknown:
            valid = ", ".join(sorted(accepted)) if accepted else "none"
            raise ValueError(
                f"{self.kind} {self.canonical(name)!r} got unknown argument(s) "
                f"{', '.join(unknown)}; it accepts: {valid}"
            )
        merged = {k: v for k, v in defaults.items() if accepted is None or k in accepted}
        merged.update(arguments)
        try:
            return factory(**merged)
        except TypeError as error:
            raise ValueError(f"{self.kind} {self.canonical(name)!r}: {error}") from None


def _parameters(factory: Callable[..., Any]) -> set[str] | None:
    """The keyword arguments ``factory`` accepts, or None when it takes ``**kwargs``."""
    try:
        signature = inspect.signature(factory)
    except (TypeError, ValueError):
        return None
    names = set()
    for parameter in signature.parameters.values():
        if parameter.kind is inspect.Parameter.VAR_KEYWORD:
            return None
        if parameter.kind in (parameter.POSITIONAL_OR_KEYWORD, parameter.KEYWORD_ONLY):
            names.add(parameter.name)
    return names
