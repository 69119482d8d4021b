"""Training: ``Trainer.fit`` owns the loop; batching, callbacks and progress are its parts.

``fit`` reads as a table of contents: for each epoch, for each batch, ``step()``; then
``evaluate()`` on the validation set; then the callbacks. The same seed gives the same run:
the model's weights come from the model's seed, the batch order from the trainer's seed
(``np.random.default_rng(seed).permutation(n)`` once per epoch), so ``examples/manual_loop.py``
reproduces ``fit`` exactly with a hand-written loop.
"""

from __future__ import annotations

import contextlib
import math
import signal
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from chainrule.nn import kernels
from chainrule.nn.batching import chunk_rows
from chainrule.nn.model import Sequential, classes_of
from chainrule.nn.optim import Optimizer
from chainrule.training.callbacks import BestValue, Callback
from chainrule.training.checkpoint import Checkpoint, generator_state, restore_generator
from chainrule.training.history import History
from chainrule.training.parallel import DataParallel, ThreadPlan, check_threads, plan_threads
from chainrule.utils.validation import check_integer

MODES = ("minibatch", "stochastic", "batch")
#: A finite step loss over ``LOSS_GROWTH`` × its reference has diverged (see ``loss_ceiling``).
LOSS_GROWTH = 1e4
#: The checkpoint Ctrl-C leaves in the middle of an epoch (removed by the next epoch's end).
INTERRUPTED_CHECKPOINT = "interrupted.safetensors"


@dataclass
class EpochProgress:
    """How far the current epoch got: what a mid-epoch checkpoint keeps to finish it."""

    steps: int = 0  # completed steps of this epoch
    loss_sum: float = 0.0  # Σ batch loss × batch size over those steps
    correct: int = 0
    seconds: float = 0.0
    order_state: dict[str, Any] | None = None  # the batch-order generator before the shuffle


class TrainingInterrupted(KeyboardInterrupt):
    """Ctrl-C stopped training between two steps, after saving ``checkpoint`` (None without a
    checkpoint directory). ``epoch`` and ``step`` (1-based) say where."""

    def __init__(self, epoch: int, step: int, checkpoint: Path | None) -> None:
        super().__init__(f"interrupted in epoch {epoch} after step {step}")
        self.epoch, self.step, self.checkpoint = epoch, step, checkpoint


