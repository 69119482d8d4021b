"""Model files: safetensors, with the architecture and extras as JSON metadata.

A model file is a safetensors file whose tensors are the parameters, named as in the model
(``dense_1.W``, ``dense_1.b`` …) plus any layer state that is not a parameter (a batch norm's
running statistics, ``batch_norm_1.state.running_mean``), and whose string metadata holds:

    format          "chainrule-model"
    format_version  "1"
    model           the architecture, ``Sequential.get_config()`` as JSON
    extra           anything else the caller stores (preprocessing statistics, class names,
                    training recipe …) as JSON

This module knows only that container: named tensors, an architecture given as plain data,
and the extras. It never builds a model, so it imports nothing of the model; ``Sequential``
owns the translation both ways (``Sequential.save`` / ``Sequential.load``, and
``chainrule.nn.model.load_model`` for the extras too).

safetensors holds only raw tensors and a JSON header, so loading a file never executes code
(unlike pickle). Reading is bounded and checked: the metadata may hold at most
``MAX_METADATA_CHARS`` characters nested at most ``MAX_METADATA_DEPTH`` deep (a JSON depth bomb
is refused naming the file, not met with a RecursionError), and a tensor holding NaN or
infinity is refused at load: such a model would predict "nan%" for everything. The file is written to a temporary name beside the target and renamed into
place, so an interrupted save never leaves a half-written model under the real name.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from safetensors import SafetensorError, safe_open
from safetensors.numpy import save_file

from chainrule.utils.atomic import atomic_write

FORMAT = "chainrule-model"
FORMAT_VERSION = 1
#: The most characters the JSON metadata (architecture and extras together) may hold: far
#: above what a model needs (per-pixel statistics of 1000x1000 images are ~40 M), far below
#: what would take the machine's memory to decode.
MAX_METADATA_CHARS = 64 * 2**20
#: The deepest nesting of lists and mappings the metadata may have (a recipe's is under 10).
MAX_METADATA_DEPTH = 64


@dataclass
class StoredModel:
    """What a model file holds: the architecture (plain data), the extras, and the tensors
    (empty when only the metadata was read)."""

    architecture: dict[str, Any]
    extra: dict[str, Any]
    tensors: dict[str, np.ndarray] = field(default_factory=dict)


def write_model_file(
    path: str | Path,
    tensors: dict[str, np.ndarray],
    architecture: dict[str, Any],
    extra: dict[str, Any] | None = None,
) -> Path:
    """Write ``tensors`` with ``architecture`` and ``extra`` (both JSON-serializable) to
    ``path``, atomically."""
    try:
        extra_json = json.dumps(extra or {}, sort_keys=True)
    except TypeError as error:
        raise ValueError(f"model file metadata must be JSON-serializable: {error}") from None
    metadata = {
        "format": FORMAT,
        "format_version": str(FORMAT_VERSION),
        "model": json.dumps(architecture, sort_keys=True),
        "extra": extra_json,
    }
    contiguous = {name: np.ascontiguousarray(array) for name, array in tensors.items()}
    return atomic_write(
        Path(path), lambda temporary: save_file(contiguous, temporary, metadata=metadata)
    )


def read_model_file(path: str | Path, with_tensors: bool = True) -> StoredModel:
    """Read a model file written by ``write_model_file``; every way it can be unusable
    (missing, corrupt, another safetensors file, a newer format) is a clear error."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"model file not found: {path}")
    try:
        with safe_open(str(path), framework="numpy") as handle:
            raw = handle.metadata() or {}
            names = list(handle.keys()) if with_tensors else []
            tensors = {name: handle.get_tensor(name) for name in names}
    except (SafetensorError, OSError, ValueError) as error:
        raise ValueError(
            f"{path}: not a readable model file (corrupt or not safetensors): {error}"
        ) from None
    if raw.get("format") != FORMAT:
        raise ValueError(
            f"{path}: not a chainrule model file (its metadata has no format={FORMAT!r}); "
            "save models with model.save() or `chainrule train`"
        )
    try:
        version = int(raw.get("format_version", ""))
    except ValueError:
        version = None
    if version != FORMAT_VERSION:
        raise ValueError(
            f"{path}: model file format version {raw.get('format_version')!r} is not supported "
            f"by this chainrule (it reads version {FORMAT_VERSION}); upgrade chainrule or "
            "re-save the model"
        )
    if "model" not in raw:
        raise ValueError(f"{path}: the model file's metadata is corrupt: it has no 'model' key")
    architecture = decode_metadata(path, "model", raw["model"])
    extra = decode_metadata(path, "extra", raw.get("extra", "{}"))
    for name, tensor in tensors.items():
        _check_finite(path, name, tensor)
    return StoredModel(architecture, extra, tensors)


def decode_metadata(path: Path, key: str, text: str, kind: str = "model file") -> dict[str, Any]:
    """One JSON entry of a safetensors file's metadata, decoded within the size and depth
    bounds; ``kind`` names the file in messages (checkpoints use this too)."""
    if len(text) > MAX_METADATA_CHARS:
        raise ValueError(
            f"{path}: the {kind}'s metadata {key!r} holds {len(text):,} characters, more "
            f"than the {MAX_METADATA_CHARS:,} a {kind} may have (corrupt or not a {kind}?)"
        )
    try:
        value = json.loads(text)
    except json.JSONDecodeError as error:
        raise ValueError(f"{path}: the {kind}'s metadata is corrupt: {error}") from None
    except RecursionError:  # deeper than the interpreter's recursion limit
        value, depth = None, MAX_METADATA_DEPTH + 1
    else:
        depth = _nesting_depth(value, MAX_METADATA_DEPTH)
    if depth > MAX_METADATA_DEPTH:
        raise ValueError(
            f"{path}: the {kind}'s metadata {key!r} nests lists or mappings more than "
            f"{MAX_METADATA_DEPTH} deep (corrupt or crafted; chainrule's own need under 10)"
        )
    if not isinstance(value, dict):
        raise ValueError(
            f"{path}: the {kind}'s metadata is corrupt: {key!r} must be a JSON object, "
            f"got {type(value).__name__}"
        )
    return value


def _nesting_depth(value: Any, limit: int) -> int:
    """How deep lists and mappings nest in ``value`` (a scalar is 0), looked at without
    recursion and only down to ``limit`` + 1, so no document can exhaust the stack."""
    deepest = 0
    pending = [(value, 1)] if isinstance(value, list | dict) else []
    while pending:
        node, depth = pending.pop()
        deepest = max(deepest, depth)
        if depth > limit:
            break
        children = node.values() if isinstance(node, dict) else node
        pending.extend((child, depth + 1) for child in children if isinstance(child, list | dict))
    return deepest


def _check_finite(path: Path, name: str, tensor: np.ndarray) -> None:
    """Refuse a tensor holding NaN or infinity: every output of the model would be NaN."""
    if tensor.dtype.kind == "f" and not np.isfinite(tensor).all():
        bad = int(tensor.size - np.count_nonzero(np.isfinite(tensor)))
        raise ValueError(
            f"{path}: tensor {name!r} holds {bad:,} non-finite value(s) (NaN or infinity) out "
            f"of {tensor.size:,}; a model with them predicts NaN for every input (saved after "
            "its training diverged?): retrain it"
        )


def read_metadata(path: str | Path) -> dict[str, Any]:
    """The decoded metadata of a model file, without the weights:
    ``{"model": architecture, "extra": extras}``."""
    stored = read_model_file(path, with_tensors=False)
    return {"model": stored.architecture, "extra": stored.extra}
