"""A reference for the worked example, written here in plain NumPy, sharing no code with chainrule.

Each activation, its Jacobian, each loss and its dL/da, and the GD / momentum updates are
written out from the formulas; the explain tests compare the structured record with it, and
every number the text output prints (parsed from the output, at the digits asked for).
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

import numpy as np
import yaml

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
CLASSIC = EXAMPLES / "relu-tanh-sigmoid-mse.yaml"
BCE = EXAMPLES / "sigmoid-binary-crossentropy.yaml"
SOFTMAX = EXAMPLES / "softmax-categorical-crossentropy.yaml"
CONV_MAXPOOL = EXAMPLES / "conv-maxpool-dense-softmax.yaml"
CONV_STRIDED = EXAMPLES / "conv-stride2-padded.yaml"


def first_weight(path: Path) -> str:
    """W1's first entry in the example's index notation: a kernel has four indices."""
    return "W1[1,1,1,1]" if Path(path).name.startswith("conv-") else "W1[1,1]"


def activation(name: str, z: np.ndarray, slope: float = 0.01) -> np.ndarray:
    if name == "identity":
        return z.copy()
    if name == "relu":
        return np.where(z > 0, z, 0.0)
    if name == "leaky_relu":
        return np.where(z > 0, z, slope * z)
    if name == "sigmoid":
        return 1 / (1 + np.exp(-z))
    if name == "tanh":
        return np.tanh(z)
    if name == "improved_sigmoid":
        return 1.7159 * np.tanh(2 * z / 3)
    e = np.exp(z - z.max())
    return e / e.sum()


def jacobian(name: str, z: np.ndarray, a: np.ndarray, slope: float = 0.01) -> np.ndarray:
    """J[i, j] = da[i]/dz[j], from z (not from the output, as the engine does)."""
    if name == "softmax":
        return np.diag(a) - np.outer(a, a)
    derivative = {
        "identity": lambda: np.ones_like(z),
        "relu": lambda: (z > 0).astype(float),
        "leaky_relu": lambda: np.where(z > 0, 1.0, slope),
        "sigmoid": lambda: np.exp(-z) / (1 + np.exp(-z)) ** 2,
        "tanh": lambda: 1 / np.cosh(z) ** 2,
        "improved_sigmoid": lambda: 1.7159 * (2 / 3) / np.cosh(2 * z / 3) ** 2,
    }[name]()
    return np.diag(derivative)


def loss_and_gradient(name: str, reduction: str, a: np.ndarray, y: np.ndarray):
    """One example's loss and dL/da."""
    k = len(a)
    if name == "mse":
        scale = {"mean": 1 / k, "sum": 1.0, "half_sum": 0.5}[reduction]
        return scale * np.sum((a - y) ** 2), 2 * scale * (a - y)
    if name == "binary_crossentropy":
        value = -np.mean(y * np.log(a) + (1 - y) * np.log(1 - a))
        return value, (-(y / a) + (1 - y) / (1 - a)) / k
    return -np.sum(y * np.log(a)), -y / a


#: An activation the reference does not know, as (f(z), f'(z)), both from z.
Custom = dict[str, tuple[Callable[[np.ndarray], np.ndarray], Callable[[np.ndarray], np.ndarray]]]


def reference_step(raw: dict, W: list, b: list, custom: Custom | None = None) -> dict:
    """Forward, loss, backward and mean gradients of one step of the spec ``raw``; ``custom``
    adds activations by name."""
    custom = custom or {}
    x_all = np.atleast_2d(np.array(raw["input"], dtype=float))
    y_all = np.atleast_2d(np.array(raw["target"], dtype=float))
    loss_spec = raw["loss"] if isinstance(raw["loss"], dict) else {"name": raw["loss"]}
    name, reduction = loss_spec["name"], loss_spec.get("reduction", "mean")
    acts = []
    for layer in raw["layers"]:
        spec = layer["activation"]
        acts.append((spec, 0.01) if isinstance(spec, str) else (spec["name"], spec["slope"]))
    result = defaultdict(list)
    for x, y in zip(x_all, y_all, strict=True):
        zs, as_ = [], []
        a = x
        for (act, slope), Wl, bl in zip(acts, W, b, strict=True):
            z = Wl @ a + bl
            a = custom[act][0](z) if act in custom else activation(act, z, slope)
            zs.append(z)
            as_.append(a)
        value, dL_da = loss_and_gradient(name, reduction, as_[-1], y)
        deltas = [None] * len(W)
        upstream = dL_da
        dL_das = [None] * len(W)
        locals_ = [None] * len(W)
        for i in reversed(range(len(W))):
            act, slope = acts[i]
            J = (
                np.diag(custom[act][1](zs[i]))
                if act in custom
                else jacobian(act, zs[i], as_[i], slope)
            )
            dL_das[i], locals_[i] = upstream, J
            deltas[i] = J.T @ upstream
            upstream = W[i].T @ deltas[i]
        inputs = [x, *as_[:-1]]
        result["z"].append(zs)
        result["a"].append(as_)
        result["loss"].append(value)
        result["delta"].append(deltas)
        result["dL_da"].append(dL_das)
        result["local"].append(locals_)
        result["dW"].append([np.outer(d, a_in) for d, a_in in zip(deltas, inputs, strict=True)])
        result["db"].append(deltas)
    m = len(x_all)
    result["mean_loss"] = float(np.mean(result["loss"]))
    result["mean_dW"] = [sum(e[i] for e in result["dW"]) / m for i in range(len(W))]
    result["mean_db"] = [sum(e[i] for e in result["db"]) / m for i in range(len(W))]
    return result


