"""Model files: safetensors, with the architecture and extras as JSON metadata.

A model file is a safetensors file whose tensors are the parameters, named as in the model
(``dense_1.W``, ``dense_1.b`` …) plus any layer state that is not a parameter (a batch norm's
running statistics, ``batch_norm_1.state.running_mean``), and whose string metadata holds:

    format          "chainrule-model"
    format_version  "1"
    model           the architecture, ``Sequential.get_config()`` as JSON
    extra           anything else the caller stores (preprocessing statistics, class names,
                    training recipe …) as JSON

safetensors holds only raw tensors and a JSON header, so loading a file never executes code
(unlike pickle). The file is written to a temporary name beside the target and renamed into
place, so an interrupted save never leaves a half-written model under the real name.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from safetensors import SafetensorError, safe_open
from safetensors.numpy import save_file

from chainrule.utils.atomic import atomic_write

if TYPE_CHECKING:
    from chainrule.nn.model import Sequential

FORMAT = "chainrule-model"
FORMAT_VERSION = 1


def save_model(model: Sequential, path: str | Path, extra: dict[str, Any] | None = None) -> Path:
    """Write ``model`` to ``path`` atomically; ``extra`` must be JSON-serializable."""
    path = Path(path)
    try:
        extra_json = json.dumps(extra or {}, sort_keys=True)
    except TypeError as error:
        raise ValueError(f"model file metadata must be JSON-serializable: {error}") from None
    metadata = {
        "format": FORMAT,
        "format_version": str(FORMAT_VERSION),
        "model": json.dumps(model.get_config(), sort_keys=True),
        "extra": extra_json,
    }
    tensors = {name: np.ascontiguousarray(array) for name, array in model.params.items()}
    tensors.update(model.layer_states())
    return atomic_write(path, lambda temporary: save_file(tensors, temporary, metadata=metadata))


def read_metadata(path: str | Path) -> dict[str, Any]:
    """The decoded metadata of a model file (architecture and extras), without the weights."""
    return _open(Path(path))[0]


def load_model(path: str | Path) -> tuple[Sequential, dict[str, Any]]:
    """Rebuild the model stored in ``path``; returns it and the ``extra`` metadata."""
    from chainrule.nn.model import Sequential

    path = Path(path)
    metadata, tensors = _open(path, with_tensors=True)
    try:
        model = Sequential.from_config(metadata["model"])
    except (ValueError, TypeError) as error:
        raise ValueError(f"{path}: the stored architecture is invalid: {error}") from None
    states = model.layer_states()
    expected = set(model.params.keys()) | set(states)
    if set(tensors) != expected:
        missing = sorted(expected - set(tensors))
        unexpected = sorted(set(tensors) - expected)
        raise ValueError(
            f"{path}: the tensors do not match the stored architecture "
            f"(missing: {', '.join(missing) or 'none'}; unexpected: {', '.join(unexpected) or 'none'})"
        )
    for name, array in tensors.items():
        target = states[name] if name in states else model.params[name]
        if array.shape != target.shape or array.dtype != target.dtype:
            raise ValueError(
                f"{path}: tensor {name!r} is {array.dtype}{list(array.shape)}, the architecture "
                f"needs {target.dtype}{list(target.shape)}"
            )
        target[...] = array
    model.set_layer_states({name: tensors[name] for name in states})
    return model, metadata["extra"]


def _open(path: Path, with_tensors: bool = False) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
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
    try:
        metadata = {"model": json.loads(raw["model"]), "extra": json.loads(raw.get("extra", "{}"))}
    except (KeyError, json.JSONDecodeError) as error:
        raise ValueError(f"{path}: the model file's metadata is corrupt: {error}") from None
    return metadata, tensors
