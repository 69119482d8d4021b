"""Reading YAML: bounded however the text is written, and every problem one line naming the file."""

import itertools
import time

import pytest
import yaml

from chainrule.utils.yamlfile import (
    ECHO_LIMIT,
    MAX_BYTES,
    MAX_DEPTH,
    MAX_VALUES,
    load_yaml_text,
    parse_override_value,
    read_yaml_mapping,
    short_repr,
)


def billion_laughs(levels=9, width=9):
    """The classic alias bomb: ``levels`` lines, each alias repeating the line before ``width``
    times, so the last one stands for width**levels strings."""
    names = [f"l{level}" for level in range(levels)]
    lines = [f"{names[0]}: &{names[0]} [{', '.join(['lol'] * width)}]"]
    for before, name in itertools.pairwise(names):
        lines.append(f"{name}: &{name} [{', '.join(['*' + before] * width)}]")
    return "\n".join(lines) + "\n"


def write(tmp_path, text, name="recipe.yaml"):
    path = tmp_path / name
    path.write_bytes(text.encode("utf-8") if isinstance(text, str) else text)
    return path


def one_line_error(path):
    with pytest.raises(ValueError) as caught:
        read_yaml_mapping(path, "a recipe")
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(str(path))
    return message


# -- unbounded work from small inputs ----------------------------------------------------------
def test_an_alias_bomb_is_refused_at_once_naming_the_file(tmp_path):
    text = billion_laughs()  # 9**9 = 387 million strings from 9 short lines
    assert len(text) < 1000
    started = time.perf_counter()
    message = one_line_error(write(tmp_path, text))
    assert time.perf_counter() - started < 2
    assert f"expands to more than {MAX_VALUES:,} values" in message


def test_aliases_that_stay_small_still_work(tmp_path):
    raw = read_yaml_mapping(write(tmp_path, billion_laughs(levels=3, width=3)), "a recipe")
    assert raw["l2"] == [[["lol"] * 3] * 3] * 3


def test_a_cycle_of_aliases_is_refused(tmp_path):
    assert "a cycle" in one_line_error(write(tmp_path, "a: &a [1, *a]\n"))


def test_nesting_is_bounded_with_and_without_aliases(tmp_path):
    deep = "a: " + "[" * (MAX_DEPTH + 5) + "]" * (MAX_DEPTH + 5) + "\n"
    assert f"nested more than {MAX_DEPTH} levels deep" in one_line_error(write(tmp_path, deep))
    chain = "".join(
        f"k{i}: &k{i} [{'*k' + str(i - 1) if i else 1}]\n" for i in range(MAX_DEPTH + 5)
    )
    message = one_line_error(write(tmp_path, chain))
    assert "levels deep once its aliases are followed" in message
    fine = "a: " + "[" * 10 + "]" * 10 + "\n"
    assert read_yaml_mapping(write(tmp_path, fine), "a recipe")["a"] == [[[[[[[[[[]]]]]]]]]]


