"""benchmarks/speed.py: which targets its measurements judge, and how."""

import argparse

import numpy as np
import pytest


@pytest.fixture(scope="module")
def speed(load_benchmark):
    return load_benchmark("speed")


def measured(seconds, accuracy=0.85, memory=300.0):
    return {"seconds_per_epoch": seconds, "test_accuracy": accuracy, "peak_memory_mb": memory}


def test_every_measured_target_gets_a_verdict(speed):
    results = {
        "chainrule@32": measured(1.5, 0.850),
        "pytorch@32": measured(2.55, 0.849),
        "jax-epoch@32": measured(1.7),
        "numpy-loop@32": measured(2.0),
        "chainrule-seeds@32": {"accuracies": [0.846, 0.852, 0.848, 0.851]},
        "chainrule+diagnostics@32": measured(1.8),
        "chainrule@128": measured(0.62, memory=1500.0),
        "jax-step@128": measured(0.50),
    }
    floors = {32: 0.2, 128: 0.13}
    targets = {target.name: target for target in speed.speed_targets(results, [32, 128], floors)}
    speedup = targets["batch 32: speed-up over PyTorch"]
    assert not speedup.met and speedup.value == pytest.approx(2.55 / 1.5)
    assert speedup.line().endswith(f"missed by {4 - 2.55 / 1.5:.2f}x)")
    jax = targets["batch 32: speed-up over JAX, compiled epoch"]  # 1.13x: short of 1.2x
    assert not jax.met and jax.value == pytest.approx(1.7 / 1.5) and jax.bound == 1.2
    assert targets["batch 32: speed-up over a careful NumPy loop"].met  # 1.33x
    assert not targets["batch 128: speed-up over JAX, jitted step"].met  # JAX is faster
    floor = targets["batch 128: seconds per epoch over the floor"]
    assert not floor.met and floor.value == pytest.approx(0.62 / 0.13) and floor.bound == 2.0
    assert "batch 32: seconds per epoch over the floor" not in targets  # a batch-128 target
    assert not targets["batch 32: extra time with diagnostics"].met  # 20% > 10%
    assert targets["batch 32: peak memory"].met
    assert not targets["batch 128: peak memory"].met
    (accuracy,) = [t for name, t in targets.items() if name.startswith("batch 32: test accuracy")]
    assert accuracy.met and "(+0.10%)" in accuracy.name and "2 sd of 5 seeds" in accuracy.name


def test_without_peers_only_chainrules_own_targets_are_judged(speed):
    targets = speed.speed_targets({"chainrule@32": measured(1.5)}, [32], {32: 0.13})
    assert [target.name for target in targets] == ["batch 32: peak memory"]


def test_the_cnn_must_be_faster_than_pytorch(speed):
    results = {"chainrule-cnn@64": measured(25.7, 0.90), "pytorch-cnn@64": measured(22.3, 0.91)}
    ratio, accuracy = speed.speed_targets(results, [], {})
    assert not ratio.met and ratio.value == pytest.approx(25.7 / 22.3) and ratio.bound == 1.0
    assert not accuracy.met  # one point apart, the tolerance is half a point
    faster = {**results, "chainrule-cnn@64": measured(20.0, 0.91)}
    assert speed.speed_targets(faster, [], {})[0].met


def test_the_cnns_accuracy_gap_is_judged_against_its_seeds_noise_when_measured(speed):
    results = {"chainrule-cnn@64": measured(20.0, 0.905), "pytorch-cnn@64": measured(22.0, 0.899),
               "chainrule-cnn-seeds@64": {"accuracies": [0.897, 0.901]}}  # fmt: skip
    accuracy = speed.speed_targets(results, [], {})[1]
    assert "2 sd of 3 seeds" in accuracy.name and accuracy.met
    assert accuracy.bound == pytest.approx(2 * np.std([0.905, 0.897, 0.901], ddof=1))
    assert not speed.speed_targets({**results, "chainrule-cnn-seeds@64": None}, [], {})[1].met


def test_every_peer_that_ran_is_compared_cnn_included(speed):
    results = {
        "chainrule@32": measured(0.5, 0.86),
        "jax-epoch@32": measured(0.6, 0.85),
        "jax-step@32": measured(0.4),
        "scikit-learn@32": measured(2.0),
        "chainrule-cnn@64": measured(10.0),
        "jax-cnn@64": measured(12.5),
    }
    lines = speed.comparison_lines(results, [32])
    assert len(lines) == 4
    assert lines[0].startswith(
        "MLP batch 32: chainrule 0.500 s, scikit-learn 2.000 s: chainrule 4.00x"
    )
    assert lines[1].endswith("JAX, jitted step 0.400 s: JAX, jitted step 1.25x faster; "
                             "test accuracy +1.00% vs JAX, jitted step")  # fmt: skip
    assert "compiled epoch 0.600 s: chainrule 1.20x faster; test accuracy +1.00%" in lines[2]
    assert lines[3].startswith("CNN batch 64: chainrule 10.000 s, JAX, compiled epoch 12.500 s")


def test_the_floor_adds_the_optimizers_memory_traffic(speed):
    parameters = 784 * 128 + 128 + 128 * 64 + 64 + 64 * 10 + 10
    assert speed.parameter_count() == parameters
    for batch, steps in [(32, 1875), (128, 469)]:
        floor = speed.epoch_floor(batch, rate=100.0, bandwidth=20.0)
        traffic = steps * 7 * 4 * parameters  # read θ, g, m, v and write θ, m, v: 7 buffers
        assert floor["optimizer_gb"] == pytest.approx(traffic / 1e9)
        assert floor["matmul_seconds"] == pytest.approx(speed.epoch_flops(60_000) / 100e9)
        assert floor["seconds"] == pytest.approx(floor["matmul_seconds"] + traffic / 20e9)


