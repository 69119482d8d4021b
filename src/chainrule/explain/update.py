"""The update, computed by the engine's optimizer and printed from the optimizer's own math.

``Updater`` runs the engine's optimizer on one flat float64 buffer of the trainable tensors,
laid out by ``ParameterStore`` (name -> slice), and reads its state through the names its math
description gives (``OptimizerMath.state``: v -> ``velocity``, m -> ``m`` …). The printed
rule and every line of it, element by element (``v(W1[1,1]) ← μ*v(W1[1,1]) + dL/dW1[1,1] =
0.9*0 + 0.01 = 0.01``), come from the description's update rules; the values from the engine.
"""

from __future__ import annotations

import numpy as np

from chainrule.explain.record import Block, Equation
from chainrule.explain.spec import ExplainSpec
from chainrule.explain.symbolic import Term
from chainrule.explain.symbols import LOSS, hyperparameter, quantity
from chainrule.nn.formulas import GRADIENT, PARAMETER, STEP, OptimizerMath
from chainrule.nn.params import ParameterSpec, ParameterStore
from chainrule.reporting.expr import Deriv, Expr, Raw, Sym


class Updater:
    """The engine's optimizer over one flat float64 buffer of the trainable tensors."""

    def __init__(self, spec: ExplainSpec, W: list[np.ndarray], b: list[np.ndarray]) -> None:
        self.spec = spec
        self.optimizer = spec.optimizer.make()
        self.math: OptimizerMath = self.optimizer.math
        self.names = [name for name in spec.parameter_names() if spec.trainable(name)]
        tensors = _by_name(W, b)
        # The values come from the spec, so no initializer and no fans: the store only lays
        # the tensors out in the flat buffers the optimizer steps over.
        specs = {
            name: ParameterSpec(tensors[name].shape, initializer=None, fan_in=0, fan_out=0)
            for name in self.names
        }
        self.store = ParameterStore(specs, np.float64)
        for name in self.names:
            self.store[name] = tensors[name]

    def __contains__(self, name: str) -> bool:
        """Whether the optimizer updates tensor ``name``."""
        return name in self.store

    def state(self) -> dict[str, np.ndarray]:
        """Copies of the optimizer's per-parameter state by its math's names (zeros before
        the first step)."""
        state = {}
        for name, attribute in self.math.state.items():
            buffer = getattr(self.optimizer, attribute)
            state[name] = np.zeros_like(self.store.data) if buffer is None else np.array(buffer)
        return state

    def step(self, dW: list[np.ndarray], db: list[np.ndarray]) -> None:
        grads = _by_name(dW, db)
        for name in self.names:
            self.store.grads[name][...] = grads[name]
        if self.names:
            self.optimizer.step(self.store.data, self.store.grad_data)

    def tensor(self, name: str, buffer: np.ndarray | None = None) -> np.ndarray:
        """A copy of tensor ``name`` from the parameters (or from a state ``buffer``)."""
        return self.store.view(name, buffer).copy()


def _by_name(W: list[np.ndarray], b: list[np.ndarray]) -> dict[str, np.ndarray]:
    tensors = {f"W{n}": W[n - 1] for n in range(1, len(W) + 1)}
    return tensors | {f"b{n}": b[n - 1] for n in range(1, len(b) + 1)}


def update_formulas(spec: ExplainSpec) -> list[Expr]:
    """The rule as the optimizer's math writes it for the worked example, with its settings."""
    math = spec.optimizer.make().math
    hyperparameters = spec.optimizer.hyperparameters
    lines = [line.format(**hyperparameters) for line in math.worked]
    return [Raw(line.text, line.tex) for line in lines]


def update_blocks(
    spec: ExplainSpec,
    updater: Updater,
    before: dict[str, np.ndarray],
    after: dict[str, np.ndarray],
    old: dict[str, np.ndarray],
    grads: dict[str, np.ndarray],
) -> list[Block]:
    """One block per trained tensor: each rule of the update for each of its entries."""
    math = updater.math
    hyperparameters = spec.optimizer.hyperparameters
    t = updater.optimizer.iterations
    last = max(i for i, rule in enumerate(math.rules) if rule.target == PARAMETER)
    blocks = []
    for tensor in updater.names:
        block = Block(f"{tensor}")
        new = updater.tensor(tensor)
        state_before = {key: updater.tensor(tensor, value) for key, value in before.items()}
        state_after = {key: updater.tensor(tensor, value) for key, value in after.items()}
        layer = int(tensor[1:])
        for index in np.ndindex(new.shape):
            theta = Sym(tensor[0], layer, tuple(i + 1 for i in index))
            symbols: dict[str, object] = {
                PARAMETER: Term(theta),
                GRADIENT: Term(Deriv(LOSS, theta)),
            }
            numbers: dict[str, object] = {
                PARAMETER: Term.number(old[tensor][index]),
                GRADIENT: Term.number(grads[tensor][index]),
            }
            symbols[STEP] = numbers[STEP] = t  # an exact integer in both forms
            for name, symbol in math.symbols.items():
                symbols[name] = Term(hyperparameter(symbol))
                numbers[name] = Term.number(hyperparameters[name])
            for name in math.state:
                symbols[name] = Term(quantity(name, theta))
                numbers[name] = Term.number(state_before[name][index])
            for position, rule in enumerate(math.rules):
                symbolic, numeric = rule.evaluate(symbols), rule.evaluate(numbers)
                reference = None
                if position == last:  # the parameter's new value, as the engine computed it
                    value, reference = new[index], float(old[tensor][index])
                elif rule.target in state_after:
                    value = state_after[rule.target][index]
                else:  # an intermediate (a bias correction): the rule's own arithmetic
                    value = numeric.value
                block.equations.append(
                    Equation(
                        quantity(rule.target, theta),
                        [symbolic.expr, numeric.expr],
                        value,
                        rule.relation,
                        reference=reference,
                    )
                )
                symbols[rule.target] = Term(quantity(rule.target, theta))
                numbers[rule.target] = Term.number(value)
        blocks.append(block)
    return blocks
