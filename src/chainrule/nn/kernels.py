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

=========================  ======================================  ==========================
kernel                     replaces                                measured (one thread)
=========================  ======================================  ==========================
``adam_update``            Adam's (and AdamW's) ten whole-buffer   180 µs -> 42 µs a step,
                           ufuncs: one pass over θ, g, M, V        109,386 parameters
``flush_subnormals``       the optimizers' flush of subnormal      430 µs -> 18 µs a buffer
                           state every 16 steps: two passes and    of 109,386
                           a masked write
``relu_backward``          the mask and the product, two passes    0.81 -> 0.49 ms for 1 M
                                                                   values (from 8,192 on)
``max_pool_2x2``           MaxPool2D's forward for 2x2 windows     1.2-1.6 -> 0.7-0.9 ms,
                           moved by 2: a copy of every window      cnn-lenet's first pooling
                           and twelve passes                       of 32 images
``max_pool_2x2_backward``  its backward: four masked products      1.2-1.3 -> 0.47 ms, same
``im2col``                 Conv2D's im2col for stride 1: NumPy's   0.85 -> 0.43 ms, cnn-lenet's
                           copy of a strided view of windows       second conv, 32 images
``col2im``                 Conv2D's col2im: a zeroed buffer, one   2.7 -> 2.3 ms for the whole
                           strided add per kernel offset, a crop   input gradient of
                           and a transpose                         cnn-lenet's second conv
=========================  ======================================  ==========================

