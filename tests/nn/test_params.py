"""The flat parameter store: named views into one buffer, regularized tensors first."""

import numpy as np
import pytest

from chainrule.nn.init import Zeros
from chainrule.nn.params import ParameterSpec, ParameterStore


def make_store():
    return ParameterStore(
        {
            "dense_1.W": ParameterSpec((3, 2), Zeros(), 3, 2),
            "dense_1.b": ParameterSpec((2,), Zeros(), 3, 2, regularize=False),
            "dense_2.W": ParameterSpec((2, 1), Zeros(), 2, 1),
        },
        np.float32,
    )


def test_views_share_one_buffer_and_gradients_pair_up():
    store = make_store()
    assert store.size == 6 + 2 + 2
    store["dense_1.W"] = np.arange(6).reshape(3, 2)
    assert np.shares_memory(store["dense_1.W"], store.data)
    store.grads["dense_2.W"][...] = 7
    assert np.count_nonzero(store.grad_data == 7) == 2
    assert list(store) == list(store.grads)


def test_regularized_tensors_come_first():
    store = make_store()
    assert store.n_regularized == 8
    assert list(store)[-1] == "dense_1.b"
    store["dense_1.b"] = [5, 5]
    assert np.all(store.data[store.n_regularized :] == 5)


def test_wrong_shape_and_unknown_name_are_clear():
    store = make_store()
    with pytest.raises(ValueError, match=r"'dense_1.W' has shape \(3, 2\).*\(2, 3\)"):
        store["dense_1.W"] = np.zeros((2, 3))
    with pytest.raises(KeyError, match="dense_3.W.*dense_1.W"):
        store["dense_3.W"]


def test_to_dict_copies():
    store = make_store()
    tensors = store.to_dict()
    tensors["dense_1.W"][...] = 1
    assert np.all(store["dense_1.W"] == 0)
