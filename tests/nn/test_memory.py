"""Memory estimates: counted before anything is allocated, held against the machine's free
memory, and a refusal that gives both figures in one line."""

import numpy as np
import pytest

from chainrule.nn import memory
from chainrule.nn.layers import Dense, ReLU, Softmax
from chainrule.nn.memory import (
    AvailableMemory,
    MemoryEstimate,
    NotEnoughMemoryError,
    available_memory,
    check_memory,
    format_bytes,
    parameter_memory,
    training_memory,
)
from chainrule.nn.model import Sequential
from chainrule.nn.optim import get_optimizer

GIB = 2**30


def mlp(hidden=64, dtype="float32"):
    return Sequential(
        [Dense(hidden), ReLU(), Dense(10), Softmax()],
        loss="categorical_crossentropy",
        input_shape=(784,),
        dtype=dtype,
    )


def test_building_counts_weights_gradients_and_the_float64_draw_of_the_largest_tensor():
    model = mlp(64)
    estimate = parameter_memory(model.params.specs, np.float32)
    count = 784 * 64 + 64 + 64 * 10 + 10  # W1, b1, W2, b2
    assert count == model.count_params()
    assert estimate.parts == {
        "weights": 4 * count,
        "gradients": 4 * count,
        "initialization": 8 * 784 * 64,
    }
    assert estimate.total == sum(estimate.parts.values())
    assert "50,890 parameters in float32" in estimate.describe()
    doubled = parameter_memory(model.params.specs, np.float64)
    assert doubled.parts["weights"] == 2 * estimate.parts["weights"]


def test_training_adds_optimizer_state_checkpoint_copies_and_a_batch_of_activations():
    model = mlp(64)
    count = model.count_params()
    sgd = training_memory(model, get_optimizer("sgd"), batch_size=32)
    adam = training_memory(model, get_optimizer("adam"), batch_size=32)
    assert sgd.parts["optimizer state"] == 4 * count  # the scratch buffer only
    assert adam.parts["optimizer state"] == 4 * count * 3  # m, v and the scratch buffer
    assert adam.parts["checkpoint copies"] == 4 * count * 3  # weights, m, v
    activations_per_example = 64 + 64 + 10 + 10  # dense_1, relu_1, dense_2, softmax_1
    assert adam.parts["activations"] == 32 * 4 * (784 + 2 * activations_per_example)
    bigger = training_memory(model, get_optimizer("adam"), batch_size=64)
    assert bigger.total - adam.total == adam.parts["activations"]
    assert "adam with 2 state buffer(s), batches of 32" in adam.describe()


def test_an_estimate_over_the_available_memory_is_one_line_with_both_figures():
    estimate = MemoryEstimate("training this model", {"weights": 3 * GIB}, "1 parameter")
    with pytest.raises(NotEnoughMemoryError) as caught:
        check_memory(estimate, AvailableMemory(2 * GIB, "MemAvailable in /proc/meminfo"))
    message = str(caught.value)
    assert message.startswith("training this model needs about 3 GiB (weights 3 GiB; 1 parameter)")
    assert "this machine has 2 GiB available (MemAvailable in /proc/meminfo)" in message
    assert "\n" not in message and isinstance(caught.value, ValueError)
    check_memory(estimate, AvailableMemory(4 * GIB, "test"))  # fits: no error
    tiny = MemoryEstimate("x", {"weights": memory.SMALL_ESTIMATE - 1}, "")
    check_memory(tiny, AvailableMemory(0, "test"))  # small estimates are never held back


def test_a_model_too_big_for_the_machine_is_refused_before_allocating(monkeypatch):
    monkeypatch.setattr(memory, "available_memory", lambda: AvailableMemory(GIB, "test"))
    allocated = []
    monkeypatch.setattr("chainrule.nn.model.ParameterStore", lambda *a: allocated.append(a))
    count = 784 * 10**6 + 10**6 + 10**6 * 10 + 10
    with pytest.raises(NotEnoughMemoryError) as caught:
        mlp(1_000_000)
    assert allocated == []
    weights = format_bytes(4 * count)  # and as much again for the gradients
    assert str(caught.value).startswith(
        f"building this model needs about {format_bytes(4 * count * 2 + 8 * 784 * 10**6)} "
        f"(weights {weights}, gradients {weights}, "
    )
    assert f"{count:,} parameters in float32), but this machine has 1 GiB available" in str(
        caught.value
    )


def test_an_allocation_that_fails_anyway_says_so_in_the_same_words(monkeypatch):
    monkeypatch.setattr(memory, "available_memory", lambda: None)  # the system does not say

    def fail(*arguments):
        raise MemoryError

    monkeypatch.setattr("chainrule.nn.model.ParameterStore", fail)
    with pytest.raises(NotEnoughMemoryError, match=r"needs about .* but the allocation failed"):
        mlp(64)


def test_available_memory_reads_meminfo_and_a_lower_container_limit(tmp_path, monkeypatch):
    meminfo = tmp_path / "meminfo"
    meminfo.write_text("MemTotal:       32000000 kB\nMemAvailable:   2048 kB\n")
    monkeypatch.setattr(memory, "MEMINFO", meminfo)
    monkeypatch.setattr(memory, "CGROUP_LIMITS", (tmp_path / "none", tmp_path / "limit"))
    assert available_memory() == AvailableMemory(2048 * 1024, "MemAvailable in /proc/meminfo")
    (tmp_path / "limit").write_text("1048576\n")
    assert available_memory() == AvailableMemory(1048576, "the container's memory limit")
    (tmp_path / "none").write_text("max\n")  # cgroup v2 without a limit: the next one counts
    assert available_memory().bytes == 1048576


def test_without_meminfo_it_falls_back_to_sysconf_then_to_unknown(tmp_path, monkeypatch):
    monkeypatch.setattr(memory, "MEMINFO", tmp_path / "missing")
    monkeypatch.setattr(memory, "CGROUP_LIMITS", ())
    pages = {"SC_AVPHYS_PAGES": 1000, "SC_PAGE_SIZE": 4096}
    monkeypatch.setattr(memory.os, "sysconf", lambda name: pages[name])
    assert available_memory() == AvailableMemory(4096000, "free physical memory")

    def unsupported(name):
        raise ValueError(f"unrecognized configuration name {name}")

    monkeypatch.setattr(memory.os, "sysconf", unsupported)
    assert available_memory() is None
    check_memory(MemoryEstimate("x", {"weights": 2**60}, ""))  # unknown: nothing refused early


def test_format_bytes_uses_binary_units():
    assert format_bytes(1000) == "1000 B"
    assert format_bytes(1536) == "1.5 KiB"
    assert format_bytes(3 * GIB) == "3 GiB"
    assert format_bytes(2**70 * 5) == "5,120 EiB"
