"""Read and write IDX files, the format MNIST, Fashion-MNIST and KMNIST ship in.

An IDX file is a tiny header followed by raw big-endian numbers:

    byte 0, 1   0x00 0x00          (the magic number starts with two zero bytes)
    byte 2      type code          0x08 ubyte, 0x09 byte, 0x0B short, 0x0C int, 0x0D float, 0x0E double
    byte 3      ndim               number of dimensions
    4 * ndim    dims               each a big-endian unsigned 32-bit integer
    rest        payload            prod(dims) items of the given type, C order

The files are usually gzip-compressed. Whether a file is compressed is decided from its first
two bytes (the gzip magic 0x1f 0x8b), never from its name: people rename, unzip and re-zip these
files, and a ``.gz`` name on a raw file (or the reverse) should not stop them.

Every check raises ``ValueError`` naming the file and what was wrong, because a truncated
download otherwise surfaces far away as a baffling ``reshape`` error.
"""

from __future__ import annotations

import gzip
import os
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from chainrule.nn.memory import MemoryEstimate, check_memory
from chainrule.utils.atomic import atomic_write_bytes

GZIP_MAGIC = b"\x1f\x8b"

# type code -> (dtype as stored, i.e. big-endian, human name)
IDX_TYPES: dict[int, tuple[np.dtype, str]] = {
    0x08: (np.dtype(">u1"), "unsigned byte"),
    0x09: (np.dtype(">i1"), "signed byte"),
    0x0B: (np.dtype(">i2"), "short"),
    0x0C: (np.dtype(">i4"), "int"),
    0x0D: (np.dtype(">f4"), "float"),
    0x0E: (np.dtype(">f8"), "double"),
}
# native dtype -> type code, for writing
_CODE_FOR_DTYPE: dict[np.dtype, int] = {
    np.dtype(stored.newbyteorder("=")): code for code, (stored, _) in IDX_TYPES.items()
}

#: Compressed bytes fed to zlib at a time: at most 8.3 MB of output each, however crafted.
_GZIP_STEP = 8192


@dataclass(frozen=True)
class IdxHeader:
    """What the header of an IDX file promises: the item type and the shape."""

    type_code: int
    shape: tuple[int, ...]
    header_bytes: int

    @property
    def dtype(self) -> np.dtype:
        return IDX_TYPES[self.type_code][0]

    @property
    def payload_bytes(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64)) * self.dtype.itemsize


def _type_codes_text() -> str:
    return ", ".join(f"0x{code:02X} {name}" for code, (_, name) in IDX_TYPES.items())


def _shape_text(shape: tuple[int, ...]) -> str:
    return "x".join(str(d) for d in shape)


def _payload_word(header: IdxHeader) -> str:
    """'pixel' for image stacks, 'label' for label vectors: the words a user thinks in."""
    if header.type_code == 0x08 and len(header.shape) == 3:
        return "pixel"
    if len(header.shape) == 1:
        return "label"
    return "item"


def parse_idx_header(data: bytes, source: str = "<bytes>") -> IdxHeader:
    """Decode and check the header at the start of ``data`` (uncompressed IDX bytes).

    ``source`` is only used in error messages (usually the file name).
    """
    if len(data) < 4:
        raise ValueError(
            f"{source}: not an IDX file: only {len(data)} bytes, the header alone needs at least 4"
        )
    if data[0] != 0 or data[1] != 0:
        first = " ".join(f"{b:02x}" for b in data[:4])
        raise ValueError(
            f"{source}: not an IDX file: wrong magic number (first bytes {first}; "
            "an IDX file starts with 00 00 <type code> <number of dimensions>)"
        )
    type_code, ndim = data[2], data[3]
    if type_code not in IDX_TYPES:
        raise ValueError(
            f"{source}: unknown IDX type code 0x{type_code:02X} in the magic number "
            f"(valid: {_type_codes_text()})"
        )
    if ndim == 0:
        raise ValueError(f"{source}: IDX header declares 0 dimensions; at least 1 is needed")
    header_bytes = 4 + 4 * ndim
    if len(data) < header_bytes:
        raise ValueError(
            f"{source}: IDX header declares {ndim} dimensions ({header_bytes} header bytes) "
            f"but the file has only {len(data)} bytes (file truncated?)"
        )
    shape = tuple(int(d) for d in np.frombuffer(data, dtype=">u4", count=ndim, offset=4))
    return IdxHeader(type_code=type_code, shape=shape, header_bytes=header_bytes)


