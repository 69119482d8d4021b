"""One writer per sweep: an exclusive lock on a file beside the store, held while it is open.

Two processes writing one sweep would both train every unfinished run, and each clears a run
directory before training into it, so one could delete the other's half-written run and
record a false failure. The store's writer therefore holds an exclusive, non-blocking
``flock`` on ``sweep.lock`` (in the sweep directory) for as long as it keeps the store open,
with its process id written in the file; a second writer is refused at once with that id.

The lock belongs to the open file, not to the file's existence: the operating system drops
it the moment the holder exits, however it exits (``kill -9`` included), so a stale
``sweep.lock`` left behind never blocks a later sweep, and the file is never deleted (deleting
a lock file lets two processes lock two different files of one name). Readers (``chainrule
compare``) take no lock. Where ``fcntl`` is missing (Windows), ``msvcrt.locking`` locks one
byte past the process id instead, with the same meaning.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["SweepLocked", "WriterLock"]

#: Where the Windows fallback locks (past the process id, which must stay readable).
_WINDOWS_LOCK_OFFSET = 64


class SweepLocked(RuntimeError):
    """Another live process holds the sweep's writer lock."""

    def __init__(self, message: str, holder: int | None) -> None:
        super().__init__(message)
        self.holder = holder


class WriterLock:
    """An exclusive lock on ``path``; :meth:`acquire` takes it, :meth:`release` drops it."""

    def __init__(self, path: Path, descriptor: int) -> None:
        self.path = path
        self._descriptor: int | None = descriptor

    @classmethod
    def acquire(cls, path: str | Path, what: str) -> WriterLock:
        """Lock ``path`` (created if missing) for this process, and write its id in it.

        ``what`` names the thing locked in the refusal (e.g. the sweep directory). Raises
        :class:`SweepLocked` naming the holder's process id when another process holds it.
        """
        path = Path(path)
        descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            if not _try_lock(descriptor):
                holder = _read_holder(descriptor)
                who = f"process {holder}" if holder is not None else "another process"
                raise SweepLocked(
                    f"{what} is being written by another sweep ({who}, lock {path}); wait for "
                    "it to finish or stop it, then resume",
                    holder,
                )
            os.ftruncate(descriptor, 0)
            os.lseek(descriptor, 0, os.SEEK_SET)
            os.write(descriptor, f"{os.getpid()}\n".encode())
        except BaseException:
            os.close(descriptor)
            raise
        return cls(path, descriptor)

    @property
    def held(self) -> bool:
        return self._descriptor is not None

    def release(self) -> None:
        """Drop the lock (closing the file drops it too); a second call does nothing."""
        if self._descriptor is None:
            return
        descriptor, self._descriptor = self._descriptor, None
        try:
            _unlock(descriptor)
        finally:
            os.close(descriptor)


def _read_holder(descriptor: int) -> int | None:
    """The process id the holder wrote, or None (it has not written it yet)."""
    os.lseek(descriptor, 0, os.SEEK_SET)
    text = os.read(descriptor, 32).decode("ascii", "replace").strip()
    return int(text) if text.isdigit() else None


try:
    import fcntl
except ImportError:  # Windows
    import msvcrt

    def _try_lock(descriptor: int) -> bool:
        os.lseek(descriptor, _WINDOWS_LOCK_OFFSET, os.SEEK_SET)
        try:
            msvcrt.locking(descriptor, msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True

    def _unlock(descriptor: int) -> None:
        os.lseek(descriptor, _WINDOWS_LOCK_OFFSET, os.SEEK_SET)
        msvcrt.locking(descriptor, msvcrt.LK_UNLCK, 1)

else:

    def _try_lock(descriptor: int) -> bool:
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True

    def _unlock(descriptor: int) -> None:
        fcntl.flock(descriptor, fcntl.LOCK_UN)
