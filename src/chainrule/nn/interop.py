"""PyTorch interoperability: the same network, the same weights, the same numbers.

PyTorch is never a dependency of chainrule; this module imports it only when called. It is
how the project proves two things:

* a chainrule model file loads into a PyTorch ``nn.Sequential`` (through safetensors: the
  tensors are read with ``safetensors.torch``, never unpickled) and predicts the same
  classes;
* trained from the same initial weights on the same batches in the same order, the two
  follow the same losses and parameters (``compare_training``): the optimizers here use
  PyTorch's exact update formulas (see ``chainrule.nn.optim``).

Layout: chainrule's Dense stores W as (fan_in, fan_out) and computes x @ W + b; PyTorch's
``nn.Linear`` stores weight as (fan_out, fan_in) and computes x @ weight.T + bias, so the
weight is transposed on the way over. Conv2D's W is (out, in, kh, kw) like ``nn.Conv2d``'s
weight, and images are (N, C, H, W) in both, so convolutions copy over unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from chainrule.nn.layers import (
    AvgPool2D,
    BatchNorm,
    Conv2D,
    Dense,
    Dropout,
    Flatten,
    Identity,
    ImprovedSigmoid,
    LeakyReLU,
    MaxPool2D,
    ReLU,
    Sigmoid,
    Softmax,
    Tanh,
)
from chainrule.nn.model import Sequential
from chainrule.nn.optim import (
    SGD,
    AdaGrad,
    Adam,
    AdamW,
    Momentum,
    Nesterov,
    Optimizer,
    RMSProp,
)


def _torch():
    try:
        import torch
    except ImportError:  # pragma: no cover - depends on the machine
        raise ImportError(
            "PyTorch is needed for this (it is not a chainrule dependency): "
            "pip install torch==2.13.0"
        ) from None
    return torch


class _ImprovedSigmoid:
    """1.7159 tanh(2x/3) as a torch module (built lazily so torch stays optional)."""

    @staticmethod
    def build():
        torch = _torch()

        class ImprovedSigmoidModule(torch.nn.Module):
            def forward(self, x):
                return ImprovedSigmoid.A * torch.tanh(ImprovedSigmoid.B * x)

        return ImprovedSigmoidModule()


def to_torch(model: Sequential, include_output_activation: bool = True) -> Any:
    """An ``nn.Sequential`` equal to ``model``, holding copies of its weights.

    ``include_output_activation=False`` leaves out a final Softmax/Sigmoid, giving the
    logits that PyTorch's ``CrossEntropyLoss``/``BCEWithLogitsLoss`` expect.
    """
    torch = _torch()
    dtype = torch.float64 if model.dtype == np.float64 else torch.float32
    modules = []
    layers = model.layers
    if not include_output_activation and isinstance(layers[-1], Softmax | Sigmoid):
        layers = layers[:-1]
    for layer in layers:
        if isinstance(layer, Dense):
            linear = torch.nn.Linear(layer.W.shape[0], layer.W.shape[1], bias=layer.use_bias)
            linear = linear.to(dtype)
            with torch.no_grad():
                linear.weight.copy_(torch.from_numpy(np.ascontiguousarray(layer.W.T)))
                if layer.use_bias:
                    linear.bias.copy_(torch.from_numpy(np.array(layer.b)))
            modules.append(linear)
        elif isinstance(layer, ReLU):
            modules.append(torch.nn.ReLU())
        elif isinstance(layer, LeakyReLU):
            modules.append(torch.nn.LeakyReLU(layer.slope))
        elif isinstance(layer, Sigmoid):
            modules.append(torch.nn.Sigmoid())
        elif isinstance(layer, Tanh):
            modules.append(torch.nn.Tanh())
        elif isinstance(layer, ImprovedSigmoid):
            modules.append(_ImprovedSigmoid.build())
        elif isinstance(layer, Softmax):
            modules.append(torch.nn.Softmax(dim=-1))
        elif isinstance(layer, Identity):
            modules.append(torch.nn.Identity())
        elif isinstance(layer, Dropout):
            modules.append(torch.nn.Dropout(layer.rate))
        elif isinstance(layer, Flatten):
            modules.append(torch.nn.Flatten())
        elif isinstance(layer, Conv2D):
            modules.extend(_torch_conv2d(torch, layer, dtype))
        elif isinstance(layer, MaxPool2D):
            modules.append(torch.nn.MaxPool2d(layer.pool_size, layer.stride))
        elif isinstance(layer, AvgPool2D):
            modules.append(torch.nn.AvgPool2d(layer.pool_size, layer.stride))
        elif isinstance(layer, BatchNorm):
            modules.append(_torch_batch_norm(torch, layer, dtype))
        else:
            raise ValueError(f"no PyTorch equivalent for layer {layer.name!r} ({layer.type_name})")
    return torch.nn.Sequential(*modules)


def _torch_conv2d(torch: Any, layer: Conv2D, dtype: Any) -> list[Any]:
    """``nn.Conv2d`` with the same weights (both store W as (out, in, kh, kw)).

    Asymmetric padding ("same" with an even kernel or a stride above 1) becomes an
    ``nn.ZeroPad2d`` in front of an unpadded convolution.
    """
    (top, bottom), (left, right) = layer.pads
    symmetric = top == bottom and left == right
    conv = torch.nn.Conv2d(
        layer.input_shape[0],
        layer.filters,
        layer.kernel_size,
        stride=layer.stride,
        padding=(top, left) if symmetric else 0,
        bias=layer.use_bias,
    ).to(dtype)
    with torch.no_grad():
        conv.weight.copy_(torch.from_numpy(np.array(layer.W)))
        if layer.use_bias:
            conv.bias.copy_(torch.from_numpy(np.array(layer.b)))
    if symmetric:
        return [conv]
    return [torch.nn.ZeroPad2d((left, right, top, bottom)), conv]


def _torch_batch_norm(torch: Any, layer: BatchNorm, dtype: Any) -> Any:
    """``nn.BatchNorm1d``/``2d`` with the same γ, β, running statistics, momentum and ε."""
    kind = torch.nn.BatchNorm1d if len(layer.input_shape) == 1 else torch.nn.BatchNorm2d
    norm = kind(layer.features, eps=layer.epsilon, momentum=layer.momentum).to(dtype)
    with torch.no_grad():
        norm.weight.copy_(torch.from_numpy(np.array(layer.gamma)))
        norm.bias.copy_(torch.from_numpy(np.array(layer.beta)))
        norm.running_mean.copy_(torch.from_numpy(np.array(layer.running_mean)))
        norm.running_var.copy_(torch.from_numpy(np.array(layer.running_var)))
    return norm


def load_torch(path: str | Path, include_output_activation: bool = True) -> Any:
    """A chainrule model file as an ``nn.Sequential``: architecture from the JSON metadata,
    tensors read with ``safetensors.torch`` (no pickle, no code executed)."""
    from safetensors.torch import load_file

    from chainrule.nn.model_file import read_metadata

    _torch()
    model = Sequential.from_config(read_metadata(path)["model"])
    tensors = {name: tensor.numpy() for name, tensor in load_file(str(path)).items()}
    # The tensors go into the rebuilt chainrule model first — parameters, and layer state
    # such as BatchNorm's running statistics — so that to_torch copies the stored weights
    # whatever the layer type (Dense, Conv2D, BatchNorm).
    for name in model.params:
        model.params[name] = tensors[name]
    model.set_layer_states({name: tensors[name] for name in model.layer_states()})
    return to_torch(model, include_output_activation)


def torch_optimizer(optimizer: Optimizer, parameters: Any) -> Any:
    """The ``torch.optim`` optimizer with the same update formula and hyperparameters."""
    torch = _torch()
    lr = optimizer.learning_rate
    if isinstance(optimizer, Nesterov):
        return torch.optim.SGD(parameters, lr=lr, momentum=optimizer.momentum, nesterov=True)
    if isinstance(optimizer, Momentum):
        return torch.optim.SGD(parameters, lr=lr, momentum=optimizer.momentum)
    if isinstance(optimizer, SGD):
        return torch.optim.SGD(parameters, lr=lr)
    if isinstance(optimizer, AdaGrad):
        return torch.optim.Adagrad(parameters, lr=lr, eps=optimizer.epsilon)
    if isinstance(optimizer, RMSProp):
        return torch.optim.RMSprop(parameters, lr=lr, alpha=optimizer.rho, eps=optimizer.epsilon)
    betas = (optimizer.beta1, optimizer.beta2) if isinstance(optimizer, Adam) else None
    if isinstance(optimizer, AdamW):
        return torch.optim.AdamW(
            parameters, lr=lr, betas=betas, eps=optimizer.epsilon,
            weight_decay=optimizer.weight_decay,
        )  # fmt: skip
    if isinstance(optimizer, Adam):
        return torch.optim.Adam(parameters, lr=lr, betas=betas, eps=optimizer.epsilon)
    raise ValueError(f"no torch.optim equivalent for {optimizer!r}")


@dataclass(frozen=True)
class ParityResult:
    """Per-step losses of both, and the largest relative parameter difference at the end."""

    chainrule_losses: list[float]
    torch_losses: list[float]
    max_loss_error: float
    max_param_error: float


def compare_training(
    model: Sequential,
    optimizer: Optimizer,
    x: np.ndarray,
    y: np.ndarray,
    batch_size: int = 32,
    steps: int = 20,
    seed: int = 0,
) -> ParityResult:
    """Train ``model`` here and its PyTorch twin on identical batches; compare.

    The model must end in Softmax with categorical cross-entropy (PyTorch's
    ``CrossEntropyLoss`` on the logits), and have no dropout (their masks cannot match).
    """
    torch = _torch()
    if not (isinstance(model.layers[-1], Softmax) and model._fused_loss is not None):
        raise ValueError("compare_training needs a Softmax output with categorical cross-entropy")
    if any(isinstance(layer, Dropout) for layer in model.layers):
        raise ValueError("compare_training needs a model without dropout")
    network = to_torch(model, include_output_activation=False)
    torch_opt = torch_optimizer(optimizer, network.parameters())
    criterion = torch.nn.CrossEntropyLoss()
    order = np.random.default_rng(seed).integers(0, len(x), size=(steps, batch_size))
    ours, theirs = [], []
    for index in order:
        xb, yb = x[index], y[index]
        output = model.forward(xb, training=True)
        ours.append(model.compute_loss(output, yb).total)
        model.backward(yb)
        optimizer.step(model.params.data, model.params.grad_data)

        torch_opt.zero_grad()
        loss = criterion(network(torch.from_numpy(xb)), torch.from_numpy(yb.astype(np.int64)))
        loss.backward()
        torch_opt.step()
        theirs.append(float(loss.detach()))
    loss_error = max(abs(a - b) / max(abs(b), 1e-300) for a, b in zip(ours, theirs, strict=True))
    dense_layers = [layer for layer in model.layers if isinstance(layer, Dense)]
    linears = [module for module in network if isinstance(module, torch.nn.Linear)]
    param_error = 0.0
    for layer, linear in zip(dense_layers, linears, strict=True):
        pairs = [(layer.W, linear.weight.detach().numpy().T)]
        if layer.use_bias:
            pairs.append((layer.b, linear.bias.detach().numpy()))
        for mine, torch_value in pairs:
            scale = max(np.max(np.abs(torch_value)), 1e-300)
            param_error = max(param_error, float(np.max(np.abs(mine - torch_value)) / scale))
    return ParityResult(ours, theirs, loss_error, param_error)
