"""Checks for the numbers a user passes in: one place, one wording.

Every public knob that takes a count or a rate checks it at the boundary, so that a bad value
fails where the user typed it, naming the argument, the value and what would be valid::

    >>> check_integer(0, "epochs")
    Traceback (most recent call last):
    ValueError: epochs must be an integer >= 1, got 0

A bool is not a number here (``True`` is an ``int`` to Python, but ``epochs=true`` in a recipe
is a mistake, not one epoch), and neither is NaN or infinity unless ``finite=False``. A number
with two bounds reads as an interval whose brackets say which ends count: ``rate must be a
number in [0, 1)``.
"""

from __future__ import annotations

import math
from numbers import Integral, Real

__all__ = ["check_integer", "check_number", "is_integer", "is_number"]


def is_integer(value: object) -> bool:
    """True for Python and NumPy integers, False for bools and everything else."""
    return isinstance(value, Integral) and not isinstance(value, bool)


def is_number(value: object, finite: bool = True) -> bool:
    """True for real numbers (ints and floats, NumPy's too) that are not bools; finite by default."""
    if isinstance(value, bool) or not isinstance(value, Real):
        return False
    return not finite or math.isfinite(value)


def _fail(name: str, requirement: str, value: object, where: str) -> ValueError:
    prefix = f"{where}: " if where else ""
    return ValueError(f"{prefix}{name} must be {requirement}, got {value!r}")


def _integer_words(minimum: int | None, maximum: int | None) -> str:
    if minimum is not None and maximum is not None:
        return f"an integer from {minimum} to {maximum}"
    if minimum is not None:
        return f"an integer >= {minimum}"
    if maximum is not None:
        return f"an integer <= {maximum}"
    return "an integer"


def _number_words(
    minimum: float | None, maximum: float | None, strict: bool, strict_maximum: bool
) -> str:
    """``a number in [0, 1)`` for two bounds (brackets say which end is included), else one."""
    if minimum is not None and maximum is not None:
        low, high = "(" if strict else "[", ")" if strict_maximum else "]"
        return f"a number in {low}{minimum}, {maximum}{high}"
    if minimum is not None:
        return f"a number {'>' if strict else '>='} {minimum}"
    if maximum is not None:
        return f"a number {'<' if strict_maximum else '<='} {maximum}"
    return "a finite number"


def check_integer(
    value: object,
    name: str,
    minimum: int | None = 1,
    maximum: int | None = None,
    where: str = "",
) -> int:
    """Return ``value`` as an ``int`` if it is an integer in [minimum, maximum], else raise.

    ``where`` prefixes the message with the thing being configured (``"early_stopping"``).
    """
    requirement = _integer_words(minimum, maximum)
    if not is_integer(value):
        raise _fail(name, requirement, value, where)
    number = int(value)  # type: ignore[call-overload]
    if (minimum is not None and number < minimum) or (maximum is not None and number > maximum):
        raise _fail(name, requirement, value, where)
    return number


def check_number(
    value: object,
    name: str,
    minimum: float | None = None,
    maximum: float | None = None,
    strict: bool = False,
    where: str = "",
    strict_maximum: bool = False,
) -> float:
    """Return ``value`` as a ``float`` if it is a finite number in range, else raise.

    Both bounds are inclusive unless made exclusive: ``strict`` for the lower one (a rate
    ``> 0``), ``strict_maximum`` for the upper one (a probability in ``[0, 1)``).
    """
    requirement = _number_words(minimum, maximum, strict, strict_maximum)
    if not is_number(value):
        raise _fail(name, requirement, value, where)
    number = float(value)  # type: ignore[arg-type]
    too_low = minimum is not None and (number <= minimum if strict else number < minimum)
    too_high = maximum is not None and (number >= maximum if strict_maximum else number > maximum)
    if too_low or too_high:
        raise _fail(name, requirement, value, where)
    return number
