"""Experiment grids: a base recipe, axes and variants, expanded into validated runs.

A grid file names a base recipe and what to vary::

    name: activation-init-mode
    base: mlp-784-64-10-sigmoid.yaml     # a recipe file, relative to this grid file ...
    # base: {model: {hidden: [64]}}      # ... or the recipe written inline
    axes:                                # dotted recipe keys -> the values to try
      model.activation: [relu, sigmoid, tanh]
      model.init: [normal, glorot_normal, he_normal]
      training.mode: [stochastic, batch, minibatch]
    variants:                            # optional named points: name -> dotted overrides
      adam: {training.optimizer: {name: adam, learning_rate: 0.001}}

The axes expand as a cartesian product (3 x 3 x 3 = 27 runs above). Variants alone give one
run each; with axes too, every variant is crossed with every axis point. An axis may also be
a mapping from a label to a value, so a long value gets a short name::

    axes:
      model.hidden: {"1": [64], "2": [64, 64], "10": [64, 64, 64, 64, 64, 64, 64, 64, 64, 64]}

Each point is an ordinary recipe, validated up front with :func:`chainrule.app.recipes.parse_recipe`,
so a bad value fails before anything trains, with an error naming the axis and the value.
Run names are the point's value labels joined by ``-`` (``relu-he_normal-batch``), stable for
a given grid; a short hash of the point's overrides is appended only where two names would
otherwise coincide or a name would be unreadably long.
"""

from __future__ import annotations

import copy
import hashlib
import itertools
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from chainrule.app.recipes import Recipe, RecipeError, apply_overrides, parse_recipe, set_dotted
from chainrule.utils.validation import check_integer
from chainrule.utils.yamlfile import (
    parse_yaml_mapping,
    read_yaml_mapping,
    read_yaml_text,
    short_repr,
)

__all__ = ["Grid", "GridError", "SweepPoint", "load_grid", "parse_grid", "value_label"]

#: Keys a grid file may hold.
GRID_KEYS = ("name", "description", "base", "axes", "variants", "metric")

#: The factor name a grid's variants are listed under (in run tables and figures).
VARIANT = "variant"

#: Longest run name kept as it is; longer ones are cut and get a hash.
MAX_NAME_LENGTH = 64

_UNSAFE = re.compile(r"[^A-Za-z0-9._=+,-]+")


class GridError(ValueError):
    """A grid that cannot be expanded, with the file, the key and the fix in the message."""


@dataclass(frozen=True)
class SweepPoint:
    """One run of a grid: its name, its factor levels and the validated recipe.

    ``factors`` maps each factor (axis key, or ``"variant"``) to the level's label, as the
    comparison table shows it; ``overrides`` maps dotted keys to the values actually set.
    """

    name: str
    position: int
    factors: dict[str, str]
    overrides: dict[str, Any]
    recipe: Recipe
    source: dict[str, Any]  # the recipe as written (base + overrides), before defaults

    def recipe_dict(self) -> dict[str, Any]:
        """The resolved recipe as plain data (what the store keeps and a worker trains)."""
        return self.recipe.model_dump(mode="json")


@dataclass
class Grid:
    """An expanded grid: where it came from and its points, in a stable order."""

    name: str
    description: str
    source: str
    text: str
    base: dict[str, Any]
    axes: dict[str, dict[str, Any]]  # factor -> label -> value
    variants: dict[str, dict[str, Any]]
    metric: str | None
    points: list[SweepPoint] = field(default_factory=list)

    @property
    def factors(self) -> list[str]:
        """The factors that vary, in table order: ``variant`` first (if any), then the axes."""
        return ([VARIANT] if self.variants else []) + list(self.axes)

    def levels(self, factor: str) -> list[str]:
        """The labels of one factor's levels, in grid order."""
        if factor == VARIANT:
            return list(self.variants)
        return list(self.axes[factor])


