"""Name lookup tables: case- and dash-insensitive, aliases, argument checking."""

import pytest

from chainrule.utils.registry import Registry


def make(a: int, b: int = 2) -> tuple[int, int]:
    return (a, b)


def test_lookup_is_forgiving_about_spelling():
    registry = Registry("widget")
    registry.register("leaky_relu", make, aliases=("lrelu",))
    assert registry.canonical("Leaky-ReLU") == "leaky_relu"
    assert registry.canonical("lrelu") == "leaky_relu"


def test_create_from_a_name_or_a_mapping():
    registry = Registry("widget")
    registry.register("pair", make)
    assert registry.create({"name": "pair", "a": 1}) == (1, 2)
    assert registry.create("pair", a=5, c=9) == (5, 2)  # defaults it does not take are ignored


def test_errors_list_what_is_valid():
    registry = Registry("widget")
    registry.register("pair", make)
    with pytest.raises(ValueError, match="unknown widget 'trio'; valid widgets: pair"):
        registry.get("trio")
    with pytest.raises(ValueError, match="unknown argument.*c; it accepts: a, b"):
        registry.create({"name": "pair", "a": 1, "c": 3})
    with pytest.raises(ValueError, match="widget 'pair':.*missing"):
        registry.create("pair")
    with pytest.raises(TypeError, match="mapping with a 'name' key"):
        registry.create({"a": 1})
