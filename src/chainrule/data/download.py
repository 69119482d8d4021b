"""Downloading a dataset's official files into the user cache, verified and atomic.

Each file is tried on the catalogue's mirrors in turn. Downloads are checked by size and
checksum (SHA-256, or MD5 where no verified SHA-256 exists), written to a temporary file in the
cache and moved into place with ``os.replace``, so a file under its final name is always
complete; a rich progress bar shows each file, and when every mirror fails the error lists each
attempt and where to put the files by hand (the usual message when offline).
"""

from __future__ import annotations

import hashlib
import http.client
import os
import tempfile
import urllib.error
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from chainrule.data.catalogue import (
    SPLITS,
    DatasetInfo,
    RemoteFile,
    get_dataset_info,
    normalize_splits,
)
from chainrule.data.lookup import (
    SearchLocation,
    SplitFiles,
    dataset_not_found,
    find_file,
    find_splits,
    user_cache_root,
)

if TYPE_CHECKING:
    from rich.progress import Progress, TaskID

DOWNLOAD_CHUNK_BYTES = 1 << 16
DEFAULT_TIMEOUT_SECONDS = 60.0
_USER_AGENT = "chainrule-dataset-fetch/0.1 (+python urllib)"


class DownloadError(OSError):
    """One download attempt from one mirror failed (network, HTTP status, short body)."""


class ChecksumError(DownloadError):
    """A downloaded file's size or digest differs from the registry's: never kept."""


def file_digest(path: str | os.PathLike[str], algorithm: str = "sha256") -> str:
    """Hex digest of a file, read in chunks (the image files are tens of MB)."""
    digest = hashlib.new(algorithm)
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _make_progress(enabled: bool) -> Progress:
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
        TransferSpeedColumn,
    )

    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        console=Console(stderr=True),
        disable=not enabled,
        transient=False,
    )


def download_file(
    url: str,
    remote: RemoteFile,
    destination: Path,
    timeout: float = DEFAULT_TIMEOUT_SECONDS,
    progress: Progress | None = None,
    task_id: TaskID | None = None,
) -> Path:
    """Download ``url`` to ``destination`` atomically, verifying size and checksum.

    The bytes stream into a temporary file next to ``destination`` (same file system, so the
    final ``os.replace`` is atomic); on any failure the temporary file is removed, so a partial
    or corrupt file never appears under the final name. Raises ``DownloadError`` (network,
    HTTP, short body) or ``ChecksumError`` (wrong size or digest).
    """
    algorithm, expected_digest = remote.checksum
    hasher = hashlib.new(algorithm)
    received = 0
    declared_length: int | None = None
    handle, temp_name = tempfile.mkstemp(
        prefix=f".{remote.name}.", suffix=".part", dir=destination.parent
    )
    temp_path = Path(temp_name)
    try:
        request = urllib.request.Request(url, headers={"User-Agent": _USER_AGENT})
        with (
            os.fdopen(handle, "wb") as out,
            urllib.request.urlopen(request, timeout=timeout) as response,
        ):
            header = response.headers.get("Content-Length")
            declared_length = int(header) if header and header.isdigit() else None
            if progress is not None and task_id is not None:
                progress.reset(task_id, total=declared_length or remote.size)
            while chunk := response.read(DOWNLOAD_CHUNK_BYTES):
                out.write(chunk)
                hasher.update(chunk)
                received += len(chunk)
                if progress is not None and task_id is not None:
                    progress.advance(task_id, len(chunk))
        if declared_length is not None and received < declared_length:
            raise DownloadError(
                f"{url}: connection closed after {received:,} of {declared_length:,} bytes "
                "(interrupted download; nothing was kept)"
            )
        if received != remote.size:
            raise ChecksumError(
                f"{url}: {remote.name} is {received:,} bytes, expected {remote.size:,} "
                "(wrong or corrupt file on this mirror; nothing was kept)"
            )
        actual_digest = hasher.hexdigest()
        if actual_digest != expected_digest:
            raise ChecksumError(
                f"{url}: {algorithm} mismatch for {remote.name}: expected {expected_digest}, "
                f"got {actual_digest} (corrupt or altered download; nothing was kept)"
            )
        os.chmod(temp_path, 0o644)  # mkstemp makes 0600; a cache file is ordinary data
        os.replace(temp_path, destination)
    except urllib.error.HTTPError as error:
        temp_path.unlink(missing_ok=True)
        raise DownloadError(f"{url}: HTTP {error.code} {error.reason}") from None
    except urllib.error.URLError as error:
        temp_path.unlink(missing_ok=True)
        raise DownloadError(f"{url}: {error.reason}") from None
    except (http.client.HTTPException, TimeoutError, ConnectionError) as error:
        temp_path.unlink(missing_ok=True)
        raise DownloadError(
            f"{url}: {type(error).__name__}: {error} (interrupted download; nothing was kept)"
        ) from None
    except BaseException:
        temp_path.unlink(missing_ok=True)
        raise
    return destination


def _join_url(base: str, file_name: str) -> str:
    return base if base.endswith(file_name) else base.rstrip("/") + "/" + file_name


class _FetchFailure(Exception):
    """Internal: every mirror failed for one file; carries the per-mirror reasons."""

    def __init__(self, remote: RemoteFile) -> None:
        super().__init__(remote.name)
        self.remote = remote
        self.reasons: list[str] = []


def fetch(
    name: str | DatasetInfo,
    cache_dir: str | os.PathLike[str] | None = None,
    mirrors: Sequence[str] | None = None,
    progress: bool = True,
    splits: str | Sequence[str] = SPLITS,
    timeout: float = DEFAULT_TIMEOUT_SECONDS,
) -> dict[str, SplitFiles]:
    """Download the files of ``splits`` that the cache lacks; return ``{split: SplitFiles}``.

    Each file is tried on every mirror in turn (``mirrors`` overrides the registry's list, e.g.
    a loopback server in tests). Files already in the cache are kept. When some file cannot be
    had from any mirror, raises one ``DatasetNotFoundError`` listing every attempt and where to
    put the files by hand.
    """
    info = get_dataset_info(name)
    wanted = normalize_splits(splits)
    target = Path(cache_dir) if cache_dir is not None else user_cache_root() / info.name
    target.mkdir(parents=True, exist_ok=True)
    mirror_list = tuple(mirrors) if mirrors is not None else info.mirrors
    try:
        with _make_progress(progress) as bar:
            for remote in info.files(wanted):
                if find_file(target, remote.name) is None:
                    _fetch_one(remote, mirror_list, target / remote.name, timeout, bar, info)
    except _FetchFailure as failure:
        locations = [SearchLocation(target, "user cache")]
        raise dataset_not_found(
            info, wanted, locations, failure.reasons, download_tried=True
        ) from None
    return find_splits(info, wanted, [SearchLocation(target, "user cache")])


def _fetch_one(
    remote: RemoteFile,
    mirrors: Sequence[str],
    destination: Path,
    timeout: float,
    bar: Progress,
    info: DatasetInfo,
) -> None:
    failure = _FetchFailure(remote)
    if not mirrors:
        failure.reasons.append(f"{remote.name}: no mirrors configured")
        raise failure
    task_id = bar.add_task(f"{info.name}/{remote.name}", total=remote.size)
    for mirror in mirrors:
        url = _join_url(mirror, remote.name)
        try:
            download_file(url, remote, destination, timeout, bar, task_id)
            return
        except DownloadError as error:
            failure.reasons.append(str(error))
            if not bar.disable:  # progress=False also means no chatter
                bar.console.print(f"[yellow]download failed:[/yellow] {error}", highlight=False)
    raise failure
