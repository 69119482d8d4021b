"""IDX files: round-trips, the real MNIST/Fashion-MNIST files, and one test per error message."""

from __future__ import annotations

import gzip
import hashlib
from pathlib import Path

import numpy as np
import pytest

from chainrule.data.idx import parse_idx, read_idx, read_idx_bytes, read_idx_header, write_idx

SHARED_DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"
MNIST_TEST_IMAGES = SHARED_DATA / "mnist" / "t10k-images-idx3-ubyte.gz"
MNIST_TEST_LABELS = SHARED_DATA / "mnist" / "t10k-labels-idx1-ubyte.gz"
FASHION_TEST_IMAGES = SHARED_DATA / "fashion-mnist" / "t10k-images-idx3-ubyte.gz"


def require(path: Path) -> Path:
    if not path.is_file():
        pytest.skip(f"offline dataset file not available: {path}")
    return path


def idx_header(type_code: int, *dims: int) -> bytes:
    return bytes([0, 0, type_code, len(dims)]) + np.asarray(dims, dtype=">u4").tobytes()


# --- round trips ------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.uint8, np.int8, np.int16, np.int32, np.float32, np.float64])
@pytest.mark.parametrize("file_name", ["array.idx", "array.idx.gz"])
def test_round_trip_every_type(tmp_path, dtype, file_name):
    rng = np.random.default_rng(0)
    array = (rng.standard_normal((4, 3, 5)) * 100).astype(dtype)
    path = write_idx(tmp_path / file_name, array)
    back = read_idx(path)
    assert back.dtype == np.dtype(dtype)
    assert back.dtype.isnative
    np.testing.assert_array_equal(back, array)
    back[0, 0, 0] = 1  # the returned array is writable


def test_round_trip_labels_vector(tmp_path):
    labels = np.arange(10, dtype=np.uint8)
    np.testing.assert_array_equal(read_idx(write_idx(tmp_path / "l.gz", labels)), labels)


def test_compression_is_detected_from_content_not_name(tmp_path):
    array = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    gz_named_raw = write_idx(tmp_path / "raw-but-named.gz", array, compress=False)
    raw_named_gz = write_idx(tmp_path / "gz-but-named.idx", array, compress=True)
    assert gz_named_raw.read_bytes()[:2] != b"\x1f\x8b"
    assert raw_named_gz.read_bytes()[:2] == b"\x1f\x8b"
    np.testing.assert_array_equal(read_idx(gz_named_raw), array)
    np.testing.assert_array_equal(read_idx(raw_named_gz), array)


def test_gzip_output_is_reproducible(tmp_path):
    array = np.ones((3, 2), dtype=np.uint8)
    first = write_idx(tmp_path / "a.gz", array).read_bytes()
    second = write_idx(tmp_path / "b.gz", array).read_bytes()
    assert first == second  # mtime 0: stable checksums for test fixtures


def test_header_only_read(tmp_path):
    path = write_idx(tmp_path / "x.gz", np.zeros((7, 28, 28), dtype=np.uint8))
    header = read_idx_header(path)
    assert header.shape == (7, 28, 28)
    assert header.type_code == 0x08
    assert header.payload_bytes == 7 * 28 * 28


def test_write_rejects_types_idx_cannot_hold(tmp_path):
    with pytest.raises(TypeError, match="no IDX type code"):
        write_idx(tmp_path / "x.idx", np.zeros(3, dtype=np.int64))


# --- the real files ---------------------------------------------------------------------------


def test_real_mnist_test_split():
    images = read_idx(require(MNIST_TEST_IMAGES))
    labels = read_idx(require(MNIST_TEST_LABELS))
    assert images.shape == (10000, 28, 28) and images.dtype == np.uint8
    assert labels.shape == (10000,) and labels.dtype == np.uint8
    assert set(np.unique(labels)) == set(range(10))
    assert labels[0] == 7  # the famous first test digit
    decompressed = read_idx_bytes(MNIST_TEST_IMAGES)
    assert hashlib.md5(decompressed).hexdigest() == "2646ac647ad5339dbf082846283269ea"


def test_real_fashion_mnist_test_images():
    images = read_idx(require(FASHION_TEST_IMAGES))
    assert images.shape == (10000, 28, 28)
    assert images.dtype == np.uint8


# --- errors: each names the file and says what is wrong --------------------------------------


def test_truncated_raw_file_reports_expected_and_found(tmp_path):
    path = tmp_path / "t10k-images-idx3-ubyte"
    path.write_bytes(idx_header(0x08, 10, 28, 28) + bytes(1024))
    with pytest.raises(ValueError) as error:
        read_idx(path)
    assert str(error.value) == (
        "t10k-images-idx3-ubyte: expected 7,840 bytes of pixel data for 10x28x28, "
        "found 1,024 (file truncated?)"
    )


