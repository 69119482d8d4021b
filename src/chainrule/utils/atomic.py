"""Atomic file writes: a temporary file beside the target, then one rename.

Every file chainrule writes (checkpoints, model files, figures, reports, history CSVs) goes
through :func:`atomic_write`. An interrupted write leaves the old file (or none), never half of a
new one. A write that fails - a full disk, a file-size limit, a folder that cannot be written -
raises one :class:`WriteError` that names the file and the cause, whatever the serializer raised
(Python's ``OSError``, or safetensors' ``SafetensorError`` carrying an operating-system error);
the temporary file is removed and the previous file is left exactly as it was.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
from collections.abc import Callable
from pathlib import Path

__all__ = ["WriteError", "atomic_write", "atomic_write_bytes", "atomic_write_text"]

#: How Rust's std::io::Error prints itself (safetensors: "I/O error: File too large (os error 27)").
_RUST_OS_ERROR = re.compile(r"\(os error (\d+)\)")


class WriteError(OSError):
    """``path`` could not be written because of ``cause``; no file was changed.

    An ``OSError`` (so every caller that handles file errors handles this one too) whose
    message is one line: ``could not write runs/x/model.safetensors: No space left on device
    (the previous file is kept)``. ``errno`` is the operating system's code when one is known
    (``errno.ENOSPC``, ``errno.EFBIG``), ``reason`` the cause in words.
    """

    def __init__(
        self,
        path: str | Path,
        cause: BaseException | str,
        *,
        previous_kept: bool = True,
        code: int | None = None,
    ) -> None:
        number, reason = _describe(cause) if isinstance(cause, BaseException) else (code, cause)
        super().__init__(number, reason)
        self.path = Path(path)
        self.reason = reason
        self.previous_kept = previous_kept
        self.filename = str(path)

    def __str__(self) -> str:
        kept = "the previous file is kept" if self.previous_kept else "no file was written"
        return f"could not write {self.path}: {self.reason} ({kept})"

    def __reduce__(self) -> tuple[object, ...]:  # travels intact from a worker process
        return (_rebuild, (str(self.path), self.reason, self.previous_kept, self.errno))


def _rebuild(path: str, reason: str, previous_kept: bool, code: int | None) -> WriteError:
    return WriteError(path, reason, previous_kept=previous_kept, code=code)


def _describe(error: BaseException) -> tuple[int | None, str]:
    """The OS error code (if any) and a short reason: ``(28, 'No space left on device')``."""
    if isinstance(error, OSError) and error.errno is not None:
        return error.errno, error.strerror or os.strerror(error.errno)
    match = _RUST_OS_ERROR.search(str(error))
    if match:
        number = int(match.group(1))
        return number, os.strerror(number)
    return None, str(error).splitlines()[0] if str(error) else type(error).__name__


def _is_write_failure(error: BaseException) -> bool:
    """An OS-level failure to write (disk full, size limit, permissions), as opposed to a bug
    or a bad value in what was being written (or Ctrl-C), which keeps its own type."""
    if not isinstance(error, Exception):
        return False
    return isinstance(error, OSError) or bool(_RUST_OS_ERROR.search(str(error)))


def atomic_write(path: str | Path, write: Callable[[Path], None]) -> Path:
    """Call ``write(temporary_path)``, then rename the result to ``path``; return ``path``.

    The temporary file lies in ``path``'s folder (so the rename is atomic on one filesystem)
    and is created with mode 0o666 less the umask, like any file the user's programs create.
    Raises :class:`WriteError` when the folder, the temporary file or the rename fails at the
    operating-system level; any other exception from ``write`` propagates unchanged. Either way
    the temporary file is removed and the file at ``path``, if there was one, is untouched.
    """
    path = Path(path)
    previous_kept = path.is_file()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        code, reason = _describe(error)
        reason = f"cannot create the folder {path.parent}: {reason}"
        raise WriteError(path, reason, previous_kept=previous_kept, code=code) from error
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
    try:
        os.close(os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
        mode = temporary.stat().st_mode & 0o777  # 0o666 less the umask, learnt without a race
        write(temporary)
        os.chmod(temporary, mode)  # a serializer may have replaced it with its own 0o600 file
        os.replace(temporary, path)
    except BaseException as error:
        with contextlib.suppress(OSError):
            temporary.unlink(missing_ok=True)
        if isinstance(error, WriteError) or not _is_write_failure(error):
            raise
        raise WriteError(path, error, previous_kept=previous_kept) from error
    return path


def atomic_write_text(path: str | Path, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically; see :func:`atomic_write`."""
    return atomic_write(path, lambda temporary: temporary.write_text(text, encoding="utf-8"))


def atomic_write_bytes(path: str | Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically; see :func:`atomic_write`."""
    return atomic_write(path, lambda temporary: temporary.write_bytes(data))
