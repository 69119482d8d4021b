"""Checkpoints: everything a training run needs to continue exactly where it stopped.

A checkpoint is a safetensors file written at the end of an epoch, or in the middle of one
when Ctrl-C stops training (``interrupted.safetensors``, between two steps). Its tensors are the flat
parameter buffer, each optimizer state buffer (velocity, moments), any array a callback keeps
(early stopping's best weights), layer state (running statistics) and the loss of every step
so far; its JSON metadata holds the rest: the completed epoch count, the optimizer's step
count and learning rate, the state of every random generator (batch order, augmentation,
dropout), each callback's counters and the per-epoch history.

Resuming from the checkpoint of epoch k and training to the end gives, bit for bit, the
history and weights of the run that never stopped: every number the remaining epochs read is
restored. A mid-epoch checkpoint also keeps how far its epoch got (steps done, their loss and
accuracy sums, the batch-order generator before the epoch's shuffle), so a resumed run draws
the same shuffle, skips the batches already trained, and finishes the epoch as if never
stopped.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from safetensors import SafetensorError, safe_open
from safetensors.numpy import save_file

from chainrule.nn.model_file import decode_metadata
from chainrule.utils.atomic import atomic_write

FORMAT = "chainrule-checkpoint"
FORMAT_VERSION = 1


@dataclass
class Checkpoint:
    """The state of a run after ``epoch`` completed epochs (see the module docstring)."""

    epoch: int
    params: np.ndarray
    param_shapes: dict[str, list[int]]
    optimizer_type: str
    optimizer_arrays: dict[str, np.ndarray]
    optimizer_scalars: dict[str, Any]
    rng_states: dict[str, Any]
    callbacks: list[dict[str, Any]]
    callback_arrays: dict[str, np.ndarray]
    layer_states: dict[str, np.ndarray]
    history: dict[str, list[Any]]
    step_loss: np.ndarray
    trainer: dict[str, Any] = field(default_factory=dict)

    def save(self, path: str | Path) -> Path:
        """Write the checkpoint to ``path`` atomically; a full disk or a file-size limit raises
        one ``WriteError`` naming the file, and the checkpoint already there is kept."""
        tensors = {"params": self.params, "history.step_loss": self.step_loss}
        tensors.update({f"optimizer.{k}": v for k, v in self.optimizer_arrays.items()})
        tensors.update({f"callback.{k}": v for k, v in self.callback_arrays.items()})
        tensors.update({f"layer_state.{k}": v for k, v in self.layer_states.items()})
        tensors = {k: np.ascontiguousarray(v) for k, v in tensors.items()}
        metadata = {
            "format": FORMAT,
            "format_version": str(FORMAT_VERSION),
            "state": json.dumps(
                {
                    "epoch": self.epoch,
                    "param_shapes": self.param_shapes,
                    "optimizer_type": self.optimizer_type,
                    "optimizer_scalars": self.optimizer_scalars,
                    "rng_states": self.rng_states,
                    "callbacks": self.callbacks,
                    "history": self.history,
                    "trainer": self.trainer,
                }
            ),
        }
        return atomic_write(
            path, lambda temporary: save_file(tensors, temporary, metadata=metadata)
        )

    @classmethod
    def load(cls, path: str | Path) -> Checkpoint:
        """Read and fully validate a checkpoint; nothing is changed anywhere until it is whole."""
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"checkpoint not found: {path}")
        try:
            with safe_open(str(path), framework="numpy") as handle:
                raw = handle.metadata() or {}
                tensors = {name: handle.get_tensor(name) for name in handle.keys()}  # noqa: SIM118
        except (SafetensorError, OSError, ValueError) as error:
            raise ValueError(
                f"{path}: not a readable checkpoint (truncated or corrupt): {error}"
            ) from None
        if raw.get("format") != FORMAT:
            raise ValueError(f"{path}: not a chainrule checkpoint (no format={FORMAT!r})")
        if raw.get("format_version") != str(FORMAT_VERSION):
            raise ValueError(
                f"{path}: checkpoint format version {raw.get('format_version')!r} is not supported "
                f"(this chainrule reads version {FORMAT_VERSION})"
            )
        try:
            state = decode_metadata(path, "state", raw["state"], kind="checkpoint")
            return cls(
                epoch=int(state["epoch"]),
                params=tensors["params"],
                param_shapes=state["param_shapes"],
                optimizer_type=state["optimizer_type"],
                optimizer_arrays=_prefixed(tensors, "optimizer."),
                optimizer_scalars=state["optimizer_scalars"],
                rng_states=state["rng_states"],
                callbacks=state["callbacks"],
                callback_arrays=_prefixed(tensors, "callback."),
                layer_states=_prefixed(tensors, "layer_state."),
                history=state["history"],
                step_loss=tensors["history.step_loss"],
                trainer=state.get("trainer", {}),
            )
        except (KeyError, TypeError, json.JSONDecodeError) as error:
            raise ValueError(f"{path}: the checkpoint's metadata is incomplete: {error}") from None

    def check_compatible(self, model: Any, optimizer: Any, source: str) -> None:
        """Raise a ValueError naming both sides if this checkpoint cannot resume ``model``."""
        current = {name: list(array.shape) for name, array in model.params.items()}
        if current != self.param_shapes:
            for name in sorted(set(current) | set(self.param_shapes)):
                mine, theirs = current.get(name), self.param_shapes.get(name)
                if mine != theirs:
                    raise ValueError(
                        f"{source}: the checkpoint is from a different architecture: {name} has "
                        f"shape {tuple(theirs) if theirs else 'none'} in the checkpoint and "
                        f"{tuple(mine) if mine else 'none'} in the model"
                    )
        if self.params.dtype != model.params.data.dtype:
            raise ValueError(
                f"{source}: the checkpoint holds {self.params.dtype} parameters, the model "
                f"{model.params.data.dtype}"
            )
        if self.optimizer_type != optimizer.type_name:
            raise ValueError(
                f"{source}: the checkpoint was written by a {self.optimizer_type!r} optimizer, "
                f"this run uses {optimizer.type_name!r}"
            )


def _prefixed(tensors: dict[str, np.ndarray], prefix: str) -> dict[str, np.ndarray]:
    return {k[len(prefix) :]: v for k, v in tensors.items() if k.startswith(prefix)}


def generator_state(rng: np.random.Generator) -> dict[str, Any]:
    """A generator's state as JSON-ready data (PCG64 keeps two big integers)."""
    state = rng.bit_generator.state
    return json.loads(json.dumps(state, default=int))


def restore_generator(rng: np.random.Generator, state: dict[str, Any]) -> None:
    rng.bit_generator.state = state
