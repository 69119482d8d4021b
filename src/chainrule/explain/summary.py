"""What opens and closes a worked example: the loss and optimizer it trains with, and the
summary (the loss before and after, and the verdict)."""

from __future__ import annotations

from chainrule.explain.loss import loss_convention
from chainrule.explain.record import Block, StepRecord
from chainrule.explain.spec import ConvSpec, ExplainSpec
from chainrule.reporting.expr import Num


def training_notes(spec: ExplainSpec | ConvSpec) -> list[tuple]:
    """The overview's lines on the loss (its formula and convention) and on the optimizer
    (its settings, the steps, what is frozen)."""
    sentence, formula = loss_convention(spec)  # type: ignore[arg-type]
    hp = spec.optimizer.hyperparameters
    optimizer = spec.optimizer.make().math.short_name
    settings = ", ".join(f"{key} {value:g}" for key, value in hp.items())
    frozen = [name for name in spec.parameter_names() if not spec.trainable(name)]
    frozen_text = f"; frozen: {', '.join(frozen)}" if frozen else ""
    return [
        ("Loss: ", formula, f", {sentence}."),
        (
            f"Optimizer: {optimizer} ({settings}); {spec.steps} step"
            f"{'s' * (spec.steps != 1)}{frozen_text}.",
        ),
    ]


def summary_block(steps: list[StepRecord], final_loss: float) -> Block:
    """The loss before and after, and whether every gradient and path sum agreed."""
    block = Block("Loss")
    count = len(steps)
    block.notes.append(
        (
            "Before step 1: L = ",
            Num(steps[0].loss),
            f". After step {count}" if count > 1 else ". After the step",
            " (a forward pass with the updated parameters): L = ",
            Num(final_loss),
            f" (change {final_loss - steps[0].loss:+.2e}).",
        )
    )
    verified = all(step.verification.passed for step in steps)
    agreed = all(p.agrees for step in steps for p in step.paths)
    block.notes.append(
        (
            "Every gradient agrees with the engine's backward pass and with finite differences"
            if verified
            else "SOME GRADIENTS DISAGREE with the engine or with finite differences: see the "
            "Verification sections",
            "" if agreed else "; SOME PATH SUMS DISAGREE with the gradients",
            ".",
        )
    )
    return block