A pooling kernel runs the loop over a row's windows as selects rather than branches, and the
backward walks along the rows of dx: both vectorise, where a loop with branches over windows
read in strides lost to NumPy (12 ms against 8 ms for the first pooling at batch 64, an
earlier try). im2col is a kernel for stride 1 only: with the stride a run-time number its
reads are a gather, and the kernel took 2.3 ms against NumPy's 1.2. A plain loop for Adam,
without ``prange``, does not vectorise (the buffers might alias): 250 µs. Two threads for a
kernel lost everywhere here (an MLP step at batch 32: no faster with a two-thread Adam, and
far slower with OpenMP's threads left spinning). Softmax and the cross-entropy stay in NumPy:
their exp and log are NumPy's own SIMD functions, which a compiled kernel would not reproduce
to the last bit.
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


#: The dtypes the kernels are compiled for (Numba has no float16 arithmetic): any other
#: array takes the NumPy path.
DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def fits(*arrays: np.ndarray) -> bool:
    """Whether ``arrays`` should go to an elementwise kernel together: at least ``MIN_SIZE``
    entries, one shape, float32 or float64 alike, C-contiguous (else: the NumPy path)."""
    first = arrays[0]
    return (
        first.size >= MIN_SIZE
        and first.dtype in DTYPES
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


def warm_up(
    dtypes: tuple[type, ...] = (np.float32, np.float64), names: tuple[str, ...] | None = None
) -> None:
    """Load the kernels ``names`` (default: every one) now for each of ``dtypes``, from the
    disk cache or compiled on a first run (~0.5 s each), so that a server's first request,
    or a training run's first epoch, does not pay for it; nothing to do when the kernels are
    off, and next to nothing once they are loaded. Training uses float32, explain and
    gradcheck float64. The first kernel of a process also pays Numba's own start, ~0.3 s."""
    if not enabled():
        return
    for dtype in (np.dtype(dtype).type for dtype in dtypes):
        for name in KERNEL_NAMES if names is None else names:
            _WARMERS[name](dtype)


def _warm_pooling(dtype: type) -> None:
    image = np.ones((1, 1, 2, 2), dtype)
    a, argmax = max_pool_2x2(image)
    max_pool_2x2_backward(a, argmax, image)


# Each kernel called once on tiny arrays of a dtype (which compiles or loads it for that
# dtype); Adam's with alpha 0, so that its scratch parameters stay as they are.
_WARMERS: dict[str, Callable[[type], None]] = {
    "adam_update": lambda dtype: adam_update(
        *(np.ones(1, dtype) for _ in range(4)), 0.9, 0.999, 0.0, 1e-8
    ),
    "flush_subnormals": lambda dtype: flush_subnormals(np.ones(1, dtype)),
    "relu_backward": lambda dtype: relu_backward(np.ones(1, dtype), np.ones(1, dtype)),
    "max_pool_2x2": _warm_pooling,
    "col2im": lambda dtype: col2im(np.ones((1,) * 6, dtype), (1, 1, 1, 1), (0, 0), (1, 1)),
    "im2col": lambda dtype: im2col(
        np.ones((1, 1, 2, 2), dtype), np.empty((1, 1, 4), dtype), (1, 1)
    ),
}
#: The kernels by name, as ``warm_up`` takes them (``max_pool_2x2`` loads its backward too).
KERNEL_NAMES = tuple(_WARMERS)


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


# -- the optimizers' subnormal flush ----------------------------------------------------------
def _flush_kernel(state, tiny, zero):
    # Optimizer._flush_subnormals, entry by entry: |s| < tiny -> +0 (NaN compares false: kept).
    for i in prange(state.shape[0]):
        if abs(state[i]) < tiny:
            state[i] = zero


def flush_subnormals(state: np.ndarray) -> None:
    """Set the entries of the flat buffer ``state`` below the dtype's smallest normal number
    in magnitude to +0, in place, in one pass (``Optimizer._flush_subnormals``' mask and
    write). Like Adam's kernel it is compiled with ``prange`` and runs on one thread."""
    real = state.dtype.type
    kernel = _kernel(_flush_kernel, parallel=True)
    _one_thread()
    kernel(state, real(np.finfo(state.dtype).tiny), real(0))


# -- max pooling, 2x2 windows moved by 2 ---------------------------------------------------------
def _max_pool_2x2_kernel(x, a, argmax):
    # MaxPool2D.forward's passes for a 2x2 window, entry by entry, in row-major order:
    # best = np.maximum(best, v), which gives v when v >= best (on a tie too, so +0 vs -0
    # comes out as NumPy's), or when v is NaN, and keeps a NaN best; a v strictly greater
    # moves the argmax. Written as selects, not branches, so that the loop over j vectorises.
    batch, channels, out_height, out_width = a.shape
    for n in range(batch):
        for c in range(channels):
            for i in range(out_height):
                top, bottom = x[n, c, 2 * i], x[n, c, 2 * i + 1]
                out, index = a[n, c, i], argmax[n, c, i]
                for j in range(out_width):
                    best = top[2 * j]
                    k = np.int8(0)
                    v = top[2 * j + 1]
                    k = np.int8(1) if v > best else k
                    best = v if ((v >= best) | (v != v)) & (best == best) else best
                    v = bottom[2 * j]
                    k = np.int8(2) if v > best else k
                    best = v if ((v >= best) | (v != v)) & (best == best) else best
                    v = bottom[2 * j + 1]
                    k = np.int8(3) if v > best else k
                    best = v if ((v >= best) | (v != v)) & (best == best) else best
                    out[j] = best
                    index[j] = k


def _max_pool_2x2_backward_kernel(dout, argmax, dx, one, zero):
    # MaxPool2D.backward's routing for a 2x2 window moved by 2: each offset gets dout times
    # its mask [argmax == offset] as 1.0 or 0.0 (so 0·inf and 0·NaN are NaN there too).
    # The loop runs along dx's rows (column jj of window j = jj // 2), so that its stores are
    # contiguous and vectorise: 3x faster than a loop over windows writing pairs.
    batch, channels, out_height, out_width = dout.shape
    for n in range(batch):
        for c in range(channels):
            for i in range(out_height):
                d, index = dout[n, c, i], argmax[n, c, i]
                top, bottom = dx[n, c, 2 * i], dx[n, c, 2 * i + 1]
                for jj in range(2 * out_width):
                    j, q = jj >> 1, jj & 1
                    k, g = index[j], d[j]
                    top[jj] = g * (one if k == q else zero)
                    bottom[jj] = g * (one if k == 2 + q else zero)


def images_fit(array: np.ndarray) -> bool:
    """Whether a pooling or im2col kernel takes ``array``: a C-contiguous float32 or float64
    (N, C, H, W) batch."""
    return array.ndim == 4 and array.dtype in DTYPES and array.flags.c_contiguous


def max_pool_2x2(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``MaxPool2D``'s forward for 2x2 windows moved by 2, in one pass over ``x`` (N, C, H, W):
    (the maxima (N, C, H // 2, W // 2), each window's argmax offset 2p + q as int8), ties
    to the first maximum in row-major order and NaN propagated, as the reference does."""
    shape = (*x.shape[:2], x.shape[2] // 2, x.shape[3] // 2)
    a, argmax = np.empty(shape, x.dtype), np.empty(shape, np.int8)
    _kernel(_max_pool_2x2_kernel)(x, a, argmax)
    return a, argmax


def max_pool_2x2_backward(dout: np.ndarray, argmax: np.ndarray, dx: np.ndarray) -> None:
    """``MaxPool2D``'s backward for 2x2 windows moved by 2: writes every position of ``dx``
    that a window covers (rows and columns none covers are left as they are)."""
    real = dout.dtype.type
    _kernel(_max_pool_2x2_backward_kernel)(dout, argmax, dx, real(1), real(0))


# -- im2col and col2im --------------------------------------------------------------------------
def _im2col_kernel(xp, cols, kh, kw, out_height, out_width):
    # Conv2D._im2col's copy for stride 1: row (c, p, q) of image n's columns holds
    # xp[n, c, i + p, j + q] at column i·Wo + j, copied an output row (Wo numbers) at a time.
    batch, channels = xp.shape[0], xp.shape[1]
    for n in range(batch):
        for c in range(channels):
            for p in range(kh):
                for q in range(kw):
                    target = cols[n, (c * kh + p) * kw + q]
                    for i in range(out_height):
                        source = xp[n, c, i + p, q : q + out_width]
                        row = target[i * out_width : (i + 1) * out_width]
                        for j in range(out_width):
                            row[j] = source[j]


def im2col(xp: np.ndarray, cols: np.ndarray, kernel: tuple[int, int]) -> None:
    """``Conv2D``'s im2col for stride 1: fills the first C·kh·kw rows of ``cols`` (N, rows,
    Ho·Wo) with the receptive fields of the padded input ``xp`` (N, C, Hp, Wp), in one pass
    (NumPy's copy of the strided window view runs over runs of Wo numbers: 2x slower)."""
    kh, kw = kernel
    out_height, out_width = xp.shape[2] - kh + 1, xp.shape[3] - kw + 1
    _kernel(_im2col_kernel)(xp, cols, kh, kw, out_height, out_width)


def _col2im_kernel(dcols, dx, top, left, stride_h, stride_w):
    # Conv2D._input_gradient's col2im, entry by entry: each input position sums the columns
    # of the receptive fields that hold it, in the reference's order (kernel offsets p, then
    # q, from +0), for all images at once; then it is written to dx (N, C, H, W), which
    # leaves out the reference's padded buffer, its crop and its final transpose.
    channels, kh, kw, out_height, out_width, batch = dcols.shape
    height, width = dx.shape[2], dx.shape[3]
    total = np.empty(batch, dcols.dtype)
    for c in range(channels):
        for y in range(height):
            for x in range(width):
                total[:] = 0
                for p in range(kh):
                    row = y + top - p  # = stride_h * i for the output row i reading it
                    if row < 0 or row % stride_h != 0 or row // stride_h >= out_height:
                        continue
                    for q in range(kw):
                        col = x + left - q
                        if col < 0 or col % stride_w != 0 or col // stride_w >= out_width:
                            continue
                        total += dcols[c, p, q, row // stride_h, col // stride_w]
                dx[:, c, y, x] = total


def col2im(
    dcols: np.ndarray, input_shape: tuple[int, ...], pads: tuple[int, int], stride: tuple[int, int]
) -> np.ndarray:
    """``Conv2D``'s col2im in one pass: dx (N, C, H, W) from the columns ``dcols`` laid out
    (C, kh, kw, Ho, Wo, N), for an input of ``input_shape`` (N, C, H, W) padded by ``pads``
    (top, left) before the convolution of ``stride``."""
    dx = np.empty(input_shape, dcols.dtype)
    _kernel(_col2im_kernel)(dcols, dx, pads[0], pads[1], stride[0], stride[1])
    return dx


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
