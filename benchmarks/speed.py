"""Seconds per epoch: chainrule vs PyTorch CPU vs scikit-learn vs the hardware floor.

    python benchmarks/speed.py --data-dir ../shared/data            # batch 32 and 128
    python benchmarks/speed.py --data-dir ../shared/data --batch 128 --epochs 3

One epoch of Fashion-MNIST's 60,000 training images through 784-128-64-10 ReLU with softmax
cross-entropy and Adam, in float32, with the same thread count for everyone (``--threads``,
default: all cores). Each framework trains in its own fresh process, so its peak resident
memory (from the kernel's rusage of that process) is its own. Reported per framework and
batch size: median seconds per epoch over ``--epochs`` epochs, peak memory, and test accuracy
after those epochs. PyTorch starts from chainrule's initial weights (``chainrule.nn.interop``)
and sees the same batches in the same order, so the two accuracies differ only by rounding;
scikit-learn draws its own weights and order.

The floor: the multiply-adds an epoch needs (forward 2·N·Σ fan_in·fan_out, backward twice
that, minus the first layer's input gradient nobody needs: ~27 GFLOP) divided by the best
single-precision matrix-multiply rate NumPy reaches on this machine, measured in the same
run. No implementation can beat it; the ratio says how close one gets.

Targets (issue "Speed and parity"): at batch 32 chainrule >= 4x faster than PyTorch; at batch
128 within 1.3x of the floor; peak memory of a full training run < 1 GB; accuracy equal to
PyTorch's within run-to-run noise (here: within ACCURACY_GAP, as both start from the same
weights and batches). The CNN (``--cnn``, issue "Convolutional networks"): within 1.5x of
PyTorch per epoch. Each target is printed as met or MISSED with its margin (``verdicts.py``)
and recorded in the JSON. The exit status is 0 whenever the measurements ran, targets met
or not; it is non-zero only when the script itself failed (a worker that crashed, say).
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from verdicts import Target, print_report

SIZES = (784, 128, 64, 10)
LEARNING_RATE = 1e-3
NOISE_SEEDS = 4  # extra chainrule runs per batch size that measure run-to-run noise


# -- workers: each runs in its own process ------------------------------------------------------
def load_data(data_dir: str | None):
    from chainrule.data import load_dataset, scale

    data = load_dataset("fashion-mnist", data_dir, download=False, progress=False)
    x_train = scale(data.x_train.reshape(len(data.x_train), -1))
    x_test = scale(data.x_test.reshape(len(data.x_test), -1))
    return x_train, data.y_train, x_test, data.y_test


def mlp_recipe(seed: int = 0):
    """The benchmark's MLP, as a chainrule recipe (PyTorch starts from its initial weights)."""
    from chainrule.app.recipes import parse_recipe

    return parse_recipe(
        {"seed": seed,
         "model": {"hidden": list(SIZES[1:-1]), "activation": "relu", "init": "he_uniform"},
         "training": {"optimizer": {"name": "adam", "learning_rate": LEARNING_RATE}}}
    )  # fmt: skip


def cnn_recipe():
    """The cnn-lenet recipe's network without dropout, so that both sides compute the same."""
    from chainrule.app.recipes import load_recipe

    recipe = load_recipe(Path(__file__).resolve().parents[1] / "recipes" / "cnn-lenet.yaml")
    layers = [spec for spec in recipe.model.layers if not _is_dropout(spec)]
    return recipe.model_copy(update={"model": recipe.model.model_copy(update={"layers": layers})})


def work_chainrule(args, x, y, x_test, y_test, diagnostics: bool = False, seed: int = 0) -> dict:
    from chainrule.training.diagnostics import Diagnostics
    from chainrule.training.trainer import Trainer

    recipe = mlp_recipe(seed)
    model = recipe.build_model()
    callbacks = [Diagnostics()] if diagnostics else []
    trainer = Trainer(
        model, recipe.build_optimizer(), epochs=args.epochs, batch_size=args.batch,
        progress=False, callbacks=callbacks, threads=args.threads, seed=seed,
    )  # fmt: skip
    history = trainer.fit(x, y)
    accuracy = float(np.mean(model.predict(x_test) == y_test))
    return {"epoch_seconds": list(history["seconds"]), "test_accuracy": accuracy}


def work_chainrule_seeds(args, x, y, x_test, y_test) -> dict:
    """Run-to-run noise: test accuracy of NOISE_SEEDS more chainrule runs (other weights and
    batch orders), to judge whether a gap to PyTorch is more than noise."""
    accuracies = [work_chainrule(args, x, y, x_test, y_test, seed=seed)["test_accuracy"]
                  for seed in range(1, NOISE_SEEDS + 1)]  # fmt: skip
    return {"epoch_seconds": [0.0], "test_accuracy": statistics.mean(accuracies),
            "accuracies": accuracies}  # fmt: skip


