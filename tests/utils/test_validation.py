import numpy as np
import pytest

from chainrule.utils.validation import check_integer, check_number, is_integer, is_number


def test_integers_of_every_kind_pass_and_come_back_as_int():
    assert check_integer(3, "epochs") == 3
    value = check_integer(np.int64(5), "epochs")
    assert value == 5 and type(value) is int


@pytest.mark.parametrize("bad", [0, -2, 1.5, "3", None, True, False, np.float32(2.0)])
def test_a_bad_count_names_the_argument_the_rule_and_the_value(bad):
    with pytest.raises(ValueError) as error:
        check_integer(bad, "epochs")
    assert str(error.value) == f"epochs must be an integer >= 1, got {bad!r}"


def test_bounds_and_the_owner_appear_in_the_message():
    with pytest.raises(
        ValueError, match=r"^render: digits must be an integer from 1 to 17, got 18$"
    ):
        check_integer(18, "digits", minimum=1, maximum=17, where="render")
    assert check_integer(0, "digits", minimum=0) == 0


def test_numbers_are_finite_reals_and_not_bools():
    assert check_number(0.5, "rate", minimum=0, maximum=1) == 0.5
    assert check_number(np.float32(2), "gamma") == 2.0
    for bad in (float("nan"), float("inf"), True, "0.1", None):
        with pytest.raises(ValueError, match="gamma must be a finite number"):
            check_number(bad, "gamma")


def test_a_strict_lower_bound_excludes_the_bound():
    with pytest.raises(ValueError, match=r"learning_rate must be a number > 0, got 0"):
        check_number(0, "learning_rate", minimum=0, strict=True)
    assert check_number(0, "min_delta", minimum=0) == 0.0


def test_predicates():
    assert is_integer(np.int8(1)) and not is_integer(True) and not is_integer(1.0)
    assert is_number(1) and is_number(np.float64(2.5)) and not is_number(False)
    assert not is_number(float("inf")) and is_number(float("inf"), finite=False)


@pytest.mark.parametrize(
    ("bounds", "bad", "interval"),
    [
        ({"strict_maximum": True}, 1.0, "[0, 1)"),
        ({"strict": True, "strict_maximum": True}, 0, "(0, 1)"),
        ({}, 1.5, "[0, 1]"),
    ],
)
def test_two_bounds_read_as_an_interval_whose_brackets_say_which_ends_count(bounds, bad, interval):
    assert check_number(0.5, "rate", minimum=0, maximum=1, **bounds) == 0.5
    with pytest.raises(ValueError) as error:
        check_number(bad, "rate", minimum=0, maximum=1, where="dropout", **bounds)
    assert str(error.value) == f"dropout: rate must be a number in {interval}, got {bad!r}"


def test_a_strict_upper_bound_alone_excludes_the_bound():
    assert check_number(0.99, "beta", maximum=1, strict_maximum=True) == 0.99
    with pytest.raises(ValueError, match=r"^beta must be a number < 1, got 1$"):
        check_number(1, "beta", maximum=1, strict_maximum=True)