# -- loading ---------------------------------------------------------------------------------
def load_grid(
    path: str | Path,
    overrides: list[str] | None = None,
    epochs: int | None = None,
) -> Grid:
    """Read a grid file, expand it and validate every point (see the module docstring).

    ``overrides`` (``key.path=value`` strings, as ``chainrule train --set``) apply to the base
    recipe before the axes; ``epochs`` caps ``training.epochs`` of every point for quick runs.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"grid file not found: {path}")
    text = read_yaml_text(path, GridError)
    raw = parse_yaml_mapping(
        text, str(path), "a grid", GridError, keys="base, axes, variants, name, description, metric"
    )
    return parse_grid(raw, source=str(path), text=text, overrides=overrides, epochs=epochs)


def parse_grid(
    raw: dict[str, Any],
    source: str = "<grid>",
    text: str | None = None,
    overrides: list[str] | None = None,
    epochs: int | None = None,
) -> Grid:
    """Expand and validate a grid given as a dict; ``source`` names it in errors and resolves
    a relative ``base:`` path (relative to the grid file's folder)."""
    unknown = [key for key in raw if key not in GRID_KEYS]
    if unknown:
        raise GridError(
            f"{source}: unknown key {unknown[0]!r} in the grid; valid keys: {', '.join(GRID_KEYS)}"
        )
    if epochs is not None:
        epochs = check_integer(epochs, "epochs (a cap for quick runs)")
    base = _read_base(raw.get("base"), source)
    axes = _read_axes(raw.get("axes"), source)
    variants = _read_variants(raw.get("variants"), source)
    if not axes and not variants:
        raise GridError(
            f"{source}: a grid needs 'axes' (recipe keys -> lists of values, e.g. "
            "model.activation: [relu, tanh]) or 'variants' (name -> overrides), or both"
        )
    metric = raw.get("metric")
    if metric is not None and not isinstance(metric, str):
        raise GridError(
            f"{source}: 'metric' is a metric name such as val_accuracy, got {short_repr(metric)}"
        )
    name = raw.get("name") or (Path(source).stem if source != "<grid>" else "sweep")
    if not isinstance(name, str) or not _UNSAFE.sub("", name):
        raise GridError(f"{source}: 'name' must be a non-empty string, got {short_repr(name)}")

    base = _validated_base(base, source, overrides or [])
    grid = Grid(
        name=_safe(name),
        description=str(raw.get("description") or ""),
        source=source,
        text=text if text is not None else json.dumps(raw, sort_keys=True, default=str),
        base=base,
        axes=axes,
        variants=variants,
        metric=metric,
    )
    _check_axis_values(grid, epochs)
    grid.points = _expand(grid, epochs)
    return grid


def _read_base(base: Any, source: str) -> dict[str, Any]:
    if base is None:
        return {}
    if isinstance(base, dict):
        return copy.deepcopy(base)
    if isinstance(base, str):
        path = Path(base)
        if not path.is_absolute() and source != "<grid>":
            path = Path(source).parent / path
        if not path.is_file():
            raise FileNotFoundError(f"{source}: base recipe file not found: {path}")
        return read_yaml_mapping(path, "a recipe", RecipeError)
    raise GridError(
        f"{source}: 'base' is a recipe file (relative to the grid file) or an inline recipe "
        f"mapping, got {type(base).__name__}"
    )


def _read_axes(axes: Any, source: str) -> dict[str, dict[str, Any]]:
    """Each axis as label -> value (lists get their labels from :func:`value_label`)."""
    if axes is None:
        return {}
    if not isinstance(axes, dict):
        raise GridError(
            f"{source}: 'axes' maps recipe keys to lists of values (model.activation: "
            f"[relu, tanh]), got {type(axes).__name__}"
        )
    result = {}
    for key, values in axes.items():
        _check_key(key, f"{source}: axis", VARIANT)
        if isinstance(values, dict):
            labelled = {_safe(str(label)): value for label, value in values.items()}
            if len(labelled) != len(values):
                raise GridError(
                    f"{source}: axis {key!r}: two labels read the same: {short_repr(list(values))}"
                )
        elif isinstance(values, list):
            labelled = {}
            for value in values:
                if any(_same(value, seen) for seen in labelled.values()):
                    raise GridError(
                        f"{source}: axis {key!r} lists the value {short_repr(value)} twice"
                    )
                labelled[_unique_label(value_label(value), value, labelled)] = value
        else:
            raise GridError(
                f"{source}: axis {key!r} must be a list of values (or a mapping label -> value), "
                f"got {short_repr(values)}"
            )
        if not labelled:
            raise GridError(f"{source}: axis {key!r} has no values; give at least one")
        result[key] = labelled
    return result


def _read_variants(variants: Any, source: str) -> dict[str, dict[str, Any]]:
    if variants is None:
        return {}
    if not isinstance(variants, dict):
        raise GridError(
            f"{source}: 'variants' maps names to overrides (adam: {{training.optimizer: adam}}), "
            f"got {type(variants).__name__}"
        )
    result = {}
    for name, overrides in variants.items():
        label = _safe(str(name))
        if not label or label in result:
            raise GridError(f"{source}: variant name {name!r} is empty or used twice")
        if overrides is None:
            overrides = {}
        if not isinstance(overrides, dict):
            raise GridError(
                f"{source}: variant {name!r} maps dotted recipe keys to values, got "
                f"{short_repr(overrides)}"
            )
        for key in overrides:
            _check_key(key, f"{source}: variant {name!r}: key", None)
        result[label] = dict(overrides)
    return result


def _check_key(key: Any, where: str, reserved: str | None) -> None:
    if not isinstance(key, str) or not key.strip() or any(not part for part in key.split(".")):
        raise GridError(f"{where} {key!r} is not a dotted recipe key such as model.activation")
    if key == reserved:
        raise GridError(f"{where} {key!r} is reserved for the grid's variants; rename it")


def _validated_base(base: dict[str, Any], source: str, overrides: list[str]) -> dict[str, Any]:
    """The base with ``overrides`` applied, checked as a recipe on its own."""
    try:
        recipe_source = f"{source} (base recipe)"
        parse_recipe(base, source=recipe_source, overrides=overrides)
    except (RecipeError, TypeError) as error:
        raise GridError(
            f"{source}: base recipe: {error}" if isinstance(error, TypeError) else str(error)
        ) from None
    return apply_overrides(base, overrides, source)


def _check_axis_values(grid: Grid, epochs: int | None) -> None:
    """Each axis value alone on the base: the error names the axis and the value."""
    for key, levels in grid.axes.items():
        for label, value in levels.items():
            try:
                _validate(_point_source(grid, {key: value}, "", epochs), grid.source)
            except RecipeError as error:
                problem = str(error).removeprefix(f"{grid.source}: ")
                raise GridError(
                    f"{grid.source}: axis {key!r} value {short_repr(value)} (level {label!r}) "
                    f"does not make a valid recipe: {problem}"
                ) from None
    for name, overrides in grid.variants.items():
        try:
            _validate(_point_source(grid, overrides, "", epochs), grid.source)
        except RecipeError as error:
            problem = str(error).removeprefix(f"{grid.source}: ")
            raise GridError(
                f"{grid.source}: variant {name!r} does not make a valid recipe: {problem}"
            ) from None


def _expand(grid: Grid, epochs: int | None) -> list[SweepPoint]:
    variants = list(grid.variants.items()) or [(None, {})]
    axis_levels = [list(levels.items()) for levels in grid.axes.values()]
    combos = []
    for variant, variant_overrides in variants:
        for choice in itertools.product(*axis_levels):
            factors: dict[str, str] = {} if variant is None else {VARIANT: variant}
            overrides = dict(variant_overrides)
            for key, (label, value) in zip(grid.axes, choice, strict=True):
                factors[key] = label
                overrides[key] = value
            combos.append((factors, overrides))
    names = _run_names(combos)
    points = []
    for position, ((factors, overrides), name) in enumerate(zip(combos, names, strict=True)):
        try:
            source = _point_source(grid, overrides, name, epochs)
            recipe = _validate(source, grid.source)
        except RecipeError as error:
            settings = ", ".join(f"{key}={short_repr(value)}" for key, value in overrides.items())
            problem = str(error).removeprefix(f"{grid.source}: ")
            raise GridError(
                f"{grid.source}: run {name!r} ({settings}) is not a valid recipe: {problem}"
            ) from None
        points.append(SweepPoint(name, position, factors, overrides, recipe, source))
    return points


def _point_source(
    grid: Grid, overrides: dict[str, Any], name: str, epochs: int | None
) -> dict[str, Any]:
    """The base with the point's overrides set, its name, and the epochs cap."""
    raw = copy.deepcopy(grid.base)
    for key, value in overrides.items():
        set_dotted(raw, key, copy.deepcopy(value), f"{grid.source}:")
    if name and "name" not in overrides:
        raw["name"] = f"{grid.name}-{name}"
    if name and overrides and "description" not in overrides:
        # the base's description is about the base; say what this run changes in it
        settings = ", ".join(f"{key}={short_repr(value)}" for key, value in overrides.items())
        base = str(grid.base.get("description") or "").strip()
        raw["description"] = f"Run {name} of sweep {grid.name}: {settings}" + (
            f", on the base recipe ({base})" if base else ""
        )
    if epochs is not None:
        training = raw.setdefault("training", {})
        if isinstance(training, dict):
            current = training.get("epochs", Recipe().training.epochs)
            training["epochs"] = min(epochs, current) if isinstance(current, int) else epochs
    return raw


def _validate(raw: dict[str, Any], source: str) -> Recipe:
    try:
        return parse_recipe(raw, source=source)
    except TypeError as error:  # a registry's message for a spec of the wrong shape
        raise RecipeError(f"{source}: {error}") from None


# -- names -----------------------------------------------------------------------------------
def value_label(value: Any) -> str:
    """A short, file-name-safe label for an axis value: ``he_normal``, ``64x64``, ``0.001``."""
    if isinstance(value, bool) or value is None:
        text = str(value).lower()
    elif isinstance(value, float):
        text = f"{value:g}"
    elif isinstance(value, list | tuple):
        text = "x".join(value_label(item) for item in value) or "none"
    elif isinstance(value, dict):
        named = value.get("name", value.get("type"))
        parts = [value_label(named)] if named is not None else []
        parts += [f"{k}={value_label(v)}" for k, v in value.items() if k not in ("name", "type")]
        text = "_".join(parts) or "empty"
    else:
        text = str(value)
    return _safe(text) or _digest(value)


def _safe(text: str) -> str:
    return _UNSAFE.sub("_", text).strip("_")


def _same(a: Any, b: Any) -> bool:
    return _canonical(a) == _canonical(b)


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


def _digest(value: Any, length: int = 6) -> str:
    return hashlib.sha256(_canonical(value).encode()).hexdigest()[:length]


def _unique_label(label: str, value: Any, taken: dict[str, Any]) -> str:
    if len(label) > MAX_NAME_LENGTH // 3:
        label = f"{label[: MAX_NAME_LENGTH // 3 - 7]}~{_digest(value)}"
    return label if label not in taken else f"{label}~{_digest(value)}"


def _run_names(combos: list[tuple[dict[str, str], dict[str, Any]]]) -> list[str]:
    """Labels joined by ``-``; a hash of the overrides where names clash or run long."""
    names = ["-".join(factors.values()) for factors, _ in combos]
    counts: dict[str, int] = {}
    for name in names:
        counts[name] = counts.get(name, 0) + 1
    result = []
    for name, (_, overrides) in zip(names, combos, strict=True):
        if counts[name] > 1 or len(name) > MAX_NAME_LENGTH:
            name = f"{name[: MAX_NAME_LENGTH - 7]}~{_digest(overrides)}"
        result.append(name)
    return result
