"""Memory a model needs, estimated before anything is allocated and held against what the
machine has free, so that ``hidden: [1000000000]`` is one line, not a ``MemoryError``.

With P parameters of ``itemsize`` bytes (4 for float32, 8 for float64), the largest tensor
holding T of them, A activation values per example and a batch of m examples:

    building      weights P + gradients P + the largest tensor drawn in float64 (8 T bytes)
    training      weights P + gradients P
                  + optimizer state P × (state buffers + 1 scratch): SGD 1, momentum 2, Adam 3
                  + checkpoint copies P × (1 + state buffers), made at every epoch's end
                  + activations m × (input + 2 A): each layer's output, kept for backward,
                    and the δ of the same shape that backward makes from it

each count times ``itemsize`` bytes. Convolutions need more than that for their im2col
matrices, and data-parallel threads a gradient buffer each, so the estimate is a floor: a
model it refuses cannot run, one it passes may still be tight.

The machine's side is ``available_memory``: ``MemAvailable`` from ``/proc/meminfo`` (what
Linux can hand out without swapping), capped by the cgroup memory limit a container sets;
elsewhere the free physical pages ``os.sysconf`` reports; when neither is known, nothing is
refused in advance and an allocation that fails is still reported in the same words.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from chainrule.nn.params import ParameterSpec

#: Estimates below this are not held against the machine: any machine that runs NumPy has
#: that much, and a small model is then built without reading a file.
SMALL_ESTIMATE = 16 * 2**20
MEMINFO = Path("/proc/meminfo")
#: The memory limit of the container's cgroup: version 2, then version 1.
CGROUP_LIMITS = (
    Path("/sys/fs/cgroup/memory.max"),
    Path("/sys/fs/cgroup/memory/memory.limit_in_bytes"),
)


class NotEnoughMemoryError(ValueError):
    """What a model (or its training) needs is more memory than the machine has free."""


class AvailableMemory(NamedTuple):
    """Bytes that can still be allocated, and where that figure comes from."""

    bytes: int
    source: str


@dataclass(frozen=True)
class MemoryEstimate:
    """Bytes needed, part by part (``{"weights": ..., "gradients": ...}``), for ``purpose``
    ("building this model", "training this model"); ``detail`` says what was counted."""

    purpose: str
    parts: dict[str, int]
    detail: str
    #: What to do about it, when it does not fit.
    advice: str = "use a smaller model (fewer or narrower layers)"

    @property
    def total(self) -> int:
        return sum(self.parts.values())

    def describe(self) -> str:
        """``needs about 5.8 TiB (weights 2.9 TiB, gradients 2.9 TiB; 785,010 ... float32)``"""
        parts = ", ".join(f"{name} {format_bytes(size)}" for name, size in self.parts.items())
        return f"{self.purpose} needs about {format_bytes(self.total)} ({parts}; {self.detail})"


def format_bytes(count: int | float) -> str:
    """``1536`` -> ``"1.5 KiB"``: binary units, three significant digits."""
    if count < 1024:
        return f"{count:.0f} B"
    value, units = count / 1024, ["KiB", "MiB", "GiB", "TiB", "PiB", "EiB"]
    while value >= 1024 and len(units) > 1:
        value, units = value / 1024, units[1:]
    return f"{value:,.0f} {units[0]}" if value >= 1000 else f"{value:.3g} {units[0]}"


def parameter_memory(
    specs: Mapping[str, ParameterSpec], dtype: Any, purpose: str = "building this model"
) -> MemoryEstimate:
    """What allocating and drawing ``specs`` takes: two flat buffers (weights, gradients) and
    the largest tensor drawn in float64 before it is copied in. Python integers throughout, so
    no count overflows however absurd the widths."""
    itemsize = np.dtype(dtype).itemsize
    sizes = [math.prod(spec.shape) for spec in specs.values()]
    count = sum(sizes)
    return MemoryEstimate(
        purpose,
        {
            "weights": count * itemsize,
            "gradients": count * itemsize,
            "initialization": max(sizes, default=0) * 8,
        },
        f"{count:,} parameters in {np.dtype(dtype).name}",
    )


def training_memory(model: Any, optimizer: Any, batch_size: int) -> MemoryEstimate:
    """What training ``model`` (a built ``Sequential``) with ``optimizer`` on batches of
    ``batch_size`` examples takes at its peak (see the module docstring for the terms)."""
    itemsize = model.dtype.itemsize
    count = model.count_params()
    state = len(getattr(optimizer, "STATE", ()))
    per_example = math.prod(model.input_shape) + 2 * model.activation_size()
    name = getattr(optimizer, "type_name", type(optimizer).__name__)
    return MemoryEstimate(
        "training this model",
        {
            "weights": count * itemsize,
            "gradients": count * itemsize,
            "optimizer state": count * itemsize * (state + 1),
            "checkpoint copies": count * itemsize * (state + 1),
            "activations": batch_size * per_example * itemsize,
        },
        f"{count:,} parameters in {model.dtype.name}, {name} with {state} state buffer(s), "
        f"batches of {batch_size:,}",
        "use a smaller model (fewer or narrower layers) or smaller batches",
    )


def available_memory() -> AvailableMemory | None:
    """Bytes this process can still allocate, or None when the system does not say.

    Linux: ``MemAvailable`` from ``/proc/meminfo``, lowered to the cgroup's memory limit when
    a container sets one below it (the limit, not the room under it: the page cache it counts
    can be reclaimed). Elsewhere: free physical pages × page size, if ``os.sysconf`` knows.
    """
    found = _meminfo_available()
    if found is None:
        found = _sysconf_available()
    if found is None:
        return None
    limit = _cgroup_limit()
    if limit is not None and limit < found.bytes:
        return AvailableMemory(limit, "the container's memory limit")
    return found


def check_memory(estimate: MemoryEstimate, available: AvailableMemory | None = None) -> None:
    """Raise ``NotEnoughMemoryError`` (one line: the figure and the machine's) when
    ``estimate`` exceeds the available memory (default: ``available_memory()``)."""
    if estimate.total < SMALL_ESTIMATE:
        return
    available = available or available_memory()
    if available is not None and estimate.total > available.bytes:
        raise not_enough_memory(estimate, available)


def check_training_memory(model: Any, optimizer: Any, batch_size: int) -> MemoryEstimate:
    """``check_memory(training_memory(...))``; returns the estimate when it fits."""
    estimate = training_memory(model, optimizer, batch_size)
    check_memory(estimate)
    return estimate


def not_enough_memory(
    estimate: MemoryEstimate, available: AvailableMemory | None
) -> NotEnoughMemoryError:
    """The error for ``estimate`` not fitting (``available`` None: an allocation failed)."""
    if available is None:
        has = "the allocation failed (not enough memory)"
    else:
        has = f"this machine has {format_bytes(available.bytes)} available ({available.source})"
    return NotEnoughMemoryError(f"{estimate.describe()}, but {has}; {estimate.advice}")


def _meminfo_available() -> AvailableMemory | None:
    try:
        text = MEMINFO.read_text(encoding="ascii")
    except (OSError, UnicodeDecodeError):
        return None
    for line in text.splitlines():
        key, _, value = line.partition(":")
        fields = value.split()  # "MemAvailable:   24159604 kB"
        if key == "MemAvailable" and fields and fields[0].isdigit():
            return AvailableMemory(int(fields[0]) * 1024, "MemAvailable in /proc/meminfo")
    return None


def _sysconf_available() -> AvailableMemory | None:
    try:
        pages, page_size = os.sysconf("SC_AVPHYS_PAGES"), os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):
        return None
    if pages <= 0 or page_size <= 0:
        return None
    return AvailableMemory(pages * page_size, "free physical memory")


def _cgroup_limit() -> int | None:
    for path in CGROUP_LIMITS:
        try:
            text = path.read_text(encoding="ascii").strip()
        except (OSError, UnicodeDecodeError):
            continue
        if text.isdigit():
            return int(text)  # "max" (v2) or a huge number (v1): no limit below MemAvailable
    return None