def parse_idx(data: bytes, source: str = "<bytes>") -> np.ndarray:
    """Turn uncompressed IDX bytes into an array (native byte order, writable).

    Checks that the payload is exactly as long as the header's dimensions say, so a truncated
    or padded file is caught here, with the numbers, rather than later as a reshape error.
    """
    header = parse_idx_header(data, source)
    expected = header.payload_bytes
    found = len(data) - header.header_bytes
    if found != expected:
        word = _payload_word(header)
        hint = "file truncated?" if found < expected else "extra bytes after the data: corrupt?"
        raise ValueError(
            f"{source}: expected {expected:,} bytes of {word} data for "
            f"{_shape_text(header.shape)}, found {found:,} ({hint})"
        )
    flat = np.frombuffer(
        data,
        dtype=header.dtype,
        count=expected // header.dtype.itemsize,
        offset=header.header_bytes,
    )
    # One copy: makes the array writable and native-endian (frombuffer over bytes is read-only).
    return flat.astype(header.dtype.newbyteorder("="), copy=True).reshape(header.shape)


def _gunzip(raw: bytes, source: str) -> tuple[bytes, bool]:
    """Decompress gzip bytes; returns (data, complete) so a cut-off stream can be reported.

    Handles multi-member gzip files like ``gzip.decompress``; the CRC check is done by zlib.
    Bounded by the IDX header at the start of the stream: once it is out, what it declares
    (header + payload) is held against the free memory, and decompression, fed
    ``_GZIP_STEP`` bytes at a time (which deflate inflates 1032-fold at most), stops as soon as
    the output passes it. A gzip bomb (a small file that inflates to gigabytes) thus costs at
    most what its header admits to, never what it would inflate to.
    """
    out = bytearray()
    declared: int | None = None
    view, offset = memoryview(raw), 0
    while offset < len(raw):
        decompressor = zlib.decompressobj(16 + zlib.MAX_WBITS)
        while not decompressor.eof and offset < len(raw):
            piece = view[offset : offset + _GZIP_STEP]
            try:
                out += decompressor.decompress(piece)
            except zlib.error as error:
                raise ValueError(f"{source}: corrupt gzip data ({error})") from None
            offset += len(piece) - len(decompressor.unused_data)
            if declared is None:
                declared = _declared_size(out, source)
            if declared is not None and len(out) > declared:
                raise _more_than_declared(bytes(out[:declared]), source)
        if not decompressor.eof:
            return bytes(out), False
        # Trailing zero padding after the last member is legal in gzip files.
        if offset < len(raw) and raw[offset : offset + 2] != GZIP_MAGIC:
            break
    return bytes(out), True


def _declared_size(start: bytearray, source: str) -> int | None:
    """Header + payload bytes the IDX header at ``start`` declares, once all of it is there
    (None before); checked against the free memory, since reading it makes two copies."""
    if len(start) < 4:
        return None
    if start[0] != 0 or start[1] != 0 or start[2] not in IDX_TYPES or start[3] == 0:
        parse_idx_header(bytes(start), source)  # not an IDX stream: say why now, and stop
    if len(start) < 4 + 4 * start[3]:
        return None
    header = parse_idx_header(bytes(start[: 4 + 4 * start[3]]), source)
    check_memory(
        MemoryEstimate(
            f"reading {source}",
            {
                "decompressed": header.header_bytes + header.payload_bytes,
                "array": header.payload_bytes,
            },
            f"its header declares {_shape_text(header.shape)} items of "
            f"{IDX_TYPES[header.type_code][1]}",
            "is the file what its header says? (re-download or re-create it)",
        )
    )
    return header.header_bytes + header.payload_bytes


