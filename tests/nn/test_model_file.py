"""Model files: bit-exact round trip, metadata, atomic writes, clear errors, no code run."""

import json

import numpy as np
import pytest
from safetensors.numpy import save_file

from chainrule.nn.layers import Dense, Dropout, LeakyReLU, Softmax
from chainrule.nn.model import Sequential
from chainrule.nn.model_file import load_model, read_metadata, save_model


def make_model(dtype="float32"):
    layers = [
        Dense(8, kernel_initializer="he_normal"),
        LeakyReLU(0.05),
        Dropout(0.2),
        Dense(3, use_bias=False),
        Softmax(),
    ]
    return Sequential(layers, "categorical_crossentropy", input_shape=(5,), l2=1e-3, dtype=dtype)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_round_trip_is_bit_exact(tmp_path, rng, dtype):
    model = make_model(dtype)
    model.params.data[...] = rng.normal(size=model.params.size)
    path = model.save(tmp_path / "model.safetensors")
    loaded = Sequential.load(path)
    assert loaded.params.data.dtype == np.dtype(dtype)
    assert loaded.params.data.tobytes() == model.params.data.tobytes()
    assert loaded.get_config() == model.get_config()
    x = rng.normal(size=(4, 5))
    np.testing.assert_array_equal(loaded.predict_proba(x), model.predict_proba(x))


def test_extra_metadata_travels_with_the_model(tmp_path):
    extra = {"class_names": ["cat", "dog", "eel"], "standardize": {"mean": 0.13, "std": 0.31}}
    save_model(make_model(), tmp_path / "m.safetensors", extra)
    _model, loaded_extra = load_model(tmp_path / "m.safetensors")
    assert loaded_extra == extra
    assert read_metadata(tmp_path / "m.safetensors")["model"]["input_shape"] == [5]


def test_save_is_atomic_and_leaves_no_temporary_files(tmp_path):
    path = tmp_path / "sub" / "m.safetensors"
    make_model().save(path)
    make_model().save(path)  # overwriting an existing file goes through a rename too
    assert [p.name for p in path.parent.iterdir()] == ["m.safetensors"]


def test_metadata_must_be_json(tmp_path):
    with pytest.raises(ValueError, match="JSON-serializable"):
        make_model().save(tmp_path / "m.safetensors", {"bad": object()})
    assert not list(tmp_path.iterdir())


def test_corrupt_file_is_a_clear_error(tmp_path):
    path = tmp_path / "m.safetensors"
    make_model().save(path)
    path.write_bytes(path.read_bytes()[:40])
    with pytest.raises(ValueError, match="m.safetensors: not a readable model file"):
        load_model(path)
    path.write_bytes(b"\x00" * 100)
    with pytest.raises(ValueError, match="not a readable model file"):
        load_model(path)


def test_other_safetensors_files_and_future_versions_are_refused(tmp_path):
    plain = tmp_path / "plain.safetensors"
    save_file({"w": np.zeros(3, np.float32)}, str(plain))
    with pytest.raises(ValueError, match="not a chainrule model file"):
        load_model(plain)
    future = tmp_path / "future.safetensors"
    model = make_model()
    metadata = {"format": "chainrule-model", "format_version": "99", "model": "{}", "extra": "{}"}
    save_file(model.params.to_dict(), str(future), metadata=metadata)
    with pytest.raises(ValueError, match="format version '99' is not supported"):
        load_model(future)


def test_tensors_that_do_not_fit_the_architecture_are_refused(tmp_path):
    model = make_model()
    tensors = model.params.to_dict()
    tensors["dense_1.W"] = np.zeros((5, 9), np.float32)
    metadata = {
        "format": "chainrule-model",
        "format_version": "1",
        "model": json.dumps(model.get_config()),
        "extra": "{}",
    }
    path = tmp_path / "m.safetensors"
    save_file(tensors, str(path), metadata=metadata)
    with pytest.raises(ValueError, match=r"'dense_1.W' is float32\[5, 9\].*float32\[5, 8\]"):
        load_model(path)


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="model file not found"):
        load_model(tmp_path / "nope.safetensors")