class Trainer:
    """Fits a model with an optimizer: batching mode, validation, callbacks, progress.

    ``mode`` is ``"stochastic"`` (one example per step), ``"batch"`` (the whole training set
    per step: classic full-batch gradient descent) or ``"minibatch"`` (``batch_size``
    examples per step). The last, smaller batch of an epoch is kept.

    ``threads``: the cores this run may use (default: all of this process's). How a step
    uses them follows ``chainrule.training.parallel.plan_threads``: small steps run on one thread
    with a one-thread BLAS; big ones (a CNN) split each batch across one thread per core.
    Pass 1 when several runs share the machine (as sweep workers do).

    Ctrl-C (in the main thread) stops at the next step boundary: with a ``checkpoint_dir``
    it saves ``interrupted.safetensors`` there, from which ``fit(resume_from=...)`` finishes
    the epoch bit for bit, then raises ``TrainingInterrupted``. A second Ctrl-C stops at once.
    """

    def __init__(
        self,
        model: Sequential,
        optimizer: Optimizer,
        *,
        epochs: int = 10,
        mode: str = "minibatch",
        batch_size: int = 32,
        shuffle: bool = True,
        seed: int = 0,
        callbacks: Sequence[Callback] = (),
        progress: bool = True,
        augment: Callable[[np.ndarray, np.random.Generator], np.ndarray] | None = None,
        threads: int | None = None,
        checkpoint_dir: str | Path | None = None,
        keep_last: int = 2,
    ) -> None:
        if mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}, got {mode!r}")
        epochs = check_integer(epochs, "epochs")
        batch_size = check_integer(batch_size, "batch_size")
        keep_last = check_integer(keep_last, "keep_last")
        if model.loss is None:
            raise ValueError("the model has no loss to train on; pass loss=... to Sequential")
        self.model = model
        self.optimizer = optimizer
        self.epochs = epochs
        self.mode = mode
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.seed = seed
        self.callbacks = list(callbacks)
        self.augment = augment
        self.threads = check_threads(threads)
        self.checkpoint_dir = None if checkpoint_dir is None else Path(checkpoint_dir)
        self.keep_last = keep_last
        # The progress bar is called like a callback but holds no state worth checkpointing.
        self._hooks = list(self.callbacks)
        if progress:
            from chainrule.training.progress import ProgressBar

            self._hooks.append(ProgressBar())
        # What a run changes as it goes; ``fit`` starts each of these afresh (or restores it
        # from the checkpoint it resumes).
        self.history = History()
        self.stop_training = False  # a callback sets it to end training after this epoch
        self.interrupt_requested = False  # Ctrl-C: stop at the next step boundary
        self.examples = 0  # training examples, and the steps they make per epoch
        self.steps_per_epoch = 0
        self.epoch = 0  # the epoch being trained, counted from 0
        self.epoch_progress = EpochProgress()
        self._resumed_progress: EpochProgress | None = None
        self.order_rng = np.random.default_rng(seed)  # batch order
        self.augment_rng = np.random.default_rng([seed, 1])
        #: The lowest monitored loss (val_loss, else train_loss) of any epoch so far: the
        #: epoch that ``best.safetensors`` holds. Checkpoints keep it, so a resumed run
        #: replaces that file only with a better epoch.
        self.best_checkpoint = BestValue("min", owner="checkpoint")
        self.thread_plan: ThreadPlan | None = None  # set by fit from the batch size
        self._parallel: DataParallel | None = None  # the threads a running fit steps with
        #: The highest step loss that is not divergence (``loss_ceiling`` of the history);
        #: -inf before the first step, whose loss sets it.
        self._loss_ceiling = -math.inf

    # -- the loop ---------------------------------------------------------------------------
    def fit(
        self,
        x: np.ndarray,
        y: np.ndarray,
        validation_data: tuple[np.ndarray, np.ndarray] | None = None,
        resume_from: str | Path | Checkpoint | None = None,
    ) -> History:
        """Train for ``epochs`` epochs (fewer if a callback stops it); returns the History.

        ``resume_from``: a checkpoint (or its path) of this same run to continue from.
        NumPy's float warnings are off (``float_warnings_off``): an overflow surfaces as
        ``TrainingDiverged`` (or a rejected input), not as a RuntimeWarning before it.
        """
        with float_warnings_off():
            return self._fit(x, y, validation_data, resume_from)

    def _fit(
        self,
        x: np.ndarray,
        y: np.ndarray,
        validation_data: tuple[np.ndarray, np.ndarray] | None,
        resume_from: str | Path | Checkpoint | None,
    ) -> History:
        checkpoint = None
        if resume_from is not None:
            checkpoint = (
                resume_from if isinstance(resume_from, Checkpoint) else Checkpoint.load(resume_from)
            )
            checkpoint.check_compatible(self.model, self.optimizer, str(resume_from))
        x, y = self._check_data(x, y, "training")
        if validation_data is not None:
            validation_data = self._check_data(*validation_data, "validation")
        batch_size = self.effective_batch_size(x.shape[0])
        self.history = History()
        self.stop_training = False
        self.interrupt_requested = False
        self.examples = x.shape[0]
        self.steps_per_epoch = math.ceil(self.examples / batch_size)
        self.epoch = 0
        self.order_rng = np.random.default_rng(self.seed)
        self.augment_rng = np.random.default_rng([self.seed, 1])
        self.best_checkpoint.reset()
        self.thread_plan = plan_threads(self.model, batch_size, self.threads)
        # The optimizer's compiled kernels load (from the disk cache, ~0.5 s once a process,
        # Numba's start included) before the first epoch's clock starts, so that its seconds
        # count training; a layer's kernel then loads in a few ms when it first runs.
        kernels.warm_up((self.model.dtype,), self.optimizer.kernels_used())
        with (
            self.thread_plan.limits(),
            DataParallel(self.model, self.thread_plan.workers) as par,
            _interrupts_between_steps(self),
        ):
            self._parallel = par
            try:
                self._fit_epochs(x, y, validation_data, checkpoint)
            finally:
                self._parallel = None
        return self.history

    def _fit_epochs(
        self,
        x: np.ndarray,
        y: np.ndarray,
        validation_data: tuple[np.ndarray, np.ndarray] | None,
        checkpoint: Checkpoint | None,
    ) -> None:
        self._call("on_train_begin")
        first_epoch = 0 if checkpoint is None else self._restore(checkpoint)
        self._update_loss_ceiling()
        try:
            for epoch in range(first_epoch, self.epochs):
                if self.stop_training:
                    break
                self.epoch = epoch
                self.epoch_progress = self._resumed_progress or EpochProgress()
                self._resumed_progress = None
                self._call("on_epoch_begin", epoch)
                started = time.perf_counter() - self.epoch_progress.seconds
                learning_rate = self.optimizer.learning_rate
                train_loss, train_accuracy = self._run_epoch(x, y, self.order_rng, started)
                logs = {
                    "epoch": epoch + 1,
                    "train_loss": train_loss,
                    "train_accuracy": train_accuracy,
                    "learning_rate": learning_rate,
                }
                if validation_data is not None:
                    val_loss, val_accuracy = self._evaluate_checked(*validation_data)
                    logs.update(val_loss=val_loss, val_accuracy=val_accuracy)
                logs["seconds"] = time.perf_counter() - started
                self.history.append(logs)
                self._update_loss_ceiling()
                self._call("on_epoch_end", epoch, logs)
                self._write_checkpoint(epoch + 1, logs)
                if self.interrupt_requested:  # Ctrl-C during validation or the checkpoint
                    saved = (
                        self.checkpoint_dir / _epoch_file(epoch + 1)
                        if self.checkpoint_dir
                        else None
                    )
                    raise TrainingInterrupted(epoch + 1, self.steps_per_epoch, saved)
        finally:
            self._call("on_train_end")

    # -- checkpoints ------------------------------------------------------------------------
    def checkpoint(self, epoch: int, progress: EpochProgress | None = None) -> Checkpoint:
        """The run's state now, after ``epoch`` completed epochs (and ``progress`` into the
        next one, for a mid-epoch checkpoint)."""
        model, optimizer = self.model, self.optimizer
        optimizer_arrays, optimizer_scalars = optimizer.state_dict()
        callbacks, callback_arrays = [], {}
        for index, callback in enumerate(self.callbacks):
            arrays, scalars = callback.state_dict()
            callbacks.append({"type": type(callback).__name__, "state": scalars})
            callback_arrays.update({f"{index}.{name}": value for name, value in arrays.items()})
        return Checkpoint(
            epoch=epoch,
            params=model.params.data.copy(),
            param_shapes={name: list(array.shape) for name, array in model.params.items()},
            optimizer_type=optimizer.type_name,
            optimizer_arrays=optimizer_arrays,
            optimizer_scalars=optimizer_scalars,
            rng_states={
                "order": generator_state(self.order_rng),
                "augment": generator_state(self.augment_rng),
                "model": generator_state(model.rng),
            },
            callbacks=callbacks,
            callback_arrays=callback_arrays,
            layer_states=model.layer_states(),
            history=self.history.to_dict(),
            step_loss=np.asarray(self.history.step_loss, dtype=np.float64),
            trainer={"stopped": self.stop_training, "epochs": self.epochs, "mode": self.mode,
                     "batch_size": self.batch_size, "seed": self.seed,
                     "best_checkpoint": self.best_checkpoint.best,
                     "epoch_progress": asdict(progress) if progress else None},
        )  # fmt: skip

    def _restore(self, checkpoint: Checkpoint) -> int:
        """Put the run back into the checkpoint's state; returns the next epoch to train."""
        model = self.model
        model.params.data[...] = checkpoint.params
        model.set_layer_states(checkpoint.layer_states)
        self.optimizer.load_state_dict(checkpoint.optimizer_arrays, checkpoint.optimizer_scalars)
        restore_generator(self.order_rng, checkpoint.rng_states["order"])
        restore_generator(self.augment_rng, checkpoint.rng_states["augment"])
        restore_generator(model.rng, checkpoint.rng_states["model"])
        if len(checkpoint.callbacks) != len(self.callbacks):
            raise ValueError(
                f"the checkpoint has {len(checkpoint.callbacks)} callbacks, this run "
                f"{len(self.callbacks)}; resume with the same recipe"
            )
        for index, (callback, saved) in enumerate(
            zip(self.callbacks, checkpoint.callbacks, strict=True)
        ):
            prefix = f"{index}."
            arrays = {k[len(prefix) :]: v for k, v in checkpoint.callback_arrays.items()
                      if k.startswith(prefix)}  # fmt: skip
            callback.load_state_dict(arrays, saved["state"])
        self.history = History()
        for key, values in checkpoint.history.items():
            self.history.epochs[key] = list(values)
        self.history.step_loss = checkpoint.step_loss.tolist()
        self.stop_training = bool(checkpoint.trainer.get("stopped", False))
        # (a checkpoint written before this was kept starts the best afresh)
        self.best_checkpoint.best = float(checkpoint.trainer.get("best_checkpoint", math.inf))
        progress = checkpoint.trainer.get("epoch_progress")
        self._resumed_progress = EpochProgress(**progress) if progress else None
        return checkpoint.epoch

    def _write_checkpoint(self, epoch: int, logs: dict[str, float]) -> None:
        """The epoch's checkpoint (the last ``keep_last`` are kept), and ``best.safetensors``
        when its val_loss (train_loss without validation) is the lowest so far."""
        if self.checkpoint_dir is None:
            return
        monitored = logs.get("val_loss", logs["train_loss"])
        # Before the checkpoint is taken, so that it holds the best including this epoch.
        is_best = monitored is not None and self.best_checkpoint.update(monitored)
        checkpoint = self.checkpoint(epoch)
        checkpoint.save(self.checkpoint_dir / _epoch_file(epoch))
        (self.checkpoint_dir / INTERRUPTED_CHECKPOINT).unlink(missing_ok=True)  # superseded
        for old in sorted(self.checkpoint_dir.glob("epoch-*.safetensors"))[: -self.keep_last]:
            old.unlink(missing_ok=True)
        if is_best:
            checkpoint.save(self.checkpoint_dir / "best.safetensors")

    def _run_epoch(
        self, x: np.ndarray, y: np.ndarray, order_rng: np.random.Generator, started: float
    ) -> tuple[float, float]:
        """One pass over the data (the rest of it, when resuming mid-epoch); returns the
        example-weighted mean loss and accuracy."""
        progress = self.epoch_progress
        if progress.order_state is None:
            progress.order_state = generator_state(order_rng)
        else:  # resuming: draw this epoch's shuffle again, then skip the batches it trained
            restore_generator(order_rng, progress.order_state)
        for xb, yb in self.batches(x, y, order_rng, skip=progress.steps):
            loss, batch_correct = self._step(xb, yb)
            progress.steps += 1
            progress.loss_sum += loss * xb.shape[0]
            progress.correct += batch_correct
            if self.interrupt_requested:
                progress.seconds = time.perf_counter() - started
                self._stop_between_steps()
        return progress.loss_sum / x.shape[0], progress.correct / x.shape[0]

    def _stop_between_steps(self) -> None:
        """Save where this epoch got (with a checkpoint directory) and stop."""
        saved = None
        if self.checkpoint_dir is not None:
            saved = self.checkpoint_dir / INTERRUPTED_CHECKPOINT
            self.checkpoint(self.epoch, self.epoch_progress).save(saved)
        raise TrainingInterrupted(self.epoch + 1, self.epoch_progress.steps, saved)

    def step(self, xb: np.ndarray, yb: np.ndarray) -> tuple[float, int]:
        """One update: forward, loss, backward, optimizer step. Returns (loss, correct).

        Forward and backward go through ``DataParallel`` (with one worker: the model's own
        pass, nothing split or copied); the batch is checked once, by ``fit``. A NaN or
        infinite loss or gradient, or a loss over ``loss_ceiling``, raises ``TrainingDiverged``
        before the update.
        """
        with float_warnings_off():
            return self._step(xb, yb)

    def _step(self, xb: np.ndarray, yb: np.ndarray) -> tuple[float, int]:
        """``step`` inside ``fit``, which already turned NumPy's float warnings off once."""
        model = self.model
        result = self._data_parallel().forward_backward(xb, yb)
        loss = result.loss.total
        # The one comparison per step: False for NaN, inf, a loss over the ceiling, and
        # the first step (ceiling -inf), which _check_loss tells apart.
        if not loss <= self._loss_ceiling:
            self._check_loss(loss)
        self._check_gradient()
        # each part's output against its rows of yb (one part: the whole batch)
        correct = sum(map(count_correct, result.outputs, [yb[rows] for rows in result.parts]))
        self.optimizer.step(model.params.data, model.params.grad_data)
        self.history.step_loss.append(loss)
        self._call("on_step_end", len(self.history.step_loss), loss)
        return loss, correct

    def _check_loss(self, loss: float) -> None:
        """What ``step`` does when a loss is not ``<=`` the ceiling: raise ``TrainingDiverged``
        for a NaN or infinite loss, or a finite one over the ceiling; at the first step (no
        ceiling yet) the loss sets it instead."""
        if not math.isfinite(loss):
            raise self._diverged("the loss")
        if self._loss_ceiling == -math.inf:
            self._update_loss_ceiling(first_loss=loss)
            if loss <= self._loss_ceiling:
                return
        reference = self._loss_ceiling / LOSS_GROWTH
        raise self._diverged(
            "the loss",
            f"the loss grew to {loss:.6g}, over {LOSS_GROWTH:g} × {reference:.6g} (its running "
            "minimum, or a tenth of the first epoch's loss scale if higher): finite, but exploded",
        )

    def _update_loss_ceiling(self, first_loss: float | None = None) -> None:
        """The ceiling from the history (``first_loss``: the loss of a first step, not yet in
        the history). Called at the first step, after each epoch and on resume."""
        if self.history.step_loss:
            first_loss = self.history.step_loss[0]
        self._loss_ceiling = loss_ceiling(first_loss, self.history["train_loss"])

    def _check_gradient(self) -> None:
        """Raise ``TrainingDiverged`` if any gradient is NaN or infinite."""
        grads = self.model.params.grad_data
        squared_norm = float(np.dot(grads, grads))  # one pass: NaN/inf anywhere shows
        if not math.isfinite(squared_norm):
            quantity = _first_non_finite(self.model)
            if quantity is None:  # every entry finite, but ‖g‖² is over the dtype's range
                problem = f"every gradient is finite, but ‖g‖² overflows {grads.dtype}"
                raise self._diverged("the gradient", problem)
            raise self._diverged(quantity)

    def _diverged(self, quantity: str, problem: str | None = None) -> TrainingDiverged:
        step = len(self.history.step_loss) + 1
        last = self.history.step_loss[-1] if self.history.step_loss else None
        return TrainingDiverged(
            epoch=self.epoch + 1,
            step=step,
            epoch_step=step - self.epoch * self.steps_per_epoch,
            quantity=quantity,
            last_finite_loss=last,
            learning_rate=self.optimizer.learning_rate,
            problem=problem,
        )

    def evaluate(self, x: np.ndarray, y: np.ndarray, batch_size: int = 2048) -> tuple[float, float]:
        """Mean data loss (plus the L2 term) and accuracy over ``x``, in inference mode.

        NumPy's float warnings are off (``float_warnings_off``): a model that overflows
        evaluates to an infinite or NaN loss, which is the message."""
        with float_warnings_off():
            return self._evaluate_checked(*self._check_data(x, y, "evaluation"), batch_size)

    def _evaluate_checked(
        self, x: np.ndarray, y: np.ndarray, batch_size: int = 2048
    ) -> tuple[float, float]:
        model = self.model
        chunk = model.inference_chunk(batch_size)

        def evaluate_chunk(replica: Sequential, rows: slice) -> tuple[float, int]:
            output = replica.forward_batch(x[rows], training=False)
            loss = replica.compute_loss(output, y[rows]).data * (rows.stop - rows.start)
            return loss, count_correct(output, y[rows])

        results = self._data_parallel().map_chunks(evaluate_chunk, x.shape[0], chunk)
        total_loss = sum(loss for loss, _ in results)
        correct = sum(right for _, right in results)
        l2 = model.l2.value(model.params.data[: model.params.n_regularized])
        return total_loss / x.shape[0] + l2, correct / x.shape[0]

    def _data_parallel(self) -> DataParallel:
        """The threads of the running ``fit``; outside it, the model alone (one worker owns
        no thread pool, so there is nothing to close)."""
        if self._parallel is not None:
            return self._parallel
        return DataParallel(self.model, workers=1)

    # -- parts ------------------------------------------------------------------------------
    def effective_batch_size(self, examples: int) -> int:
        return rows_per_step(self.mode, self.batch_size, examples)

    def batches(
        self, x: np.ndarray, y: np.ndarray, order_rng: np.random.Generator, skip: int = 0
    ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """The epoch's batches (augmented), after the first ``skip`` of them."""
        batches = iterate_batches(
            x, y, self.effective_batch_size(x.shape[0]), order_rng if self.shuffle else None, skip
        )
        if self.augment is None:
            yield from batches
            return
        for xb, yb in batches:
            yield self.augment(xb, self.augment_rng), yb

    def _check_data(self, x: Any, y: Any, which: str) -> tuple[np.ndarray, np.ndarray]:
        x = self.model._check_input(x)
        y = np.asarray(y)
        if y.shape[0] != x.shape[0]:
            raise ValueError(f"{which} data: {x.shape[0]} examples but {y.shape[0]} labels")
        if x.shape[0] == 0:
            raise ValueError(f"{which} data is empty")
        probe = self.model.predict_proba(x[:1])
        target = self.model.loss.prepare_target(
            y, np.broadcast_to(probe, (y.shape[0], *probe.shape[1:]))
        )
        # Class labels, checked, as the int64 array each step's loss works with: the steps
        # then neither convert them (uint8 from an IDX file) nor copy them again.
        return x, target if target.ndim == 1 and target.dtype == np.int64 else y

    def _call(self, hook: str, *args: Any) -> None:
        for callback in self._hooks:
            getattr(callback, hook)(*args, self)


def rows_per_step(mode: str, batch_size: int, examples: int) -> int:
    """Examples in one step: 1 (stochastic), all of them (batch) or ``batch_size`` (minibatch)."""
    return {"stochastic": 1, "batch": examples, "minibatch": batch_size}[mode]


def loss_ceiling(first_loss: float | None, epoch_losses: Sequence[float | None]) -> float:
    """The highest step loss that is not divergence, from the run so far.

    With ℓ₁ the first step's loss and L̄₁, …, L̄ₑ the mean training loss of each finished
    epoch (``train_loss``)::

        s = max(ℓ₁, L̄₁, 1)                the first epoch's loss scale (ℓ₁ during epoch 1)
        m = min(ℓ₁, L̄₁, …, L̄ₑ)            the running minimum
        ceiling = 10⁴ · max(m, s / 10)    (10⁴ is LOSS_GROWTH)

    A loss four orders of magnitude over the lowest the run reached has diverged, though
    finite (SGD at a learning rate of 10⁶ goes from 2.5 to 10⁶ in one step). Two floors keep
    healthy training from tripping it. m is made of epoch means, not single steps: one batch
    can score 0 (batch size 1 does, late in training). And the ceiling never falls below
    10³ · s: when m nears 0 late in training, a batch with an ordinary loss (100 × m, or s
    itself) is not divergence. s is at least 1, about what an untrained classifier scores (ln 2
    for two classes, ln 10 for ten), so that a fit that starts from a trained model (a second
    ``fit``, a tiny first loss) has a ceiling of at least 10³ too. In healthy runs of the
    shipped recipes (batch sizes 1 to 32, SGD up to a learning rate of 10) the highest step
    loss stayed under 1 % of the ceiling.

    ``first_loss`` None (no step yet): -inf, so that the first step's loss sets the ceiling.
    """
    if first_loss is None:
        return -math.inf
    means = [float(loss) for loss in epoch_losses if loss is not None]
    scale = max(first_loss, means[0] if means else first_loss, 1.0)
    minimum = min([first_loss, *means])
    return LOSS_GROWTH * max(minimum, scale / 10)


def float_warnings_off() -> np.errstate:
    """A context with NumPy's warnings for overflow, invalid values and division by zero off,
    for training, evaluation and prediction: those produce inf or NaN, which the finiteness
    checks turn into one message (``TrainingDiverged``, a refused model file) instead of a
    RuntimeWarning printed before it. (NumPy keeps this state per thread: ``DataParallel``'s
    threads run in a copy of the calling thread's context.)"""
    return np.errstate(over="ignore", invalid="ignore", divide="ignore")


class TrainingDiverged(RuntimeError):
    """Training produced a non-finite loss or gradient, or a finite loss over ``loss_ceiling``
    (``problem`` says which); the message says where and what helps."""

    def __init__(
        self,
        epoch: int,
        step: int,
        epoch_step: int,
        quantity: str,
        last_finite_loss: float | None,
        learning_rate: float,
        problem: str | None = None,
    ) -> None:
        self.epoch, self.step, self.quantity = epoch, step, quantity
        self.last_finite_loss = last_finite_loss
        before = (
            "it was the first step"
            if last_finite_loss is None
            else f"the step before had a loss of {last_finite_loss:.6g}"
        )
        problem = problem or f"{quantity} is not finite (NaN or inf)"
        super().__init__(
            f"training diverged at epoch {epoch}, step {epoch_step} of the epoch (step {step} "
            f"overall): {problem}; {before}. "
            f"What usually helps: a lower learning rate (it is {learning_rate:g}), gradient "
            "clipping (optimizer clip_norm, e.g. 1.0), inputs scaled to [0, 1] or standardized, "
            "and a softmax/sigmoid output with cross-entropy (fused and numerically stable)."
        )


def _first_non_finite(model: Sequential) -> str | None:
    """The first gradient holding a NaN or inf, as "the gradient of <name>"; None if none."""
    for name, grad in model.grads.items():
        if not np.all(np.isfinite(grad)):
            return f"the gradient of {name}"
    return None


def iterate_batches(
    x: np.ndarray,
    y: np.ndarray,
    batch_size: int,
    order_rng: np.random.Generator | None,
    skip: int = 0,
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Batches of (x, y) in a fresh random order per call (or in order without a generator),
    leaving out the first ``skip`` batches of that order.

    In order, a batch is a view of ``x``; shuffled, its rows are gathered by indexing
    (``x[index]``: whole rows copied at once, faster than ``np.take`` for a batch of 32).
    """
    batches = chunk_rows(x.shape[0], batch_size)[skip:]
    if order_rng is None:
        for rows in batches:
            yield x[rows], y[rows]
        return
    order = order_rng.permutation(x.shape[0])
    for rows in batches:
        index = order[rows]
        yield x[index], y[index]


def count_correct(output: np.ndarray, y: np.ndarray) -> int:
    """How many predictions in ``output`` match ``y`` (labels, one-hot rows or 0/1 targets)."""
    if output.ndim == 2 and output.shape[1] == 1:
        labels = np.asarray(y).reshape(-1) > 0.5
    else:
        labels = y if np.ndim(y) == 1 else np.argmax(y, axis=1)
    return int(np.count_nonzero(classes_of(output) == labels))


def _epoch_file(epoch: int) -> str:
    return f"epoch-{epoch:04d}.safetensors"


@contextlib.contextmanager
def _interrupts_between_steps(trainer: Trainer) -> Iterator[None]:
    """While ``fit`` runs in the main thread, Ctrl-C asks to stop at the next step boundary
    (so no update is left half applied); a second Ctrl-C raises at once."""
    if (
        threading.current_thread() is not threading.main_thread()
        or signal.getsignal(signal.SIGINT) is not signal.default_int_handler
    ):
        yield  # another thread, or someone else's handler: leave Ctrl-C alone
        return

    def request_stop(signum: int, frame: Any) -> None:
        if trainer.interrupt_requested:
            raise KeyboardInterrupt
        trainer.interrupt_requested = True

    signal.signal(signal.SIGINT, request_stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, signal.default_int_handler)