def train_torch(args, model, x, y, x_test, y_test) -> dict:
    """Train PyTorch from ``model``'s initial weights on the batches ``Trainer.fit`` draws
    (the same seeded permutation per epoch): only rounding can tell the two apart."""
    import torch

    from chainrule.nn.interop import to_torch

    torch.set_num_threads(args.threads)
    network = to_torch(model, include_output_activation=False)
    optimizer = torch.optim.Adam(network.parameters(), lr=LEARNING_RATE)
    criterion = torch.nn.CrossEntropyLoss()
    xt, yt = torch.from_numpy(x), torch.from_numpy(y.astype(np.int64))
    order_rng = np.random.default_rng(0)  # Trainer's seed=0 order
    seconds = []
    for _ in range(args.epochs):
        started = time.perf_counter()
        order = torch.from_numpy(order_rng.permutation(len(xt)))
        for start in range(0, len(xt), args.batch):
            index = order[start : start + args.batch]
            optimizer.zero_grad()
            criterion(network(xt[index]), yt[index]).backward()
            optimizer.step()
        seconds.append(time.perf_counter() - started)
    with torch.no_grad():
        predicted = network(torch.from_numpy(x_test)).argmax(dim=1).numpy()
    return {"epoch_seconds": seconds, "test_accuracy": float(np.mean(predicted == y_test)),
            "version": torch.__version__}  # fmt: skip


def work_torch(args, x, y, x_test, y_test) -> dict:
    return train_torch(args, mlp_recipe().build_model(), x, y, x_test, y_test)


def work_sklearn(args, x, y, x_test, y_test) -> dict:
    import sklearn
    from sklearn.neural_network import MLPClassifier

    classifier = MLPClassifier(
        hidden_layer_sizes=SIZES[1:-1], solver="adam", learning_rate_init=LEARNING_RATE,
        batch_size=args.batch, alpha=0.0, random_state=0, shuffle=True,
    )  # fmt: skip
    classes = np.arange(SIZES[-1])
    seconds = []
    for _ in range(args.epochs):
        started = time.perf_counter()
        classifier.partial_fit(x, y, classes=classes)  # one pass over the data
        seconds.append(time.perf_counter() - started)
    accuracy = float(np.mean(classifier.predict(x_test) == y_test))
    return {"epoch_seconds": seconds, "test_accuracy": accuracy, "version": sklearn.__version__}


def work_chainrule_cnn(args, x, y, x_test, y_test) -> dict:
    from chainrule.training.trainer import Trainer

    recipe = cnn_recipe()
    model = recipe.build_model(input_shape=(1, 28, 28))
    images, test_images = x.reshape(-1, 1, 28, 28), x_test.reshape(-1, 1, 28, 28)
    trainer = Trainer(
        model, recipe.build_optimizer(), epochs=args.epochs, batch_size=args.batch,
        progress=False, threads=args.threads,
    )  # fmt: skip
    history = trainer.fit(images, y)
    accuracy = float(np.mean(model.predict(test_images) == y_test))
    return {"epoch_seconds": list(history["seconds"]), "test_accuracy": accuracy}


def _is_dropout(spec) -> bool:
    return isinstance(spec, dict) and spec.get("type") == "dropout"


def work_torch_cnn(args, x, y, x_test, y_test) -> dict:
    model = cnn_recipe().build_model(input_shape=(1, 28, 28))
    images, test_images = x.reshape(-1, 1, 28, 28), x_test.reshape(-1, 1, 28, 28)
    return train_torch(args, model, images, y, test_images, y_test)


def work_chainrule_diagnostics(args, x, y, x_test, y_test) -> dict:
    """chainrule with per-layer diagnostics at the default interval (target: <= 10% slower)."""
    return work_chainrule(args, x, y, x_test, y_test, diagnostics=True)


WORKERS = {
    "chainrule": work_chainrule,
    "chainrule+diagnostics": work_chainrule_diagnostics,
    "pytorch": work_torch,
    "scikit-learn": work_sklearn,
    "chainrule-seeds": work_chainrule_seeds,
    "chainrule-cnn": work_chainrule_cnn,
    "pytorch-cnn": work_torch_cnn,
}


def run_worker(args) -> None:
    x, y, x_test, y_test = load_data(args.data_dir)
    result = WORKERS[args.worker](args, x, y, x_test, y_test)
    print(json.dumps(result))


