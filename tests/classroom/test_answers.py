"""Reading answers files: numbers kept as written, work evaluated, one-line errors."""

import pytest

from chainrule.classroom.answers import (
    agrees,
    evaluate_work,
    parse_answers,
    parse_number,
    read_answers,
    work_numbers,
)


def test_yaml_keeps_each_number_as_written():
    parsed = parse_answers("a1[1]: 0.490\ndelta3[1]: 8.9e-05\n")
    first, second = parsed["answers"]
    assert (first.name, first.text, first.value) == ("a1[1]", "0.490", 0.49)
    assert first.half_unit == pytest.approx(0.0005)
    assert second.name == "δ3[1]" and second.half_unit == pytest.approx(5e-7)


def test_yaml_with_student_and_work():
    parsed = parse_answers(
        "student: ada\nanswers:\n  L: {value: 0.0174, work: '((0.5 - 0.573)^2)/2'}\n"
    )
    assert parsed["student"] == "ada"
    (answer,) = parsed["answers"]
    assert answer.work == "((0.5 - 0.573)^2)/2" and answer.value == 0.0174


def test_work_alone_gives_the_value():
    (answer,) = parse_answers("L: {work: '(0.2 - 0.1)^2 / 2'}\n")["answers"]
    assert answer.value == pytest.approx(0.005) and answer.half_unit is None


def test_csv_with_header():
    text = "quantity,value,work\na1[1],0.49,\nL,0.02,(0.1)^2*2\nz1[1],,\n"
    answers = parse_answers(text)["answers"]
    assert [a.name for a in answers] == ["a1[1]", "L"]
    assert answers[1].work == "(0.1)^2*2"


def test_csv_names_with_commas_need_no_quotes():
    text = 'quantity,value\nW1[2,1],0.5\ndL/dx[1,2,3],-0.12\n"z1[1,1,2]",0.3\n'
    answers = parse_answers(text)["answers"]
    assert [(a.name, a.value) for a in answers] == [
        ("W1[2,1]", 0.5),
        ("dL/dx[1,2,3]", -0.12),
        ("z1[1,1,2]", 0.3),
    ]


def test_read_answers_names_the_student_after_the_file(tmp_path):
    path = tmp_path / "grace.csv"
    path.write_text("quantity,value\nL,0.02\n")
    assert read_answers(path)["student"] == "grace"


def test_arithmetic_of_the_work():
    assert evaluate_work("-2*(0.5 - 0.673)") == pytest.approx(0.346)
    assert evaluate_work("exp(0) + 2^3") == pytest.approx(9.0)
    assert work_numbers("((0.5 - 0.573)^2 + (0.8 - 0.628)^2)/2") == [
        "0.5",
        "0.573",
        "2",
        "0.8",
        "0.628",
        "2",
        "2",
    ]


def test_agrees_at_the_written_precision_or_within_rtol():
    (answer,) = parse_answers("a3[1]: 0.673\n")["answers"]
    assert agrees(answer, 0.67321)
    assert not agrees(answer, 0.6738)
    assert agrees(answer, 0.6738, rtol=0.01)
    assert parse_number("0.67", "x") == (0.67, pytest.approx(0.005))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a1[1]: [1, 2]\n", "one number per quantity"),
        ("a1[1]: abc\n", "'abc' is not a number"),
        ("a1[1]: {value: 1, note: x}\n", "takes 'value' and 'work'"),
        ("- 1\n- 2\n", "expected a mapping"),
        ("a1[1]: {work: 'import os'}\n", "cannot read the work"),
        ("a1[1]: {work: 'open(1)'}\n", "something other than arithmetic"),
        ("a: [\n", "not valid YAML"),
        ("quantity,number\nL,1\n", "needs the columns quantity and value"),
    ],
)
def test_a_bad_file_is_one_line(text, message):
    with pytest.raises(ValueError, match=message) as caught:
        parse_answers(text, "answers.yaml")
    assert "\n" not in str(caught.value)


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="answers file not found"):
        read_answers(tmp_path / "none.yaml")
