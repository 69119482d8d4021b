"""Model files as a container: tensors + architecture + extras, atomic writes, clear errors.

Building a model from a file (and checking its tensors against the architecture) is the
model's side: see ``tests/nn/test_model.py``.
"""

import numpy as np
import pytest
from safetensors.numpy import save_file

from chainrule.nn.model_file import read_metadata, read_model_file, write_model_file

ARCHITECTURE = {"input_shape": [5], "layers": [{"type": "dense", "name": "dense_1", "units": 3}]}


def tensors(rng):
    return {
        "dense_1.W": rng.normal(size=(5, 3)).astype(np.float32),
        "dense_1.b": np.zeros(3, np.float64),
    }


def test_tensors_architecture_and_extras_round_trip_bit_exactly(tmp_path, rng):
    written = tensors(rng)
    extra = {"class_names": ["cat", "dog", "eel"], "standardize": {"mean": 0.13, "std": 0.31}}
    path = write_model_file(tmp_path / "m.safetensors", written, ARCHITECTURE, extra)
    stored = read_model_file(path)
    assert stored.architecture == ARCHITECTURE
    assert stored.extra == extra
    assert set(stored.tensors) == set(written)
    for name, array in written.items():
        assert stored.tensors[name].dtype == array.dtype
        assert stored.tensors[name].tobytes() == array.tobytes()
    assert read_metadata(path) == {"model": ARCHITECTURE, "extra": extra}
    assert read_model_file(path, with_tensors=False).tensors == {}


def test_non_contiguous_tensors_are_written(tmp_path, rng):
    transposed = rng.normal(size=(3, 5)).astype(np.float32).T
    path = write_model_file(tmp_path / "m.safetensors", {"w": transposed}, ARCHITECTURE)
    np.testing.assert_array_equal(read_model_file(path).tensors["w"], transposed)


def test_write_is_atomic_and_leaves_no_temporary_files(tmp_path, rng):
    path = tmp_path / "sub" / "m.safetensors"
    write_model_file(path, tensors(rng), ARCHITECTURE)
    write_model_file(path, tensors(rng), ARCHITECTURE)  # overwriting goes through a rename too
    assert [p.name for p in path.parent.iterdir()] == ["m.safetensors"]


def test_metadata_must_be_json(tmp_path, rng):
    with pytest.raises(ValueError, match="JSON-serializable"):
        write_model_file(tmp_path / "m.safetensors", tensors(rng), ARCHITECTURE, {"bad": object()})
    assert not list(tmp_path.iterdir())


def test_corrupt_file_is_a_clear_error(tmp_path, rng):
    path = write_model_file(tmp_path / "m.safetensors", tensors(rng), ARCHITECTURE)
    path.write_bytes(path.read_bytes()[:40])
    with pytest.raises(ValueError, match="m.safetensors: not a readable model file"):
        read_model_file(path)
    path.write_bytes(b"\x00" * 100)
    with pytest.raises(ValueError, match="not a readable model file"):
        read_model_file(path)


def test_other_safetensors_files_and_future_versions_are_refused(tmp_path):
    plain = tmp_path / "plain.safetensors"
    save_file({"w": np.zeros(3, np.float32)}, str(plain))
    with pytest.raises(ValueError, match="not a chainrule model file"):
        read_model_file(plain)
    future = tmp_path / "future.safetensors"
    metadata = {"format": "chainrule-model", "format_version": "99", "model": "{}", "extra": "{}"}
    save_file({"w": np.zeros(3, np.float32)}, str(future), metadata=metadata)
    with pytest.raises(ValueError, match="format version '99' is not supported"):
        read_model_file(future)


def test_corrupt_metadata_is_a_clear_error(tmp_path):
    path = tmp_path / "m.safetensors"
    metadata = {"format": "chainrule-model", "format_version": "1", "model": "{not json"}
    save_file({"w": np.zeros(3, np.float32)}, str(path), metadata=metadata)
    with pytest.raises(ValueError, match="metadata is corrupt"):
        read_metadata(path)


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="model file not found"):
        read_model_file(tmp_path / "nope.safetensors")