def test_memory_bandwidth_is_measured_over_the_given_buffer_size(speed):
    assert speed.memory_bandwidth(threads=2, values=4096, repeats=5) > 0


# -- the peers compute what chainrule computes -------------------------------------------------
class Arguments:
    def __init__(self, batch, epochs=2, threads=1):
        self.batch, self.epochs, self.threads = batch, epochs, threads


def fashion_like(rng, count):
    """Inputs of the benchmark's shape (784 features in [0, 1]) and labels of 10 classes."""
    x = rng.random((count, 784), dtype=np.float32)
    return x, rng.integers(0, 10, count)


def test_the_numpy_loop_trains_the_same_network_as_chainrule(speed, rng):
    x, y = fashion_like(rng, 300)
    x_test, y_test = fashion_like(rng, 200)
    arguments = Arguments(batch=32)
    ours = speed.work_chainrule(arguments, x, y, x_test, y_test)
    loop = speed.work_numpy_loop(arguments, x, y, x_test, y_test)
    assert len(loop["epoch_seconds"]) == arguments.epochs
    assert loop["test_accuracy"] == ours["test_accuracy"]  # same weights, batches, arithmetic


@pytest.fixture(scope="module")
def jax():
    return pytest.importorskip("jax")


def test_jax_computes_chainrules_logits_and_gradients(speed, jax, rng):
    import jax.numpy as jnp

    for model, x in [
        (speed.mlp_recipe().build_model(), rng.random((6, 784), dtype=np.float32)),
        (speed.cnn_recipe().build_model(input_shape=(1, 28, 28)),
         rng.random((3, 1, 28, 28), dtype=np.float32)),
    ]:  # fmt: skip
        y = rng.integers(0, 10, len(x))
        params = {name: jnp.asarray(array) for name, array in model.params.items()}
        logits = np.asarray(speed.jax_forward(model)(params, jnp.asarray(x)))
        probabilities = model.forward(x, training=True)
        np.testing.assert_allclose(logits, model._logits, rtol=1e-4, atol=1e-5)
        model.backward(y)
        _, _, loss = speed.jax_training(model, batch=len(x), examples=len(x))
        grads = jax.grad(loss)(params, jnp.asarray(x), jnp.asarray(y.astype(np.int32)))
        for name, grad in grads.items():
            np.testing.assert_allclose(grad, model.grads[name], rtol=1e-3, atol=1e-6)
        assert probabilities.shape == logits.shape


def test_jaxs_compiled_epoch_takes_every_batch_the_last_short_one_included(speed, jax, rng):
    import jax.numpy as jnp

    model = speed.mlp_recipe().build_model()
    x, y = fashion_like(rng, 70)
    step, epoch, _ = speed.jax_training(model, batch=32, examples=70)
    params = {name: jnp.asarray(array) for name, array in model.params.items()}
    zeros = jax.tree.map(jnp.zeros_like, params)
    state = (params, zeros, zeros, jnp.float32(0))
    xd, yd = jnp.asarray(x), jnp.asarray(y.astype(np.int32))
    order = rng.permutation(70).astype(np.int32)
    compiled = jax.jit(epoch)(state, xd, yd, jnp.asarray(order))
    looped = state
    for rows in [slice(0, 32), slice(32, 64), slice(64, 70)]:
        looped = jax.jit(step)(looped, xd, yd, jnp.asarray(order[rows]))
    assert float(compiled[3]) == float(looped[3]) == 3  # steps of 32, 32 and 6 examples
    for name in params:
        np.testing.assert_allclose(compiled[0][name], looped[0][name], atol=1e-6)


def test_the_cnn_runs_for_each_framework_asked_for(speed):
    jobs = speed.benchmark_jobs([32], ["chainrule", "pytorch"], cnn=True)
    assert jobs == [(32, "chainrule"), (32, "pytorch"), (64, "chainrule-cnn"), (64, "pytorch-cnn")]
    everything = speed.benchmark_jobs([32, 128], ["chainrule", "jax-epoch"], cnn=True)
    assert (64, "jax-cnn") in everything and len(everything) == 6
    seeds = speed.benchmark_jobs([128], ["chainrule", "chainrule-seeds"], cnn=True)
    assert seeds[-2:] == [(64, "chainrule-cnn"), (64, "chainrule-cnn-seeds")]
    assert speed.benchmark_jobs([128], ["chainrule"], cnn=False) == [(128, "chainrule")]


def test_rounds_keep_each_frameworks_fastest_round_and_list_them_all(speed):
    first = {**measured(0.9, accuracy=0.84), "epoch_seconds": [1.2, 0.9, 0.9]}
    slower = {**measured(1.3, accuracy=0.86), "epoch_seconds": [1.5, 1.3, 1.3]}
    faster = {**measured(0.7, accuracy=0.85), "epoch_seconds": [1.0, 0.7, 0.7]}
    kept = speed.keep_fastest(speed.keep_fastest(None, first), slower)
    assert kept["seconds_per_epoch"] == 0.9 and kept["test_accuracy"] == 0.84
    assert kept["rounds"] == [0.9, 1.3]
    kept = speed.keep_fastest(kept, faster)
    assert kept["seconds_per_epoch"] == 0.7 and kept["epoch_seconds"] == [1.0, 0.7, 0.7]
    assert kept["rounds"] == [0.9, 1.3, 0.7]


def test_rounds_must_be_a_positive_count(speed):
    assert speed.positive_int("3") == 3
    with pytest.raises(argparse.ArgumentTypeError, match="must be 1 or more, got 0"):
        speed.positive_int("0")