# -- the parent: measure, spawn, compare ---------------------------------------------------------
def epoch_flops(examples: int) -> float:
    weights = sum(a * b for a, b in itertools.pairwise(SIZES))
    forward = 2 * examples * weights
    backward = 2 * forward - 2 * examples * SIZES[0] * SIZES[1]  # no dL/dx for the input
    return float(forward + backward)


def matmul_rate(threads: int) -> float:
    """Best float32 GFLOP/s of NumPy's matrix multiply over a few shapes."""
    from threadpoolctl import threadpool_limits

    rng = np.random.default_rng(0)
    best = 0.0
    with threadpool_limits(threads):
        for m, k, n in [(2048, 2048, 2048), (1024, 784, 1024), (4096, 784, 128), (128, 784, 128)]:
            a = rng.random((m, k), dtype=np.float32)
            b = rng.random((k, n), dtype=np.float32)
            out = np.empty((m, n), np.float32)
            repeats = max(3, int(2e9 / (2 * m * k * n)))
            np.matmul(a, b, out=out)
            times = []
            for _ in range(5):
                started = time.perf_counter()
                for _ in range(repeats):
                    np.matmul(a, b, out=out)
                times.append((time.perf_counter() - started) / repeats)
            best = max(best, 2 * m * k * n / min(times) / 1e9)
    return best


def spawn(args, worker: str, batch: int) -> dict:
    env = dict(os.environ)
    for variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        env[variable] = str(args.threads)
    command = [sys.executable, __file__, "--worker", worker, "--batch", str(batch),
               "--epochs", str(args.epochs), "--threads", str(args.threads)]  # fmt: skip
    if args.data_dir:
        command += ["--data-dir", args.data_dir]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, env=env, text=True)
    _, status, usage = os.wait4(process.pid, 0)
    output = process.stdout.read()
    process.stdout.close()
    if status != 0:
        raise SystemExit(f"{worker} (batch {batch}) failed with status {status}")
    result = json.loads(output.strip().splitlines()[-1])
    result["peak_memory_mb"] = usage.ru_maxrss / 1024  # Linux reports kilobytes
    result["seconds_per_epoch"] = statistics.median(result["epoch_seconds"])
    return result


def available(worker: str) -> bool:
    module = {"pytorch": "torch", "pytorch-cnn": "torch", "scikit-learn": "sklearn"}.get(worker)
    if module is None:
        return True
    try:
        __import__(module)
    except ImportError:
        return False
    return True


def accuracy_target(label: str, ours: dict, theirs: dict, noise: dict | None) -> Target:
    """PyTorch's accuracy against chainrule's: within two standard deviations of chainrule's
    own accuracy over seeds (run-to-run noise), or 0.5 points where noise was not measured."""
    gap = ours["test_accuracy"] - theirs["test_accuracy"]
    if noise:
        spread = 2 * statistics.stdev([ours["test_accuracy"], *noise["accuracies"]])
        tolerance = f"2 sd of {len(noise['accuracies']) + 1} seeds"
    else:
        spread, tolerance = 0.005, "0.5 points"
    return Target(
        f"{label}: test accuracy's gap to PyTorch's ({gap:+.2%}) within noise ({tolerance})",
        abs(gap), spread, style=".2%",
    )  # fmt: skip