def test_a_file_larger_than_the_bound_is_refused_unread(tmp_path):
    path = write(tmp_path, "# padding\n" * (MAX_BYTES // 10 + 1))
    assert "larger than 1 MiB" in one_line_error(path)


def test_a_huge_integer_is_one_line():
    with pytest.raises(ValueError, match=r"^f.yaml: a value cannot be read: .*digits$"):
        load_yaml_text("a: " + "9" * 5000, "f.yaml")


# -- messages: one line, FILE:LINE:COLUMN ------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "where", "words"),
    [
        ("model: [\n", ":2:1:", "expected the node content"),
        ("model:\n  hidden: [64]\n activation: relu\n", ":3:2:", "expected <block end>"),
        ("a:\n\tb: 1\n", ":2:1:", "found character '\\t' that cannot start any token"),
        ("a: *nowhere\n", ":1:4:", "found undefined alias 'nowhere'"),
        ("a: 1\n---\nb: 2\n", ":2:1:", "expected a single document in the stream, but found"),
        ("a: b\x00\n", ":1:5:", "character #x0000 is not allowed"),
        ("a: !!python/object:os.system x\n", ":1:4:", "could not determine a constructor"),
    ],
)
def test_malformed_yaml_is_one_line_with_line_and_column(tmp_path, text, where, words):
    path = write(tmp_path, text)
    message = one_line_error(path)
    assert message.startswith(f"{path}{where} ")
    assert words in message


def test_a_key_twice_is_an_error_not_the_last_one_silently(tmp_path):
    message = one_line_error(write(tmp_path, "epochs: 3\nseed: 1\nepochs: 5\n"))
    assert message.endswith(
        ":3:1: key 'epochs' appears twice in one mapping (first on line 1); YAML would keep "
        "only the last: give it once"
    )


def test_merge_keys_may_still_be_overridden(tmp_path):
    text = "base: &base {x: 1, y: 2}\nmine: {<<: *base, x: 3}\n"
    assert read_yaml_mapping(write(tmp_path, text), "a recipe")["mine"] == {"x": 3, "y": 2}


def test_a_file_that_is_not_utf8_names_the_byte_and_its_offset(tmp_path):
    path = write(tmp_path, b"name: ok\nseed: \xff\n")
    message = one_line_error(path)
    assert message == (
        f"{path}: not UTF-8 text: byte 0xff at offset 15 (line 2) is not valid UTF-8; save the "
        "file as UTF-8"
    )


def test_an_error_echoes_at_most_a_short_value(tmp_path):
    message = one_line_error(write(tmp_path, f"a: *{'x' * 100_000}\n"))
    assert len(message) < len(str(tmp_path)) + 5 * ECHO_LIMIT


def test_top_level_must_be_a_mapping_and_empty_is_empty(tmp_path):
    assert read_yaml_mapping(write(tmp_path, ""), "a recipe") == {}
    with pytest.raises(ValueError, match=r"a recipe is a mapping of keys \(a, b\), got list"):
        read_yaml_mapping(write(tmp_path, "- 1\n"), "a recipe", keys="a, b")


def test_the_caller_chooses_the_error_class(tmp_path):
    class MyError(ValueError):
        pass

    with pytest.raises(MyError):
        read_yaml_mapping(write(tmp_path, "a: [\n"), "a recipe", MyError)
    with pytest.raises(MyError, match="cannot read"):
        read_yaml_mapping(tmp_path, "a recipe", MyError)  # a folder


# -- values ------------------------------------------------------------------------------------
def test_numbers_with_an_exponent_are_numbers_as_in_yaml_12():
    raw = load_yaml_text("a: [1e-3, 5E4, 1.5e3, .5e3, -2e-2, 1.0, .inf, '1e-3', e5, 1e]", "f")
    assert raw["a"][:6] == [0.001, 50000.0, 1500.0, 500.0, -0.02, 1.0]
    assert raw["a"][6] == float("inf")
    assert raw["a"][7:] == ["1e-3", "e5", "1e"]
    assert yaml.safe_load("a: 1e-3") == {"a": "1e-3"}  # PyYAML's own loader is left alone


def test_a_command_line_value_is_yaml_or_else_text_but_bounded():
    assert parse_override_value("[64, 32]", "--set model.hidden") == [64, 32]
    assert parse_override_value("true", "--set x") is True
    assert parse_override_value("[64,", "--set x") == "[64,"
    flow = "[&a [1,1,1,1,1,1,1,1,1,1], " + ", ".join(
        f"&{name} [{', '.join(['*' + before] * 10)}]"
        for before, name in zip("abcdefg", "bcdefgh", strict=True)
    )
    with pytest.raises(ValueError, match=r"^--set x:1:\d+: expands to more than"):
        parse_override_value(flow + "]", "--set x")
    with pytest.raises(ValueError, match="a cycle"):
        parse_override_value("&a [*a]", "--set x")


def test_short_repr_cuts_long_values_and_stays_cheap():
    assert short_repr([1, 2]) == "[1, 2]"
    assert len(short_repr("x" * 10_000)) <= ECHO_LIMIT
    huge = [list(range(1000))] * 1000
    started = time.perf_counter()
    text = short_repr(huge)
    assert time.perf_counter() - started < 0.1
    assert len(text) <= ECHO_LIMIT and text.endswith(("…", "]"))
    assert len(short_repr(huge, limit=20)) == 20
