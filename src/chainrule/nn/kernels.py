"""Compiled kernels for elementwise hot spots, each equal to the NumPy code it stands in for.

NumPy runs one ufunc at a time, so an update of four buffers in ten ufuncs streams them
through memory ten times, and each call costs its overhead. A kernel (compiled by Numba) does
the same arithmetic in one pass. One is used only where ``benchmarks/speed.py`` (and a
measurement of the pass itself) shows that it wins, and always beside its reference:

- the reference is the readable NumPy code, which stays where it was, in the layer's or the
  optimizer's own method (``Adam._update``, ``ReLU.backward``): it documents the computation
  and it is what runs without Numba. The method calls the kernel only when ``enabled()``;
- each kernel does the reference's operations on each entry in the reference's order, with
  scalars of the arrays' dtype (so nothing is promoted to float64) and without ``fastmath``
  (no fused multiply-adds, no reordering), so the two agree to the last bit, NaNs and signed
  zeros included, in float32 and in float64 (``tests/nn/test_kernels.py`` holds them to it);
- every kernel is compiled on first use and cached on disk (``cache=True``), in Numba's
  cache beside this file or, where that is not writable, in the user's cache directory
  (``$NUMBA_CACHE_DIR`` chooses another): a later process loads it in milliseconds instead
  of compiling it (about 2 s for Adam's).

Numba is optional (``pip install 'chainrule[fast]'``): without it chainrule computes the same
numbers with the references, only slower. It is not a dependency because it lags new Python
releases by months and brings LLVM (~150 MB), too much to impose on a class that installs the
package to read the math; it is not even imported until a kernel first runs (importing it
takes ~0.6 s, which a CLI command that trains nothing should not pay). ``CHAINRULE_KERNELS=
numpy`` in the environment, or ``use_kernels(False)``, forces the NumPy path with Numba
installed (to compare the two, or to rule the kernels out).

===================  =========================================  ===========================
kernel               replaces                                   measured (2-core machine)
===================  =========================================  ===========================
``adam_update``      Adam's (and AdamW's) ten whole-buffer      180 µs -> 42 µs a step for
                     ufuncs, one pass over θ, g, M, V           109,386 parameters, 1 thread
``relu_backward``    the mask and the product, two passes       0.81 -> 0.49 ms for 1 M values
                                                                (from 8,192 values on)
===================  =========================================  ===========================

Tried and left out, because they lost to NumPy: a max-pooling forward (NumPy's four passes
over contiguous window planes vectorise; the kernel's strided window reads did not: 12 ms
against 8 ms for cnn-lenet's first pooling at batch 64) and its backward (no faster). A plain
loop for Adam, without ``prange``, does not vectorise either (the buffers might alias): 250 µs.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

#: Set to ``numpy`` (or ``off``/``0``) to run the NumPy references even with Numba installed.
ENVIRONMENT_VARIABLE = "CHAINRULE_KERNELS"
# Numba is imported at the first kernel call, not with chainrule: importing it takes ~0.6 s,
# which a CLI command that trains nothing should not pay.
_NUMBA_FOUND = importlib.util.find_spec("numba") is not None
_state = {
    "enabled": _NUMBA_FOUND
    and os.environ.get(ENVIRONMENT_VARIABLE, "").strip().lower() not in ("numpy", "off", "0")
}
_kernels: dict[str, Callable[..., Any]] = {}
prange = range  # numba.prange once Numba compiles a kernel (a plain range to Python)


def available() -> bool:
    """Whether Numba is installed, so that kernels can run at all."""
    return _NUMBA_FOUND


def enabled() -> bool:
    """Whether the compiled kernels run (Numba installed, and not switched off)."""
    return _state["enabled"]


@contextlib.contextmanager
def use_kernels(on: bool) -> Iterator[None]:
    """Within the block, run the compiled kernels (``on``) or the NumPy references.

    Asking for kernels without Numba is an error that says how to get it.
    """
    if on and not _NUMBA_FOUND:
        raise RuntimeError("compiled kernels need Numba: pip install 'chainrule[fast]'")
    previous = _state["enabled"]
    _state["enabled"] = bool(on)
    try:
        yield
    finally:
        _state["enabled"] = previous


#: Entries below which an elementwise kernel does not pay: calling one costs a few µs,
#: what NumPy's passes over 8,192 values take (ReLU's backward, measured: 3.9 µs against
#: 3.5 µs at 4,096 values, 6.1 against 7.8 µs at 16,384).
MIN_SIZE = 8192


def fits(*arrays: np.ndarray) -> bool:
    """Whether ``arrays`` should go to an elementwise kernel together: at least ``MIN_SIZE``
    entries, one shape, one floating dtype, C-contiguous (else: the NumPy path)."""
    first = arrays[0]
    return (
        first.size >= MIN_SIZE
        and first.dtype.kind == "f"
        and all(
            array.shape == first.shape and array.dtype == first.dtype and array.flags.c_contiguous
            for array in arrays
        )
    )


def _one_thread() -> None:
    """Run parallel kernels on the calling thread alone (Numba keeps the count per thread).

    ``prange`` is there for the code it compiles (on one thread it vectorises, where a plain
    loop over four buffers that might alias does not: 42 against 250 µs for Adam), not for
    more threads: Numba's OpenMP threads wait for cores by spinning, and beside a BLAS that
    uses the same cores, or on a machine other work shares, every parallel region waits for
    its slowest thread (measured at batch 256 with a two-thread BLAS: 2.0 s an epoch with a
    two-thread Adam, 0.37 s with one, 0.46 s with NumPy's passes).
    """
    import numba

    if numba.get_num_threads() != 1:
        numba.set_num_threads(1)


def _kernel(function: Callable[..., Any], parallel: bool = False) -> Callable[..., Any]:
    """``function`` compiled and cached on disk, on first use; without a writable cache
    directory anywhere, compiled once per process instead.

    ``parallel``: its ``prange`` loop is compiled as a parallel loop (and run on one thread,
    ``_one_thread``). Otherwise it runs in the calling thread without the GIL, so that
    ``DataParallel``'s threads run it at once.
    """
    name = function.__name__
    if name not in _kernels:
        import numba

        globals()["prange"] = numba.prange
        options = {"parallel": True} if parallel else {"nogil": True}
        try:
            _kernels[name] = numba.njit(cache=True, **options)(function)
        except RuntimeError:  # pragma: no cover - no writable cache directory
            _kernels[name] = numba.njit(**options)(function)
    return _kernels[name]


def warm_up(dtypes: tuple[type, ...] = (np.float32, np.float64)) -> None:
    """Load every kernel now for each of ``dtypes`` (from the disk cache, or compiled on a
    first run: ~2 s), so that a server's first request does not pay for it; nothing to do
    when the kernels are off. Training uses float32, explain and gradcheck float64."""
    if not enabled():
        return
    for dtype in dtypes:
        one = np.ones(1, dtype)
        # alpha 0: the update leaves its (scratch) buffers' parameters as they are
        adam_update(one.copy(), one.copy(), one.copy(), one.copy(), 0.9, 0.999, 0.0, 1e-8)
        _kernel(_relu_backward_kernel)(one, one, np.empty_like(one), dtype(1), dtype(0))


# -- Adam ------------------------------------------------------------------------------------
def _adam_kernel(params, grads, big_m, big_v, beta1, beta2, alpha, epsilon):
    # Adam._update's ten passes entry by entry, in their order: one pass over four buffers.
    for i in prange(params.shape[0]):
        g = grads[i]
        m = beta1 * big_m[i] + g
        v = beta2 * big_v[i] + g * g
        big_m[i] = m
        big_v[i] = v
        params[i] -= alpha * (m / (np.sqrt(v) + epsilon))


def adam_update(
    params: np.ndarray,
    grads: np.ndarray,
    big_m: np.ndarray,
    big_v: np.ndarray,
    beta1: float,
    beta2: float,
    alpha: float,
    epsilon: float,
) -> None:
    """``chainrule.nn.optim.Adam``'s folded update, in place, in one pass over flat buffers
    of one dtype (the scalars are cast to it, as NumPy casts a Python float):

        M ← β₁ M + g,   V ← β₂ V + g²,   θ ← θ - α · M / (√V + ε)

    (``epsilon`` is Adam's ε/s and ``alpha`` its α, the bias corrections folded in).
    """
    real = params.dtype.type
    kernel = _kernel(_adam_kernel, parallel=True)
    _one_thread()
    kernel(params, grads, big_m, big_v, real(beta1), real(beta2), real(alpha), real(epsilon))


# -- ReLU --------------------------------------------------------------------------------------
def _relu_backward_kernel(a, dout, delta, one, zero):
    # ReLU.backward's mask-then-multiply, entry by entry: δ = [a > 0] · dout.
    for i in range(a.shape[0]):
        delta[i] = (one if a[i] > 0 else zero) * dout[i]


def relu_backward(a: np.ndarray, dout: np.ndarray) -> np.ndarray:
    """δ = dout ⊙ [a > 0] (``chainrule.nn.layers.activations.ReLU.backward``) in one pass;
    ``a`` and ``dout`` of one shape and dtype, C-contiguous."""
    delta = np.empty_like(dout)
    real = dout.dtype.type
    _kernel(_relu_backward_kernel)(a.ravel(), dout.ravel(), delta.ravel(), real(1), real(0))
    return delta