def speed_targets(results: dict, batches: list[int], floor: float) -> list[Target]:
    """Every target whose measurements are in ``results`` (keyed ``worker@batch``, as
    ``main`` collects them), in the order they are printed."""
    targets = []
    cnn, torch_cnn = results.get("chainrule-cnn@64"), results.get("pytorch-cnn@64")
    if cnn and torch_cnn:
        ratio = cnn["seconds_per_epoch"] / torch_cnn["seconds_per_epoch"]
        targets.append(Target("CNN: seconds per epoch over PyTorch's", ratio, 1.5,
                              style=".2f", unit="x"))  # fmt: skip
        targets.append(accuracy_target("CNN", cnn, torch_cnn, None))
    for batch in batches:
        ours = results.get(f"chainrule@{batch}")
        torch_result = results.get(f"pytorch@{batch}")
        if ours and torch_result:
            speedup = torch_result["seconds_per_epoch"] / ours["seconds_per_epoch"]
            noise = results.get(f"chainrule-seeds@{batch}")
            targets.append(accuracy_target(f"batch {batch}", ours, torch_result, noise))
            if batch == 32:
                targets.append(Target("batch 32: speed-up over PyTorch", speedup, 4.0,
                                      at_most=False, style=".2f", unit="x"))  # fmt: skip
        if ours and batch == 128:
            ratio = ours["seconds_per_epoch"] / floor
            targets.append(Target("batch 128: seconds per epoch over the floor", ratio, 1.3,
                                  style=".2f", unit="x"))  # fmt: skip
        with_diagnostics = results.get(f"chainrule+diagnostics@{batch}")
        if ours and with_diagnostics:
            cost = with_diagnostics["seconds_per_epoch"] / ours["seconds_per_epoch"] - 1
            targets.append(Target(f"batch {batch}: extra time with diagnostics", cost, 0.10,
                                  style=".1%"))  # fmt: skip
        if ours:
            targets.append(Target(f"batch {batch}: peak memory", ours["peak_memory_mb"], 1024,
                                  style=".0f", unit=" MB"))  # fmt: skip
    return targets


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir")
    parser.add_argument("--batch", type=int, action="append", help="default: 32 and 128")
    parser.add_argument("--epochs", type=int, default=3, help="epochs per measurement")
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument(
        "--frameworks",
        default="chainrule,chainrule+diagnostics,chainrule-seeds,pytorch,scikit-learn",
    )
    parser.add_argument(
        "--cnn", action="store_true", help="also time the cnn-lenet network (batch 64)"
    )
    parser.add_argument("--json-out", default="benchmarks/results/speed.json")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        args.batch = args.batch[0]
        return run_worker(args)

    batches = args.batch or [32, 128]
    frameworks = [name for name in args.frameworks.split(",") if name]
    unknown = sorted(set(frameworks) - set(WORKERS))
    if unknown:
        parser.error(f"unknown framework(s) {', '.join(unknown)}; choose from {', '.join(WORKERS)}")
    rate = matmul_rate(args.threads)
    floor = epoch_flops(60_000) / (rate * 1e9)
    print(f"matmul {rate:.1f} GFLOP/s (float32, {args.threads} threads); epoch "
          f"{epoch_flops(60_000) / 1e9:.1f} GFLOP -> floor {floor:.3f} s/epoch\n")  # fmt: skip
    results = {}
    for batch in batches:
        for worker in frameworks:
            if not available(worker):
                print(f"batch {batch:>3}  {worker:<21} not installed, skipped")
                continue
            result = spawn(args, worker, batch)
            results[f"{worker}@{batch}"] = result
            if "accuracies" in result:
                seeds = ", ".join(f"{accuracy:.2%}" for accuracy in result["accuracies"])
                print(f"batch {batch:>3}  {worker:<21} test acc of seeds 1-{NOISE_SEEDS}: {seeds}")
                continue
            print(f"batch {batch:>3}  {worker:<21} {result['seconds_per_epoch']:7.3f} s/epoch  "
                  f"{result['seconds_per_epoch'] / floor:5.2f}x floor  "
                  f"peak {result['peak_memory_mb']:6.0f} MB  "
                  f"test acc {result['test_accuracy']:.2%}", flush=True)  # fmt: skip
    if args.cnn:
        for worker in ("chainrule-cnn", "pytorch-cnn"):
            if available(worker):
                result = spawn(args, worker, 64)
                results[f"{worker}@64"] = result
                print(f"batch  64  {worker:<21} {result['seconds_per_epoch']:7.3f} s/epoch  "
                      f"peak {result['peak_memory_mb']:6.0f} MB  "
                      f"test acc {result['test_accuracy']:.2%}", flush=True)  # fmt: skip
    print()
    for batch in batches:
        ours = results.get(f"chainrule@{batch}")
        torch_result = results.get(f"pytorch@{batch}")
        if ours and torch_result:
            speedup = torch_result["seconds_per_epoch"] / ours["seconds_per_epoch"]
            gap = ours["test_accuracy"] - torch_result["test_accuracy"]
            print(f"batch {batch}: chainrule is {speedup:.2f}x faster than PyTorch; "
                  f"accuracy {gap:+.2%} vs PyTorch")  # fmt: skip
    targets = speed_targets(results, batches, floor)
    print_report(targets)
    report = {
        "machine": {"processor": platform.processor() or platform.machine(),
                    "cores": os.cpu_count(), "python": platform.python_version(),
                    "numpy": np.__version__},
        "threads": args.threads, "epochs": args.epochs,
        "matmul_gflops": rate, "epoch_gflop": epoch_flops(60_000) / 1e9, "floor_seconds": floor,
        "results": results,
        "targets": [target.as_dict() for target in targets],
    }  # fmt: skip
    Path(args.json_out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json_out).write_text(json.dumps(report, indent=2) + "\n")
    print(f"\nwritten: {args.json_out}")


if __name__ == "__main__":
    main()
