"""What every mistake reads: the student's numbers are tried before the right ones."""

from chainrule.classroom.mistakes import Context, contexts, shown


def test_a_mistake_is_tried_on_the_students_numbers_first():
    context = Context(chain=None, used={"a1[1]": 0.5}, expected={"a1[1]": 0.25}, answers={},
                      updated=None)  # fmt: skip
    assert [values["a1[1]"] for values in contexts(context)] == [0.5, 0.25]
    assert shown(0.123456) == "0.1235" and shown(-2.0) == "-2"
