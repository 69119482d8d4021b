"""``check``: the verdicts, the acceptance example of the issue, error carried forward."""

from pathlib import Path

import pytest

import chainrule as cr
from chainrule.classroom import check
from chainrule.classroom.grader import Grader

CLASSIC = Path(__file__).resolve().parents[2] / "examples" / "relu-tanh-sigmoid-mse.yaml"

#: A published worked solution of the classic 3-3-2-2 exercise (its numbers, as printed).
PUBLISHED = """\
a3[1]: 0.673
a3[2]: 0.684
L: {value: 0.0174, work: "((0.5 - 0.573)^2 + (0.8 - 0.628)^2)/2"}
dL/da3[1]: 0.346
sigmoid'(z3[1]): 0.220
delta3[1]: 0.0761
dL/dW3[1,1]: 0.0244
"""


@pytest.fixture(scope="module")
def grader():
    return Grader(CLASSIC)


def write(tmp_path, text, name="student.yaml"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_the_acceptance_example(tmp_path):
    result = check(CLASSIC, write(tmp_path, PUBLISHED))
    assert result["a3[1]"].verdict == "right"
    assert result["a3[2]"].verdict == "right"
    loss = result["L"]
    assert loss.verdict == "wrong"
    assert loss.diagnosis.mistake == "forward value copied wrong"
    assert "loss of outputs a3[1] = 0.573, a3[2] = 0.628" in loss.diagnosis.message
    gradient = result["dL/da3[1]"]
    assert gradient.verdict == "wrong"
    assert gradient.diagnosis.mistake == "loss convention factor"
    assert "factor 1/2 of the mean over the 2 outputs" in gradient.diagnosis.message
    assert "0.346 = 2 × 0.173" in gradient.diagnosis.message
    for later in ("δ3[1]", "dL/dW3[1,1]"):
        assert result[later].verdict == "follows"
        assert result[later].follows_from == ("dL/da3[1]",)
        assert result[later].verdict_text == "follows from your value of dL/da3[1]"
    assert result["sigmoid'(z3[1])"].verdict == "right"
    assert result.first_wrong.name == "L"
    assert result.count("missing") == len(result.results) - 7


def test_every_quantity_in_step_order(grader):
    result = grader.check({"a1[1]": "0.49"})
    names = [r.name for r in result.results]
    assert names[:2] == ["z1[1]", "z1[2]"] and names.index("L") < names.index("dL/da3[1]")
    assert names.index("δ1[3]") < names.index("dL/dW3[1,1]") < names.index("W1[1,1]")
    assert result.all_right and result["z1[1]"].verdict == "missing"


def test_error_carried_forward_gives_partial_credit(grader):
    # a1[1] miscomputed as 0.51 (0.49 is right); z2[1] then follows from it, a2[2] is wrong
    right = grader.expected
    z = 0.51 * 0.1 + right["a1[2]"] * 0.2 + right["a1[3]"] * 0.2 + 0.1
    result = grader.check({"a1[1]": "0.51", "z2[1]": f"{z:.4f}", "a2[2]": "0.9"})
    assert [result[n].verdict for n in ("a1[1]", "z2[1]", "a2[2]")] == ["wrong", "follows", "wrong"]
    assert result["z2[1]"].follows_from == ("a1[1]",)
    assert result.score() == pytest.approx(0.5 / 3)
    assert result.score({"follows": 1.0}) == pytest.approx(1 / 3)


def test_judged_at_the_students_precision(grader):
    a = grader.expected["a3[1]"]  # 0.67321…
    assert grader.check({"a3[1]": f"{a:.3f}"}).all_right
    assert grader.check({"a3[1]": f"{a:.1f}"}).all_right
    assert not grader.check({"a3[1]": f"{a + 0.001:.3f}"}).all_right
    assert grader.check({"a3[1]": f"{a + 0.001:.3f}"}, rtol=0.01).all_right


def test_rounding_from_ones_own_rounded_numbers_is_right(grader):
    # 0.67 and 0.68 are right at 2 decimals; (0.67 - 0.5) from them is 0.17, right at its own
    result = grader.check({"a3[1]": "0.67", "dL/da3[1]": "0.17"})
    assert result.all_right


def test_unknown_name_names_the_closest(grader):
    with pytest.raises(ValueError, match=r"unknown quantity 'dL/dW4\[1,1\]'; closest: ") as e:
        grader.check({"dL/dW4[1,1]": "0.1"})
    assert "dL/dW1[1,1]" in str(e.value) and "\n" not in str(e.value)


def test_names_as_students_write_them(grader):
    result = grader.check({"delta 3[1]": "0.0381", "f'(z3[1])": "0.22"})
    assert result["δ3[1]"].verdict == "right" and result["sigmoid'(z3[1])"].verdict == "right"


def test_an_empty_answers_file_and_a_twice_answered_quantity(tmp_path, grader):
    with pytest.raises(ValueError, match="no answers"):
        grader.check(write(tmp_path, "# nothing yet\n"))
    twice = write(tmp_path, "quantity,value\nL,0.02\nL,0.03\n", "twice.csv")
    with pytest.raises(ValueError, match="L is answered twice"):
        grader.check(twice)


def test_bad_rtol(grader):
    with pytest.raises(ValueError, match="--rtol"):
        grader.check({"L": "0.02"}, rtol=-1)


def test_face_and_structured_result(tmp_path):
    result = cr.check(CLASSIC, write(tmp_path, PUBLISHED))
    data = result.to_dict()
    assert data["first_wrong"] == "L" and data["counts"]["follows"] == 2
    assert data["quantities"][0]["verdict"] == "missing"


def test_a_slip_carried_through_the_whole_step(grader):
    # every later number worked from a1[1] = 0.51 at full precision, written to 4 digits
    carried, _ = grader.chain.evaluate({"a1[1]": 0.51})
    answers = {name: f"{carried[name]:.4g}" for name in grader.names}
    answers["a1[1]"] = "0.51"
    result = grader.check(answers)
    assert [r.name for r in result.results if r.verdict == "wrong"] == ["a1[1]"]
    follows = [r for r in result.results if r.verdict == "follows"]
    assert follows and all(r.follows_from == ("a1[1]",) for r in follows)
    assert result["z2[1]"].verdict == "follows" and result["z1[1]"].verdict == "right"


def test_a_frozen_parameter_has_no_value_after_the_step(grader):
    with pytest.raises(ValueError, match=r"b1 is frozen in this spec .* dL/db1\[1\]"):
        grader.check({"b1[1]": "0.2"})