def test_truncated_gzip_file(tmp_path):
    whole = gzip.compress(idx_header(0x08, 100, 28, 28) + bytes(range(256)) * 306, mtime=0)
    path = tmp_path / "train-images-idx3-ubyte.gz"
    path.write_bytes(whole[: len(whole) // 2])
    with pytest.raises(ValueError, match=r"train-images-idx3-ubyte\.gz: .*truncated"):
        read_idx(path)


def test_truncated_real_file(tmp_path):
    real = require(MNIST_TEST_IMAGES).read_bytes()
    path = tmp_path / "t10k-images-idx3-ubyte.gz"
    path.write_bytes(real[:50_000])
    with pytest.raises(ValueError) as error:
        read_idx(path)
    message = str(error.value)
    assert message.startswith("t10k-images-idx3-ubyte.gz: expected 7,840,000 bytes of pixel")
    assert "10000x28x28" in message and "file truncated?" in message


def test_corrupt_gzip_data(tmp_path):
    data = bytearray(gzip.compress(idx_header(0x08, 50) + bytes(50), mtime=0))
    data[-6] ^= 0xFF  # damage the CRC trailer
    path = tmp_path / "labels.gz"
    path.write_bytes(bytes(data))
    with pytest.raises(ValueError, match=r"labels\.gz: corrupt gzip data"):
        read_idx(path)


def test_wrong_magic_number(tmp_path):
    path = tmp_path / "picture.png"
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(100))
    with pytest.raises(ValueError, match=r"picture\.png: not an IDX file: wrong magic number"):
        read_idx(path)


def test_unknown_type_code(tmp_path):
    path = tmp_path / "odd.idx"
    path.write_bytes(idx_header(0x07, 3) + bytes(3))
    with pytest.raises(ValueError, match=r"odd\.idx: unknown IDX type code 0x07"):
        read_idx(path)


def test_wrong_count_in_header(tmp_path):
    path = tmp_path / "t10k-labels-idx1-ubyte"
    path.write_bytes(idx_header(0x08, 12) + bytes(10))  # header promises 12 labels, 10 follow
    with pytest.raises(ValueError) as error:
        read_idx(path)
    assert "expected 12 bytes of label data for 12, found 10" in str(error.value)


def test_extra_bytes_after_the_data(tmp_path):
    path = tmp_path / "labels.idx"
    path.write_bytes(idx_header(0x08, 5) + bytes(8))
    with pytest.raises(ValueError, match="found 8 .extra bytes after the data"):
        read_idx(path)


def test_header_cut_inside_the_dimensions():
    with pytest.raises(ValueError, match="declares 3 dimensions"):
        parse_idx(bytes([0, 0, 8, 3]) + bytes(5), "short.idx")


def test_empty_file(tmp_path):
    path = tmp_path / "empty.idx"
    path.write_bytes(b"")
    with pytest.raises(ValueError, match=r"empty\.idx: not an IDX file: only 0 bytes"):
        read_idx(path)


def test_a_gzip_bomb_stops_at_what_its_header_declares(tmp_path):
    """A 10-label header, then 1,024 gzip members of 1 MiB of zeros each: a 1 MB file that
    inflates to 1 GiB. Reading it stops one chunk past the 18 declared bytes."""
    import tracemalloc

    megabyte_of_zeros = gzip.compress(bytes(1 << 20), mtime=0)
    path = tmp_path / "labels.gz"
    path.write_bytes(gzip.compress(idx_header(0x08, 10) + bytes(10)) + megabyte_of_zeros * 1024)
    assert path.stat().st_size < 2 << 20
    tracemalloc.start()
    try:
        with pytest.raises(ValueError, match=r"labels\.gz: expected 10 bytes of label data for "
                           r"10, but the gzip stream holds more"):  # fmt: skip
            read_idx(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 16 << 20  # the file and a chunk or two, not the gigabyte


def test_a_header_declaring_more_than_the_free_memory_is_refused(tmp_path, monkeypatch):
    from chainrule.nn import memory

    monkeypatch.setattr(memory, "available_memory", lambda: memory.AvailableMemory(2**30, "test"))
    path = tmp_path / "images.gz"  # declares 10^6 images of 1000x1000 pixels: 2 TB to read
    path.write_bytes(gzip.compress(idx_header(0x08, 10**6, 1000, 1000) + bytes(100), mtime=0))
    with pytest.raises(ValueError) as caught:
        read_idx(path)
    message = str(caught.value)
    assert message.startswith("reading images.gz needs about ")
    assert "its header declares 1000000x1000x1000 items of unsigned byte" in message
    assert "this machine has 1 GiB available (test)" in message


def test_a_gzipped_file_that_is_not_idx_is_refused_from_its_first_bytes(tmp_path):
    path = tmp_path / "notes.gz"
    path.write_bytes(gzip.compress(b"hello world, not an IDX file", mtime=0))
    with pytest.raises(ValueError, match=r"notes\.gz: not an IDX file: wrong magic number"):
        read_idx(path)
