"""The summary that closes a worked example: the loss before and after, and the verdict."""

from __future__ import annotations

from worked_reference import CLASSIC, CONV_MAXPOOL

from chainrule.explain import compute
from chainrule.explain.spec import load_spec
from chainrule.explain.summary import summary_block
from chainrule.reporting.expr import Num


def test_the_summary_gives_both_losses_and_the_verdict():
    for path in (CLASSIC, CONV_MAXPOOL):
        record = compute(load_spec(path), paths=["b1[1]"])
        block = summary_block(record.steps, record.final_loss)
        losses = [piece.value for piece in block.notes[0] if isinstance(piece, Num)]
        assert losses == [record.steps[0].loss, record.final_loss]
        assert block.notes[1][0].startswith("Every gradient agrees")


def test_a_disagreeing_path_sum_is_said():
    record = compute(load_spec(CONV_MAXPOOL), paths=["b1[1]"])
    record.steps[0].paths[0].gradient += 1.0  # as if the backward pass were wrong
    block = summary_block(record.steps, record.final_loss)
    assert "SOME PATH SUMS DISAGREE" in block.notes[1][1]