def load_raw(path: Path) -> dict:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def initial_parameters(raw: dict) -> tuple[list, list]:
    W = [np.array(layer["W"], dtype=float) for layer in raw["layers"]]
    b = [np.array(layer.get("b", [0.0] * len(layer["W"])), dtype=float) for layer in raw["layers"]]
    return W, b


# -- reading the printed numbers ---------------------------------------------------------------
def printed_values(text: str) -> dict[str, list[str]]:
    """lhs -> the final value of each equation printed for it, in order of appearance."""
    merged: list[str] = []
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("= ") and merged:
            merged[-1] += " " + stripped
        else:
            merged.append(stripped)
    values: dict[str, list[str]] = defaultdict(list)
    for line in merged:
        cuts = [i for i in (line.find(" = "), line.find(" ← ")) if i > 0]
        if not cuts or (" " in line[: min(cuts)].strip() and not line.startswith("path ")):
            continue
        lhs = line[: min(cuts)].strip()
        value = line.rsplit(" = ", 1)[1].strip()
        if re.fullmatch(r"-?\d+(\.\d+)?(e[-+]\d+)?", value):  # a formula line has no value
            values[lhs].append(value)
    return values


def shown(value: float, digits: int = 4) -> str:
    text = f"{value:.{digits}g}"
    return "0" if text == "-0" else text


def assert_printed(values: dict, lhs: str, expected: float, digits: int = 4, occurrence: int = 0):
    assert lhs in values, f"{lhs} not printed"
    assert values[lhs][occurrence] == shown(expected, digits), (lhs, values[lhs], expected)


def assert_update_printed(values: dict, lhs: str, new: float, old: float, occurrence: int = 0):
    """An updated value: printed close enough that its change from ``old`` is readable."""
    text = values[lhs][occurrence]
    assert abs(float(text) - new) <= 1e-3 * abs(new - old) + 1e-15, (lhs, text, new, old)


def momentum_steps(raw: dict, steps: int) -> list[dict]:
    W, b = initial_parameters(raw)
    lr, mu = raw["optimizer"]["learning_rate"], raw["optimizer"]["momentum"]
    vW = [np.zeros_like(w) for w in W]
    vb = [np.zeros_like(v) for v in b]
    refs = []
    for _ in range(steps):
        ref = reference_step(raw, W, b)
        refs.append(ref)
        for i in range(len(W)):
            vW[i] = mu * vW[i] + ref["mean_dW"][i]
            vb[i] = mu * vb[i] + ref["mean_db"][i]
            W[i] = W[i] - lr * vW[i]
            b[i] = b[i] - lr * vb[i]
        ref["W_new"], ref["b_new"] = [w.copy() for w in W], [v.copy() for v in b]
    return refs


# -- convolutional specs, in loops ------------------------------------------------------------
def correlate(x: np.ndarray, W: np.ndarray, b: np.ndarray, stride: int, pad: int) -> np.ndarray:
    """z[o,i,j] = Σ_{c,p,q} xp[c, s·i+p, s·j+q] W[o,c,p,q] + b[o], by loops."""
    xp = np.pad(x, ((0, 0), (pad, pad), (pad, pad)))
    filters, C, kh, kw = W.shape
    Ho, Wo = (xp.shape[1] - kh) // stride + 1, (xp.shape[2] - kw) // stride + 1
    z = np.zeros((filters, Ho, Wo))
    for o in range(filters):
        for i in range(Ho):
            for j in range(Wo):
                total = b[o]
                for c in range(C):
                    for p in range(kh):
                        for q in range(kw):
                            total += xp[c, stride * i + p, stride * j + q] * W[o, c, p, q]
                z[o, i, j] = total
    return z


def reference_loss(raw: dict, x: np.ndarray, W1: np.ndarray, b1: np.ndarray) -> float:
    """The spec's loss through conv -> activation -> pool -> flatten -> dense -> loss."""
    conv = raw["layers"][0]
    z1 = correlate(x, W1, b1, conv["stride"], conv["padding"])
    a1 = {"relu": lambda z: np.maximum(z, 0), "tanh": np.tanh}[conv["activation"]](z1)
    pool = raw["layers"][1]
    size, stride = pool["pool_size"], pool.get("stride", pool["pool_size"])
    Ho = (a1.shape[1] - size) // stride + 1
    a2 = np.zeros((a1.shape[0], Ho, Ho))
    for c, i, j in np.ndindex(*a2.shape):
        window = a1[c, stride * i : stride * i + size, stride * j : stride * j + size]
        a2[c, i, j] = window.max() if pool["type"] == "max_pool2d" else window.mean()
    dense = raw["layers"][3]
    z4 = np.array(dense["W"]) @ a2.ravel() + np.array(dense["b"])
    y = np.array(raw["target"], dtype=float)
    if dense["activation"] == "softmax":
        e = np.exp(z4 - z4.max())
        return float(-np.sum(y * np.log(e / e.sum())))
    return float(np.mean((z4 - y) ** 2))


def full_convolution(delta: np.ndarray, W: np.ndarray, stride: int, pad: int) -> np.ndarray:
    """dL/dx by the textbook recipe: dilate δ by the stride, pad it by k - 1, slide the
    kernel flipped in both axes (and its channels swapped) over it, crop the padding."""
    filters, C, kh, kw = W.shape
    dilated = np.zeros(
        (filters, stride * (delta.shape[1] - 1) + 1, stride * (delta.shape[2] - 1) + 1)
    )
    dilated[:, ::stride, ::stride] = delta
    flipped = W[:, :, ::-1, ::-1].transpose(1, 0, 2, 3)  # (C, O, kh, kw)
    spread = np.pad(dilated, ((0, 0), (kh - 1, kh - 1), (kw - 1, kw - 1)))
    full = correlate(spread, flipped, np.zeros(C), 1, 0)
    return full[:, pad : full.shape[1] - pad, pad : full.shape[2] - pad]