def _more_than_declared(data: bytes, source: str) -> ValueError:
    header = parse_idx_header(data, source)
    return ValueError(
        f"{source}: expected {header.payload_bytes:,} bytes of {_payload_word(header)} data "
        f"for {_shape_text(header.shape)}, but the gzip stream holds more (extra bytes after "
        "the data: corrupt, or not the file its header describes?)"
    )


def _truncated_gzip_error(data: bytes, source: str) -> ValueError:
    """The error for a gzip stream that stops early, with byte counts when the header survived."""
    try:
        header = parse_idx_header(data, source)
    except ValueError:
        return ValueError(
            f"{source}: the gzip stream ends early after {len(data):,} decompressed bytes "
            "(file truncated? delete it and copy or download it again)"
        )
    found = len(data) - header.header_bytes
    return ValueError(
        f"{source}: expected {header.payload_bytes:,} bytes of {_payload_word(header)} data "
        f"for {_shape_text(header.shape)}, found {found:,} before the gzip stream ends "
        "(file truncated?)"
    )


def read_idx_bytes(path: str | os.PathLike[str]) -> bytes:
    """The uncompressed IDX bytes of ``path``, gunzipping when it starts with the gzip magic."""
    path = Path(path)
    raw = path.read_bytes()
    if raw[:2] != GZIP_MAGIC:
        return raw
    data, complete = _gunzip(raw, path.name)
    if not complete:
        raise _truncated_gzip_error(data, path.name)
    return data


def read_idx(path: str | os.PathLike[str]) -> np.ndarray:
    """Read an IDX file (gzip-compressed or raw) into a NumPy array.

    Example: ``read_idx("t10k-images-idx3-ubyte.gz")`` -> uint8 array of shape (10000, 28, 28).
    Raises ``ValueError`` naming the file when the header or the payload length is wrong.
    """
    path = Path(path)
    return parse_idx(read_idx_bytes(path), path.name)


def read_idx_header(path: str | os.PathLike[str]) -> IdxHeader:
    """Read and check only the header: cheap, even for a 47 MB image file.

    Used to vet files found on disk before committing to load them; the payload length is
    checked later by ``read_idx``.
    """
    path = Path(path)
    with path.open("rb") as raw_file:
        start = raw_file.read(2)
    opener = gzip.open if start == GZIP_MAGIC else open
    try:
        with opener(path, "rb") as handle:
            head = handle.read(4)
            if len(head) == 4:
                head += handle.read(4 * head[3])
    except (OSError, EOFError, zlib.error) as error:
        raise ValueError(f"{path.name}: cannot read the IDX header ({error})") from None
    return parse_idx_header(head, path.name)


def write_idx(
    path: str | os.PathLike[str], array: np.ndarray, compress: bool | None = None
) -> Path:
    """Write ``array`` as an IDX file; gzip it when ``compress`` (default: name ends in .gz).

    The type code comes from the array's dtype (uint8 -> 0x08, int8, int16, int32, float32,
    float64). Gzip output uses mtime 0, so the same array always gives the same bytes, which
    keeps checksums in tests stable.
    """
    path = Path(path)
    array = np.asarray(array)
    code = _CODE_FOR_DTYPE.get(array.dtype.newbyteorder("="))
    if code is None:
        valid = ", ".join(str(d) for d in _CODE_FOR_DTYPE)
        raise TypeError(f"write_idx: dtype {array.dtype} has no IDX type code (valid: {valid})")
    if array.ndim == 0 or array.ndim > 255:
        raise ValueError(f"write_idx: array must have 1 to 255 dimensions, got {array.ndim}")
    header = bytes([0, 0, code, array.ndim]) + np.asarray(array.shape, dtype=">u4").tobytes()
    payload = np.ascontiguousarray(array, dtype=IDX_TYPES[code][0]).tobytes()
    if compress is None:
        compress = path.suffix == ".gz"
    data = header + payload
    if compress:
        data = gzip.compress(data, mtime=0)
    atomic_write_bytes(path, data)  # a full disk keeps the old file and says so in one line
    return path
