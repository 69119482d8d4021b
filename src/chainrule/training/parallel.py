"""Data parallelism: one batch split across threads, one model replica per thread.

Why it is exact. Every loss here is a mean over the batch plus a penalty that does not depend
on it, L = (1/m) Σ_i ℓ_i + R(W). Split the m examples into parts of m_k examples, with part
losses L_k = (1/m_k) Σ_{i in part k} ℓ_i + R(W). Because Σ_k m_k/m = 1,

    L = Σ_k (m_k/m) L_k        and so        ∇L = Σ_k (m_k/m) ∇L_k

(R comes out exactly once). Each thread runs the ordinary forward and backward pass on its
part, with its own layer caches and gradient buffer but the same parameters, and the part
gradients are summed with weights m_k/m into the model's gradient buffer. Only the rounding
differs from one pass over the whole batch (the sums are grouped differently).

Why threads help. NumPy releases the GIL inside ufuncs, copies and matrix products, but runs
elementwise work on one core. A CNN step is mostly such work (im2col, pooling, ReLU masks),
so one thread per core, each on its part with a one-thread BLAS, keeps every core busy where
a multi-threaded BLAS would only speed up the matrix products.

The same sum lets one thread take a batch too big for memory (full-batch gradient descent on
a CNN) in chunks of at most ``TRAINING_VALUES`` activation values, adding up their weighted
gradients.

Which models. Layers that treat each example on its own. BatchNorm normalizes with statistics
of the whole batch (``Layer.mixes_examples``), so a model with it trains on one thread.
Dropout masks come from a generator per replica, reseeded every step from the model's own
generator: a run is reproducible and resumes exactly, but its masks differ from a one-thread
run's.

``plan_threads`` decides, from the work of a step, how many threads it gets and how they are
used; ``Trainer`` follows it.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextvars import copy_context
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np
from threadpoolctl import threadpool_limits

from chainrule.nn.batching import chunk_rows, split_rows
from chainrule.nn.model import LossBreakdown, Sequential
from chainrule.utils.validation import check_integer

T = TypeVar("T")

#: Multiply-adds per step (forward) from which BLAS gets every core: below it, a product is
#: too small to split well (784-128-64-10 MLP: 3.5 M at batch 32, 28 M at batch 256, where
#: two BLAS threads start to pay off, measured).
BLAS_WORK = 25_000_000
#: Activation values per step from which a batch is split across threads: elementwise work
#: (im2col, pooling, ReLU masks) runs on one core in NumPy, so a step rich in it gains from
#: one thread per core. cnn-lenet at batch 64 has 5 M (2 threads: 23 ms a step, against
#: 38 ms with a two-thread BLAS, measured); the MLP above has 0.1 M at batch 256, where
#: threads cost more than they save.
ELEMENTWISE_WORK = 1_000_000
#: Activation values one forward pass may produce in training (cnn-lenet: 200 images, about
#: 60 MB of activations and 170 MB of im2col columns; 784-128-64-10: 40,000 examples).
TRAINING_VALUES = 16_000_000


@dataclass(frozen=True)
class ThreadPlan:
    """How a training step uses the cores: ``workers`` data-parallel threads (1: none),
    each calling BLAS with ``blas_threads`` threads."""

    workers: int
    blas_threads: int

    def limits(self) -> contextlib.AbstractContextManager:
        """The BLAS thread cap of this plan, as a context."""
        return threadpool_limits(limits=self.blas_threads, user_api="blas")


def available_cores() -> int:
    """The cores this process may run on (its CPU affinity, else the machine's count)."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


def check_threads(threads: int | None) -> int | None:
    """``threads`` if it is None (all cores) or an integer >= 1; a clear error otherwise."""
    return None if threads is None else check_integer(threads, "threads (cores to use)")


def can_split(model: Sequential) -> bool:
    """Whether a batch can be split across replicas without changing what is computed."""
    return not any(layer.mixes_examples for layer in model.layers)


def plan_threads(model: Sequential, batch_size: int, threads: int | None = None) -> ThreadPlan:
    """The thread plan for training ``model`` on batches of ``batch_size`` with ``threads``
    cores (default: all this process may use).

    - a batch with ``ELEMENTWISE_WORK`` activation values or more, of a model whose examples
      are independent: one data-parallel thread per core (each on 16 examples or more), each
      with a one-thread BLAS;
    - else a step of ``BLAS_WORK`` multiply-adds or more: one thread, BLAS on every core;
    - else (and always on one core): one thread, one BLAS thread.
    """
    threads = available_cores() if check_threads(threads) is None else threads
    workers = min(threads, batch_size // 16)
    if (
        workers > 1
        and can_split(model)
        and model.activation_size() * batch_size >= ELEMENTWISE_WORK
    ):
        return ThreadPlan(workers=workers, blas_threads=1)
    if threads > 1 and model.multiply_adds() * batch_size >= BLAS_WORK:
        return ThreadPlan(workers=1, blas_threads=threads)
    return ThreadPlan(workers=1, blas_threads=1)


@dataclass(slots=True)  # not frozen: one is made every step, and frozen costs twice the time
class StepResult:
    """One batch's forward and backward: its loss, and each part's rows and output."""

    loss: LossBreakdown
    parts: list[slice]
    outputs: list[np.ndarray]


class DataParallel:
    """Runs forward, loss and backward of a batch on ``workers`` threads.

    Replica 0 is the model itself (its caches and gradient buffer hold part 0); the others
    share its parameter buffer. Use as a context manager, or call ``close()``.

    >>> with DataParallel(model, workers=2) as parallel:
    ...     result = parallel.forward_backward(xb, yb)  # model.grads: the whole batch's
    ...     optimizer.step(model.params.data, model.params.grad_data)
    """

    def __init__(self, model: Sequential, workers: int) -> None:
        workers = check_integer(workers, "workers")
        if workers > 1 and not can_split(model):
            mixing = [layer.name for layer in model.layers if layer.mixes_examples]
            raise ValueError(
                f"layer(s) {', '.join(mixing)} use statistics of the whole batch, so the "
                "batch cannot be split across threads; train with workers=1"
            )
        self.model = model
        self.workers = workers
        #: Rows one forward pass takes at most: a bigger batch (full-batch training of a CNN)
        #: runs in chunks whose gradients are summed, so its memory stays bounded.
        self.max_rows = (
            max(1, TRAINING_VALUES // model.activation_size()) if can_split(model) else sys.maxsize
        )
        self.replicas = [model] + [model.replica() for _ in range(workers - 1)]
        self._draws = any(layer.draws_in_training for layer in model.layers)
        self._pool = ThreadPoolExecutor(workers - 1) if workers > 1 else None

    def forward_backward(self, x: np.ndarray, y: Any) -> StepResult:
        """Fill ``model.grads`` with the gradient of the loss of (x, y); return the loss.

        With one worker this is the model's own forward, loss and backward: nothing is split,
        copied or summed (unless the batch is over ``max_rows``, see ``_forward_backward``).
        """
        model = self.model
        if self.workers == 1:
            output, loss = _forward_backward(model, x, y, self.max_rows)
            return StepResult(loss, [slice(0, x.shape[0])], [output])
        parts = split_rows(x.shape[0], self.workers)
        if self._draws and len(parts) > 1:  # replica masks: a stream fixed by the model's rng
            seeds = model.rng.integers(2**63, size=len(parts) - 1)
            for replica, seed in zip(self.replicas[1:], seeds, strict=False):
                replica.rng.bit_generator.state = np.random.PCG64(seed).state
        futures = [
            # (in a copy of this thread's context: NumPy's errstate, set by the caller, holds)
            self._pool.submit(
                copy_context().run, _forward_backward, replica, x[part], y[part], self.max_rows
            )
            for replica, part in zip(self.replicas[1:], parts[1:], strict=False)
        ]
        results = [_forward_backward(model, x[parts[0]], y[parts[0]], self.max_rows)]
        results += [future.result() for future in futures]
        weights = [(part.stop - part.start) / x.shape[0] for part in parts]
        if len(parts) > 1:
            grads = model.params.grad_data
            grads *= weights[0]  # part 0's gradient, in the model's own buffer, starts the sum
            for replica, weight in zip(self.replicas[1:], weights[1:], strict=False):
                add_weighted(grads, replica.params.grad_data, weight)
        data = sum(w * loss.data for w, (_, loss) in zip(weights, results, strict=True))
        loss = LossBreakdown(data, results[0][1].l2)
        return StepResult(loss, parts, [output for output, _ in results])

    def map_chunks(self, work: Callable[[Sequential, slice], T], rows: int, chunk: int) -> list[T]:
        """``work(replica, rows_of_chunk)`` for every chunk of ``chunk`` rows out of ``rows``,
        the chunks dealt out in turn to the replicas' threads; results in chunk order.
        (Validating a CNN this way is about twice as fast on two cores.)"""
        chunks = chunk_rows(rows, chunk)
        shares = [chunks[k :: self.workers] for k in range(self.workers)]
        futures = [
            self._pool.submit(copy_context().run, _map, work, replica, share)
            for replica, share in zip(self.replicas[1:], shares[1:], strict=False)
        ]
        results = [_map(work, self.model, shares[0])]
        results += [future.result() for future in futures]
        ordered: list[T] = [None] * len(chunks)  # type: ignore[list-item]
        for k, share_results in enumerate(results):
            ordered[k :: self.workers] = share_results
        return ordered

    def splits(self, batch_size: int) -> bool:
        """Whether a batch of this size is cut at all (across threads, or into chunks)."""
        return self.workers > 1 or batch_size > self.max_rows

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown()
            self._pool = None

    def __enter__(self) -> DataParallel:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def _forward_backward(
    model: Sequential, x: np.ndarray, y: Any, max_rows: int
) -> tuple[np.ndarray, LossBreakdown]:
    """Forward, loss and backward of (x, y) on ``model``: in one pass, or for more than
    ``max_rows`` rows in near-equal chunks whose gradients are summed with weights
    (rows in chunk)/(rows in x), as above."""
    if x.shape[0] <= max_rows:
        output = model.forward_batch(x, training=True)
        return output, model.loss_and_backward(y)
    outputs, data = [], 0.0
    total = np.zeros_like(model.params.grad_data)
    for chunk in split_rows(x.shape[0], -(-x.shape[0] // max_rows)):
        output = model.forward_batch(x[chunk], training=True)
        loss = model.loss_and_backward(y[chunk])
        weight = (chunk.stop - chunk.start) / x.shape[0]
        data += weight * loss.data
        outputs.append(output)
        add_weighted(total, model.params.grad_data, weight)
    model.params.grad_data[...] = total
    return np.concatenate(outputs), LossBreakdown(data, loss.l2)


def add_weighted(total: np.ndarray, part: np.ndarray, weight: float) -> None:
    """total += weight · part: one term of ∇L = Σ_k (m_k/m) ∇L_k.

    ``part`` is a spent gradient buffer (a replica's, or the model's between two chunks), so
    it is scaled in place: no temporary array is allocated.
    """
    part *= weight
    total += part


def _map(work: Callable[[Sequential, slice], T], model: Sequential, chunks: list[slice]) -> list[T]:
    return [work(model, chunk) for chunk in chunks]
