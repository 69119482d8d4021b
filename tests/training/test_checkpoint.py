"""Checkpoints and resume: a stopped-and-resumed run is the uninterrupted run, to the last bit."""

import os
import signal

import numpy as np
import pytest

from chainrule.app.recipes import parse_recipe
from chainrule.data import load_split, scale
from chainrule.training.callbacks import Callback, EarlyStopping
from chainrule.training.checkpoint import Checkpoint
from chainrule.training.schedules import get_schedule
from chainrule.training.trainer import Trainer, TrainingInterrupted


@pytest.fixture(scope="module")
def digits(shared_data):
    images, labels = load_split("mnist", "test", data_dir=shared_data, download=False)
    x = scale(images[:1200].reshape(1200, -1), np.float64)
    return x[:1000], labels[:1000], x[1000:], labels[1000:1200]


class CtrlC(Callback):
    """Presses Ctrl-C (a real SIGINT to this process) after step ``at`` of the whole run, or
    while epoch ``at_epoch_end`` ends (as during validation)."""

    def __init__(self, at=None, at_epoch_end=None):
        self.at, self.at_epoch_end = at, at_epoch_end

    def on_step_end(self, step, loss, trainer):
        if step == self.at:
            os.kill(os.getpid(), signal.SIGINT)

    def on_epoch_end(self, epoch, logs, trainer):
        if epoch + 1 == self.at_epoch_end:
            os.kill(os.getpid(), signal.SIGINT)


def make_trainer(optimizer, epochs, checkpoint_dir=None, extra=()):
    recipe = parse_recipe(
        {
            "seed": 7,
            "model": {"hidden": [16], "activation": "relu", "dropout": 0.3, "dtype": "float64"},
            "training": {"optimizer": {"name": optimizer, "learning_rate": 0.02}},
        }
    )
    callbacks = [get_schedule({"name": "step", "step_size": 1, "gamma": 0.7}),
                 EarlyStopping(patience=10), *extra]  # fmt: skip
    return Trainer(
        recipe.build_model(), recipe.build_optimizer(), epochs=epochs, batch_size=50,
        callbacks=callbacks, progress=False, checkpoint_dir=checkpoint_dir, keep_last=5,
    )  # fmt: skip


def comparable(history):
    return {k: v for k, v in history.to_dict().items() if k != "seconds"}


@pytest.mark.parametrize("optimizer", ["sgd", "momentum", "adam"])
def test_resumed_run_equals_the_uninterrupted_run_bit_for_bit(digits, tmp_path, optimizer):
    x, y, x_val, y_val = digits
    straight = make_trainer(optimizer, epochs=4)
    straight_history = straight.fit(x, y, (x_val, y_val))

    first = make_trainer(optimizer, epochs=4, checkpoint_dir=tmp_path)
    first.epochs = 2  # the run "stops" after two epochs; its checkpoints stay
    first.fit(x, y, (x_val, y_val))
    resumed = make_trainer(optimizer, epochs=4, checkpoint_dir=tmp_path)
    resumed_history = resumed.fit(
        x, y, (x_val, y_val), resume_from=tmp_path / "epoch-0002.safetensors"
    )

    assert comparable(resumed_history) == comparable(straight_history)
    assert resumed_history.step_loss == straight_history.step_loss
    assert resumed.model.params.data.tobytes() == straight.model.params.data.tobytes()


@pytest.mark.parametrize(
    ("ctrl_c", "where", "saved_as"),
    [
        ({"at": 27}, (2, 7), "interrupted.safetensors"),  # mid-epoch (20 steps an epoch)
        ({"at": 40}, (2, 20), "interrupted.safetensors"),  # after the epoch's last step
        ({"at_epoch_end": 2}, (2, 20), "epoch-0002.safetensors"),  # during its validation
    ],
)
def test_ctrl_c_saves_and_the_resumed_run_equals_the_uninterrupted_one(
    digits, tmp_path, ctrl_c, where, saved_as
):
    x, y, x_val, y_val = digits
    straight = make_trainer("adam", epochs=3, extra=[CtrlC()])
    straight_history = straight.fit(x, y, (x_val, y_val))

    first = make_trainer("adam", epochs=3, checkpoint_dir=tmp_path, extra=[CtrlC(**ctrl_c)])
    with pytest.raises(TrainingInterrupted) as stopped:
        first.fit(x, y, (x_val, y_val))
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # handler restored
    assert (stopped.value.epoch, stopped.value.step) == where
    assert stopped.value.checkpoint == tmp_path / saved_as
    saved = Checkpoint.load(stopped.value.checkpoint)
    assert len(saved.step_loss) == 20 + where[1]  # every completed step, none half-applied
    if saved_as == "interrupted.safetensors":
        assert saved.epoch == 1 and saved.trainer["epoch_progress"]["steps"] == where[1]
    resumed = make_trainer("adam", epochs=3, checkpoint_dir=tmp_path, extra=[CtrlC()])
    resumed_history = resumed.fit(x, y, (x_val, y_val), resume_from=stopped.value.checkpoint)

    assert comparable(resumed_history) == comparable(straight_history)
    assert resumed_history.step_loss == straight_history.step_loss
    assert resumed.model.params.data.tobytes() == straight.model.params.data.tobytes()
    assert not (tmp_path / "interrupted.safetensors").exists()  # the next epoch superseded it


