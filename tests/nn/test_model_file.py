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


def test_a_full_disk_keeps_the_previous_model_file(tmp_path):
    """A real file-size limit (``ulimit -f``) in a child process: one WriteError line, and the
    model file written before it reads back unchanged."""
    import errno
    import os
    import subprocess
    import sys

    script = """
import resource, signal, sys
import numpy as np
from chainrule.nn.model_file import write_model_file
from chainrule.utils.atomic import WriteError

architecture = {"input_shape": [5], "layers": []}
write_model_file(sys.argv[1], {"w": np.ones(5)}, architecture)
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # else the kernel kills the process
resource.setrlimit(resource.RLIMIT_FSIZE, (8192, resource.getrlimit(resource.RLIMIT_FSIZE)[1]))
try:
    write_model_file(sys.argv[1], {"w": np.zeros(100_000)}, architecture)
except WriteError as error:
    print(error)
"""
    path = tmp_path / "model.safetensors"
    result = subprocess.run(
        [sys.executable, "-c", script, str(path)], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    expected = f"could not write {path}: {os.strerror(errno.EFBIG)} (the previous file is kept)"
    assert result.stdout.strip() == expected
    assert np.array_equal(read_model_file(path).tensors["w"], np.ones(5))
    assert [p.name for p in tmp_path.iterdir()] == [path.name]


def crafted_file(path, tensors, model="{}", extra="{}"):
    """A safetensors file with chainrule metadata as given, written without our checks."""
    metadata = {"format": "chainrule-model", "format_version": "1", "model": model, "extra": extra}
    save_file(tensors, str(path), metadata=metadata)
    return path


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_a_tensor_with_non_finite_values_is_refused_naming_it(tmp_path, rng, bad):
    weights = tensors(rng)
    weights["dense_1.W"][0, :2] = bad
    path = write_model_file(tmp_path / "m.safetensors", weights, ARCHITECTURE)
    with pytest.raises(ValueError) as caught:
        read_model_file(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: tensor 'dense_1.W' holds 2 non-finite value(s)")
    assert "out of 15" in message and "\n" not in message
    assert read_metadata(path)["model"] == ARCHITECTURE  # the metadata alone is still readable


def test_a_json_depth_bomb_in_the_metadata_is_refused_naming_the_file(tmp_path):
    weights = {"w": np.zeros(3, np.float32)}
    deep = '{"a": ' + "[" * 100_000 + "]" * 100_000 + "}"  # past the interpreter's stack
    path = crafted_file(tmp_path / "bomb.safetensors", weights, extra=deep)
    with pytest.raises(ValueError, match=r"bomb.safetensors: the model file's metadata 'extra' "
                       r"nests lists or mappings more than 64 deep"):  # fmt: skip
        read_metadata(path)
    shallow = '{"a": ' + "[" * 100 + "]" * 100 + "}"  # parses, but deeper than any model's
    path = crafted_file(tmp_path / "deep.safetensors", weights, model=shallow)
    with pytest.raises(ValueError, match="metadata 'model' nests lists or mappings more than 64"):
        read_metadata(path)
    path = crafted_file(
        tmp_path / "ok.safetensors", weights, extra='{"a": ' + "[" * 63 + "]" * 63 + "}"
    )
    inner = read_metadata(path)["extra"]["a"]  # 64 levels with the outer mapping: allowed
    for _ in range(62):
        (inner,) = inner
    assert inner == []


def test_metadata_size_is_bounded_and_must_be_objects(tmp_path, monkeypatch):
    from chainrule.nn import model_file

    weights = {"w": np.zeros(3, np.float32)}
    monkeypatch.setattr(model_file, "MAX_METADATA_CHARS", 1000)
    path = crafted_file(tmp_path / "big.safetensors", weights, extra=json_list(2000))
    with pytest.raises(ValueError, match=r"big.safetensors: the model file's metadata 'extra' "
                       r"holds 2,\d{3} characters, more than the 1,000"):  # fmt: skip
        read_metadata(path)
    path = crafted_file(tmp_path / "list.safetensors", weights, model="[1, 2]")
    with pytest.raises(ValueError, match="'model' must be a JSON object, got list"):
        read_metadata(path)


def json_list(characters):
    """A JSON object of about ``characters`` characters."""
    return '{"names": [' + ", ".join(['"x"'] * (characters // 5)) + "]}"
