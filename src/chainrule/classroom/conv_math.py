"""The convolution's and pooling's hand formulas on small arrays, each with the switches a
mistake turns: the values ``check`` carries forward from a student's numbers, and the values
``conv_diagnosis`` recomputes under a mistake.

0-based here, (channels, height, width) maps without the batch; s the stride, kh × kw the
kernel, pad(·) the zero-padded input (``Geometry.pad``)::

    correlate        z[o,i,j] = Σ_{c,p,q} pad(a)[c, s·i+p, s·j+q] W[o,c,p,q] + b[o]
                     (flip: W[o,c,kh-1-p,kw-1-q], the kernel flipped: a true convolution)
    input_gradient   pad(dL/da)[c, s·i+p, s·j+q] += δ[o,i,j] W[o,c,p,q], then the padding
                     cropped off: the full convolution of the stride-dilated δ with the
                     flipped kernel (flip=False scatters with the flipped kernel: the full
                     convolution with the kernel as it is); ``stride`` and ``crop`` replace
                     the layer's own
    weight_gradient  dW[o,c,p,q] = Σ_{i,j} δ[o,i,j] pad(a)[c, s·i+p, s·j+q]
    pool_forward     max (or mean) of each window
    routes           each max window's first maximum in row-major order (the engine's rule)
    pool_backward    max: dL/da at each window's route, summed where windows share one;
                     average, or ``spread``: dL/da[c,i,j]/P (or × 1) over every entry of the
                     window

The worked example's numbers are the engine's (``explain.conv_numbers``); a test holds these
formulas to them.
"""

from __future__ import annotations

import numpy as np

from chainrule.explain.conv_steps import Geometry


def output_size(geometry: Geometry, extent: tuple[int, int]) -> tuple[int, int]:
    """(Ho, Wo) of windows over a (padded) input of ``extent``."""
    (sh, sw), (kh, kw) = geometry.stride, geometry.window
    return (extent[0] - kh) // sh + 1, (extent[1] - kw) // sw + 1


def _rows(start: int, stride: int, count: int) -> slice:
    return slice(start, start + stride * (count - 1) + 1, stride)


def correlate(
    a: np.ndarray, W: np.ndarray, b: np.ndarray, geometry: Geometry, flip: bool = False
) -> np.ndarray:
    """z of a convolution layer from its input map ``a`` (C, H, W)."""
    padded = geometry.pad(a)
    kernel = W[:, :, ::-1, ::-1] if flip else W
    (sh, sw), (kh, kw) = geometry.stride, geometry.window
    ho, wo = output_size(geometry, padded.shape[1:])
    z = np.zeros((W.shape[0], ho, wo)) + b[:, None, None]
    for p in range(kh):
        for q in range(kw):
            patch = padded[:, _rows(p, sh, ho), _rows(q, sw, wo)]
            z += np.einsum("oc,chw->ohw", kernel[:, :, p, q], patch)
    return z


def input_gradient(
    delta: np.ndarray,
    W: np.ndarray,
    geometry: Geometry,
    input_shape: tuple[int, ...],
    *,
    flip: bool = True,
    stride: tuple[int, int] | None = None,
    crop: tuple[int, int] | None = None,
) -> np.ndarray:
    """dL/da of the layer's input (C, H, W) from its δ (O, Ho, Wo)."""
    kernel = W if flip else W[:, :, ::-1, ::-1]
    sh, sw = stride or geometry.stride
    kh, kw = geometry.window
    _, ho, wo = delta.shape
    channels, height, width = input_shape
    rows = max(height + geometry.top + geometry.bottom, sh * (ho - 1) + kh)
    columns = max(width + geometry.left + geometry.right, sw * (wo - 1) + kw)
    padded = np.zeros((channels, rows, columns))
    for p in range(kh):
        for q in range(kw):
            padded[:, _rows(p, sh, ho), _rows(q, sw, wo)] += np.einsum(
                "oc,ohw->chw", kernel[:, :, p, q], delta
            )
    top, left = crop if crop is not None else (geometry.top, geometry.left)
    return padded[:, top : top + height, left : left + width]


def weight_gradient(
    delta: np.ndarray, a: np.ndarray, geometry: Geometry, stride: tuple[int, int] | None = None
) -> np.ndarray:
    """dL/dW (O, C, kh, kw): the correlation of the (padded) input with δ."""
    padded = geometry.pad(a)
    sh, sw = stride or geometry.stride
    kh, kw = geometry.window
    _, ho, wo = delta.shape
    dW = np.zeros((delta.shape[0], a.shape[0], kh, kw))
    for p in range(kh):
        for q in range(kw):
            patch = padded[:, _rows(p, sh, ho), _rows(q, sw, wo)]
            dW[:, :, p, q] = np.einsum("ohw,chw->oc", delta, patch)
    return dW


def windows(a: np.ndarray, geometry: Geometry) -> np.ndarray:
    """Every pooling window's entries, (C, Ho, Wo, ph·pw) in row-major order."""
    (sh, sw), (ph, pw) = geometry.stride, geometry.window
    ho, wo = output_size(geometry, a.shape[1:])
    parts = [a[:, _rows(p, sh, ho), _rows(q, sw, wo)] for p in range(ph) for q in range(pw)]
    return np.stack(parts, axis=-1)


def pool_forward(a: np.ndarray, geometry: Geometry, is_max: bool) -> np.ndarray:
    entries = windows(a, geometry)
    return entries.max(axis=-1) if is_max else entries.mean(axis=-1)


def routes(a: np.ndarray, geometry: Geometry) -> np.ndarray:
    """(C, Ho, Wo, 2): row and column in ``a`` of each window's first maximum."""
    (sh, sw), (_, pw) = geometry.stride, geometry.window
    chosen = np.argmax(windows(a, geometry), axis=-1)  # argmax: the first of equal maxima
    ho, wo = chosen.shape[1:]
    rows = sh * np.arange(ho)[None, :, None] + chosen // pw
    columns = sw * np.arange(wo)[None, None, :] + chosen % pw
    return np.stack([rows, columns], axis=-1)


def pool_backward(
    upstream: np.ndarray,
    a: np.ndarray,
    geometry: Geometry,
    is_max: bool,
    *,
    chosen: np.ndarray | None = None,
    spread: float | None = None,
) -> np.ndarray:
    """dL/da of the pooling's input from dL/d(its output). ``chosen`` replaces the routes
    (max); ``spread`` sends upstream × spread to every entry of the window instead."""
    gradient = np.zeros_like(a, dtype=np.float64)
    (sh, sw), (ph, pw) = geometry.stride, geometry.window
    if is_max and spread is None:
        chosen = routes(a, geometry) if chosen is None else chosen
        for c, i, j in np.ndindex(*upstream.shape):
            y, x = chosen[c, i, j]
            gradient[c, y, x] += upstream[c, i, j]
        return gradient
    share = 1.0 / (ph * pw) if spread is None else spread
    for p in range(ph):
        for q in range(pw):
            ho, wo = upstream.shape[1:]
            gradient[:, _rows(p, sh, ho), _rows(q, sw, wo)] += share * upstream
    return gradient