def test_checkpoints_are_kept_and_the_best_is_marked(digits, tmp_path):
    x, y, x_val, y_val = digits
    trainer = make_trainer("adam", epochs=4, checkpoint_dir=tmp_path)
    trainer.keep_last = 2
    trainer.fit(x, y, (x_val, y_val))
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["best.safetensors", "epoch-0003.safetensors", "epoch-0004.safetensors"]
    checkpoint = Checkpoint.load(tmp_path / "epoch-0004.safetensors")
    assert checkpoint.epoch == 4
    assert checkpoint.optimizer_scalars["iterations"] == 4 * 20
    assert set(checkpoint.optimizer_arrays) == {"scaled_m", "scaled_v"}


class AscentFrom(Callback):
    """From epoch ``epoch`` (0-based) on, climb the loss instead of descending it (a negative
    learning rate): every later epoch is worse, so the best one lies before it."""

    def __init__(self, epoch):
        self.epoch = epoch

    def on_epoch_begin(self, epoch, trainer):
        if epoch >= self.epoch:
            trainer.optimizer.learning_rate = -abs(trainer.optimizer.learning_rate)


@pytest.mark.parametrize("resume", [False, True])
def test_the_best_checkpoint_holds_the_epoch_of_the_lowest_val_loss(digits, tmp_path, resume):
    """With a resume after epoch 2, the worse epochs 3 and 4 must not replace epoch 2's best."""
    x, y, x_val, y_val = digits
    trainer = make_trainer("adam", epochs=4, checkpoint_dir=tmp_path, extra=[AscentFrom(2)])
    if resume:
        trainer.epochs = 2  # the run stops after two epochs; a new process resumes it
        trainer.fit(x, y, (x_val, y_val))
        trainer = make_trainer("adam", epochs=4, checkpoint_dir=tmp_path, extra=[AscentFrom(2)])
        history = trainer.fit(x, y, (x_val, y_val), resume_from=tmp_path / "epoch-0002.safetensors")
    else:
        history = trainer.fit(x, y, (x_val, y_val))
    best_epoch = int(np.argmin(history["val_loss"])) + 1
    assert best_epoch <= 2  # the ascent made epochs 3 and 4 worse (else the test shows nothing)
    best = Checkpoint.load(tmp_path / "best.safetensors")
    assert best.epoch == best_epoch
    same_epoch = Checkpoint.load(tmp_path / f"epoch-{best_epoch:04d}.safetensors")
    assert best.params.tobytes() == same_epoch.params.tobytes()
    assert best.trainer["best_checkpoint"] == min(history["val_loss"])


def test_wrong_architecture_or_optimizer_is_named(digits, tmp_path):
    x, y, x_val, y_val = digits
    make_trainer("adam", epochs=1, checkpoint_dir=tmp_path).fit(x, y, (x_val, y_val))
    path = tmp_path / "epoch-0001.safetensors"
    recipe = parse_recipe({"model": {"hidden": [32], "dtype": "float64"}})
    other = Trainer(recipe.build_model(), recipe.build_optimizer(), progress=False)
    with pytest.raises(
        ValueError, match=r"dense_1.W has shape \(784, 16\) in the checkpoint and \(784, 32\)"
    ):
        other.fit(x, y, resume_from=path)
    with pytest.raises(ValueError, match="'adam' optimizer, this run uses 'sgd'"):
        make_trainer("sgd", epochs=2).fit(x, y, (x_val, y_val), resume_from=path)


