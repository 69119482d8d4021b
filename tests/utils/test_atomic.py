"""Atomic writes: a failed write is one WriteError naming the file, and the old file stays."""

from __future__ import annotations

import errno
import os
import pickle
import subprocess
import sys
import textwrap

import pytest

from chainrule.utils.atomic import WriteError, atomic_write, atomic_write_bytes, atomic_write_text


def leftovers(directory):
    """The names of the files in ``directory``, sorted (a temporary left behind shows here)."""
    return sorted(path.name for path in directory.iterdir())


def test_a_write_replaces_the_file_and_leaves_no_temporary(tmp_path):
    target = tmp_path / "sub" / "notes.txt"
    assert atomic_write_text(target, "first\n") == target
    atomic_write_text(target, "second\n")
    assert target.read_text() == "second\n"
    assert leftovers(target.parent) == ["notes.txt"]


def test_the_file_gets_the_umask_mode_even_when_the_writer_replaces_it(tmp_path):
    def replace_with_a_private_file(temporary):
        # what safetensors does: write its own 0o600 temporary, then rename it over ours
        private = temporary.with_name("private")
        private.write_bytes(b"data")
        private.chmod(0o600)
        os.replace(private, temporary)

    old = os.umask(0o022)
    try:
        target = atomic_write(tmp_path / "model.bin", replace_with_a_private_file)
    finally:
        os.umask(old)
    assert target.stat().st_mode & 0o777 == 0o644


@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EFBIG])
def test_an_os_error_while_writing_is_one_write_error_and_the_old_file_stays(tmp_path, code):
    target = atomic_write_text(tmp_path / "report.md", "the good report\n")

    def disk_full(temporary):
        temporary.write_bytes(b"half of a new rep")
        raise OSError(code, os.strerror(code))

    with pytest.raises(WriteError) as caught:
        atomic_write(target, disk_full)
    error = caught.value
    assert isinstance(error, OSError)
    assert error.errno == code
    assert error.path == target
    assert (
        str(error) == f"could not write {target}: {os.strerror(code)} (the previous file is kept)"
    )
    assert "\n" not in str(error)
    assert target.read_text() == "the good report\n"
    assert leftovers(tmp_path) == ["report.md"]


def test_a_serializer_error_carrying_an_os_error_is_a_write_error(tmp_path):
    from safetensors import SafetensorError

    def safetensors_out_of_space(temporary):
        raise SafetensorError("Error while serializing: I/O error: No space left (os error 28)")

    with pytest.raises(
        WriteError, match="No space left on device .no file was written.$"
    ) as caught:
        atomic_write(tmp_path / "model.safetensors", safetensors_out_of_space)
    assert caught.value.errno == errno.ENOSPC
    assert isinstance(caught.value.__cause__, SafetensorError)
    assert leftovers(tmp_path) == []


def test_other_errors_keep_their_type_and_remove_the_temporary(tmp_path):
    def bug(temporary):
        temporary.write_text("partial")
        raise ValueError("metadata must be JSON-serializable")

    with pytest.raises(ValueError, match="JSON-serializable"):
        atomic_write(tmp_path / "x.json", bug)

    def ctrl_c(temporary):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        atomic_write(tmp_path / "x.json", ctrl_c)
    assert leftovers(tmp_path) == []


def test_a_folder_that_cannot_be_created_is_named(tmp_path):
    (tmp_path / "taken").write_text("a file, not a folder")
    with pytest.raises(WriteError, match=r"taken/run/metrics.json: cannot create the folder"):
        atomic_write_bytes(tmp_path / "taken" / "run" / "metrics.json", b"{}")


def test_a_write_error_survives_pickling_as_between_worker_processes(tmp_path):
    error = WriteError(tmp_path / "a.csv", OSError(errno.ENOSPC, "No space left on device"))
    copy = pickle.loads(pickle.dumps(error))
    assert type(copy) is WriteError
    assert (str(copy), copy.errno, copy.path) == (str(error), errno.ENOSPC, error.path)


def test_a_real_file_size_limit_fails_cleanly(tmp_path):
    """RLIMIT_FSIZE (``ulimit -f``) in a child process: the kernel refuses the write (EFBIG)."""
    script = textwrap.dedent(
        """
        import resource, signal, sys
        from chainrule.utils.atomic import WriteError, atomic_write_bytes
        target = sys.argv[1]
        atomic_write_bytes(target, b"small and good")
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # else the kernel kills the process
        hard = resource.getrlimit(resource.RLIMIT_FSIZE)[1]
        resource.setrlimit(resource.RLIMIT_FSIZE, (4096, hard))
        try:
            atomic_write_bytes(target, b"x" * 100_000)
        except WriteError as error:
            print(error)
        """
    )
    target = tmp_path / "data.bin"
    result = subprocess.run(
        [sys.executable, "-c", script, str(target)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    expected = f"could not write {target}: {os.strerror(errno.EFBIG)} (the previous file is kept)"
    assert result.stdout.strip() == expected
    assert target.read_bytes() == b"small and good"
    assert leftovers(tmp_path) == ["data.bin"]