def test_truncated_or_foreign_files_are_detected_before_anything_changes(digits, tmp_path):
    x, y, x_val, y_val = digits
    make_trainer("adam", epochs=1, checkpoint_dir=tmp_path).fit(x, y, (x_val, y_val))
    path = tmp_path / "epoch-0001.safetensors"
    path.write_bytes(path.read_bytes()[:-100])
    trainer = make_trainer("adam", epochs=2)
    before = trainer.model.params.data.copy()
    with pytest.raises(ValueError, match="truncated or corrupt"):
        trainer.fit(x, y, resume_from=path)
    assert np.array_equal(trainer.model.params.data, before)
    with pytest.raises(FileNotFoundError, match="checkpoint not found"):
        trainer.fit(x, y, resume_from=tmp_path / "nope.safetensors")


def test_divergence_stops_at_once_and_says_where(digits):
    x, y, _, _ = digits
    recipe = parse_recipe(
        {
            "model": {
                "hidden": [16],
                "activation": "identity",
                "output": "identity",
                "loss": "mse",
            },
            "training": {"optimizer": {"name": "sgd", "learning_rate": 10.0}},
        }
    )  # fmt: skip: a linear network with MSE and a huge step blows up within a few steps
    trainer = Trainer(recipe.build_model(), recipe.build_optimizer(), epochs=3, progress=False)
    from chainrule.training.trainer import TrainingDiverged

    with pytest.raises(
        TrainingDiverged, match=r"diverged at epoch 1, step \d+ .* lower learning rate"
    ) as error:
        trainer.fit(x * 1e3, y)
    assert error.value.epoch == 1
    assert error.value.last_finite_loss is not None
    assert len(trainer.history.step_loss) == error.value.step - 1  # history kept up to there


def test_gradient_clipping_bounds_the_update():
    from chainrule.nn.optim import get_optimizer

    grads = np.full(4, 10.0)
    optimizer = get_optimizer({"name": "sgd", "learning_rate": 1.0, "clip_norm": 1.0})
    params = np.zeros(4)
    optimizer.step(params, grads)
    assert np.linalg.norm(params) == pytest.approx(1.0, rel=1e-5)
    assert optimizer.last_grad_norm == pytest.approx(20.0)


FULL_DISK_SCRIPT = """
import resource, signal, sys
import numpy as np
from chainrule.training.checkpoint import Checkpoint
from chainrule.utils.atomic import WriteError

def checkpoint(epoch, size):
    return Checkpoint(
        epoch=epoch, params=np.arange(size, dtype=np.float64), param_shapes={"w": [size]},
        optimizer_type="sgd", optimizer_arrays={}, optimizer_scalars={}, rng_states={},
        callbacks=[], callback_arrays={}, layer_states={}, history={}, step_loss=np.zeros(0),
    )

path = sys.argv[1]
checkpoint(1, 10).save(path)
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # else the kernel kills the process
resource.setrlimit(resource.RLIMIT_FSIZE, (8192, resource.getrlimit(resource.RLIMIT_FSIZE)[1]))
try:
    checkpoint(2, 100_000).save(path)
except WriteError as error:
    print(error)
"""


def test_a_full_disk_keeps_the_last_good_checkpoint(tmp_path):
    """A real file-size limit (``ulimit -f``) in a child process: one line, the old file loads."""
    import errno
    import subprocess
    import sys

    path = tmp_path / "epoch-0002.safetensors"
    result = subprocess.run(
        [sys.executable, "-c", FULL_DISK_SCRIPT, str(path)],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    expected = f"could not write {path}: {os.strerror(errno.EFBIG)} (the previous file is kept)"
    assert result.stdout.strip() == expected
    kept = Checkpoint.load(path)
    assert kept.epoch == 1
    assert np.array_equal(kept.params, np.arange(10, dtype=np.float64))
    assert [p.name for p in tmp_path.iterdir()] == [path.name]


def test_a_checkpoint_whose_metadata_nests_too_deep_is_refused_with_one_line(tmp_path):
    from safetensors.numpy import save_file

    from chainrule.training.checkpoint import FORMAT, FORMAT_VERSION

    path = tmp_path / "bomb.safetensors"
    state = "[" * 100_000 + "]" * 100_000
    metadata = {"format": FORMAT, "format_version": str(FORMAT_VERSION), "state": state}
    save_file({"params": np.zeros(3, dtype=np.float32)}, str(path), metadata=metadata)
    with pytest.raises(ValueError, match=r"bomb.safetensors: the checkpoint's metadata 'state' "):
        Checkpoint.load(path)
