"""Your own handwriting → an MNIST-style 28×28 image, the way MNIST itself was made.

LeCun, Cortes and Burges built MNIST from NIST's scans like this: the digit, white on black,
was scaled so that its bounding box fits a 20×20 box with the aspect ratio kept (antialiased,
so the edges are grey levels), and pasted into a 28×28 field so that its centre of mass sits
at the centre. A photo or a scan of a digit needs a few steps first to look like NIST's
white-on-black ink. :func:`to_mnist` does all of them, in this order (the keys of the steps it
returns with ``return_steps=True``):

    original    the image as RGB, any transparency composited onto white paper
    grey        luminance 0..255 (ITU-R 601, Pillow's "L")
    inverted    ink made bright: inverted when the *border* is lighter than the ink, which is
                decided from the border pixels, not assumed
    normalized  paper suppressed and contrast stretched: a plane a + b·x + c·y is fitted to the
                border pixels (robustly, so ink that touches the border and a lighting
                gradient do no harm) and subtracted, so the paper is 0; the ink level (the
                median of the pixels Otsu's threshold calls ink, both as they are and on a
                lightly smoothed copy) becomes 255, darker ink clipped there. Grey levels in
                between stay grey: antialiased edges survive. The paper's noise σ is measured
                on the border; this step shows it cut at 3σ, but the digit itself is cut only
                after scaling, when averaging has shrunk the noise, so faint edges survive.
    cropped     the bounding box of the ink, grown to take in its faint edges (pixels 4σ
                above the paper, in rows and columns holding two of them when the paper is
                noisy): isolated noise pixels do not stretch it
    scaled      the longer side scaled to 20 px, the aspect ratio kept (Lanczos, antialiased),
                the noise left after averaging cut at 3σ, the brightest pixel stretched to
                255, as in MNIST
    centred     pasted into 28×28 so that the centre of mass lands on pixel (14, 14), shifting
                by the rounded offset as MNIST did (MNIST's own test digits have their centre
                of mass at row 13.99 ± 0.29, column 14.01 ± 0.29)

The result is uint8 (28, 28), white digit on black, ready for a model's own stored
:class:`~chainrule.data.preprocessing.Preprocessing`.

Images are bounded: a file or upload declaring more than ``MAX_PIXELS`` pixels is refused
from its header, before a byte of it is decoded (a phone photo is 12–50 megapixels; a small
PNG can declare 177 and take a gigabyte to decode), and so is an image or array passed in.
"""

from __future__ import annotations

import io
import re
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

MNIST_SIZE = 28
BOX_SIZE = 20
#: MNIST's centre of mass, in pixel indices (row, column): measured on its test split.
CENTRE = (14.0, 14.0)
#: Larger images are first reduced to this longer side: plenty for a 20 px digit.
WORKING_SIZE = 1024
#: The ink must stand this far (in grey levels 0..255) above the paper to count as ink.
MIN_CONTRAST = 24.0
#: The most pixels an image may have (width × height): above any phone photo (12–50 Mpx),
#: and far below Pillow's own bomb limit (179 Mpx), which would let one small file take a
#: gigabyte of memory. A 64 Mpx RGB image decodes into 192 MB.
MAX_PIXELS = 64_000_000

#: The steps :func:`to_mnist` returns, in order, with the titles figures give them.
STEP_TITLES = {
    "original": "original",
    "grey": "grey",
    "inverted": "ink bright",
    "normalized": "paper removed",
    "cropped": "cropped",
    "scaled": "20 px",
    "centred": "centred 28×28",
}
STEP_NAMES = tuple(STEP_TITLES)


class ImageError(ValueError):
    """An image that cannot become an MNIST digit: unreadable, empty, or blank.

    ``reason`` says what is wrong; ``path`` names the file when there is one, and then the
    message reads ``"<path>: <reason>"``.
    """

    def __init__(self, reason: str, path: str | Path | None = None) -> None:
        self.reason = reason
        self.path = None if path is None else str(path)
        super().__init__(reason if path is None else f"{path}: {reason}")


# --------------------------------------------------------------------------- loading


def load_image(path: str | Path) -> Image.Image:
    """Open an image file (PNG, JPEG, BMP … anything Pillow reads), fully decoded.

    Raises :class:`ImageError` naming the file when it is missing or not a readable image.
    The EXIF orientation of a photo is applied, so a phone picture comes out upright.
    """
    path = Path(path)
    if not path.is_file():
        reason = "is a directory, not an image file" if path.is_dir() else "file not found"
        raise ImageError(reason, path)
    return _decode(path, path)


def decode_image(data: bytes) -> Image.Image:
    """An image from the bytes of a PNG, JPEG, BMP … file (an upload, a canvas snapshot)."""
    if not data:
        raise ImageError("no image data (0 bytes)")
    return _decode(io.BytesIO(data), None)


def _decode(source: Path | io.BytesIO, path: Path | None) -> Image.Image:
    try:
        with warnings.catch_warnings():
            # Pillow warns above 89 Mpx; the size is checked here, before decoding, instead.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image_file = Image.open(source)  # reads the header only
        with image_file as image:
            check_image_size(image.width, image.height, path)
            image.load()
            return ImageOps.exif_transpose(image)
    except ImageError:
        raise
    except UnidentifiedImageError:
        raise ImageError("not an image Pillow can read (PNG, JPEG, BMP …)", path) from None
    except Image.DecompressionBombError as error:  # over 179 Mpx: Pillow refuses to open it
        declared = re.search(r"\((\d+) pixels\)", str(error))
        size = f"{int(declared[1]) / 1e6:.0f} megapixels" if declared else "over 179 megapixels"
        raise ImageError(f"too large: {size}; {_size_limit_text()}", path) from None
    except (OSError, ValueError, SyntaxError) as error:
        raise ImageError(f"unreadable: the image is corrupt or truncated ({error})", path) from None


def check_image_size(width: int, height: int, path: str | Path | None = None) -> None:
    """Refuse an image of more than ``MAX_PIXELS`` pixels (:class:`ImageError`, one line)."""
    pixels = width * height
    if pixels > MAX_PIXELS:
        raise ImageError(
            f"too large: {width}×{height} pixels ({pixels / 1e6:.0f} megapixels); "
            + _size_limit_text(),
            path,
        )


def _size_limit_text() -> str:
    return (
        f"images may have at most {MAX_PIXELS / 1e6:.0f} megapixels (a phone photo has "
        "12–50): scale it down or crop it to the digit"
    )


# --------------------------------------------------------------------------- the pipeline


def to_mnist(
    image: Image.Image | np.ndarray, return_steps: bool = False
) -> np.ndarray | tuple[np.ndarray, dict[str, np.ndarray]]:
    """An image of a handwritten digit → uint8 (28, 28) as MNIST made them (see the module).

    ``image`` is a PIL image (any mode) or an array: (h, w) grey, (h, w, 3) RGB or
    (h, w, 4) RGBA; uint8 in 0..255, or floats in 0..1 (floats above 1 are read as 0..255).
    With ``return_steps=True`` returns ``(digit, steps)``, ``steps`` mapping each name in
    :data:`STEP_NAMES` to its image (uint8; ``original`` is RGB).
    Raises :class:`ImageError` for an empty image or one with no ink on it.
    """
    original = _as_rgb(image)
    grey = _luminance(original)
    inverted = _ink_bright(grey)
    contrast, noise, ink_mask = _normalize(inverted)
    top, bottom, left, right = _ink_box(contrast, noise, ink_mask)
    scaled = _scale_to_box(contrast[top:bottom, left:right], noise)
    centred = _centre(scaled)
    if not return_steps:
        return centred
    # For the eye, the paper's noise cut at 3σ (the digit itself is cut only after scaling)
    floor = min(3.0 * noise, 254.0)
    normalized = np.clip((contrast - floor) * (255.0 / (255.0 - floor)), 0.0, 255.0)
    steps = {
        "original": original,
        "grey": _to_uint8(grey),
        "inverted": _to_uint8(inverted),
        "normalized": _to_uint8(normalized),
        "cropped": _to_uint8(normalized[top:bottom, left:right]),
        "scaled": _to_uint8(scaled),
        "centred": centred,
    }
    return centred, steps


def _as_rgb(image: Image.Image | np.ndarray) -> np.ndarray:
    """uint8 (h, w, 3), transparency composited onto white, reduced to WORKING_SIZE."""
    if isinstance(image, np.ndarray):
        if image.ndim >= 2:
            check_image_size(image.shape[1], image.shape[0])
        image = _array_to_image(image)
    elif not isinstance(image, Image.Image):
        raise TypeError(f"image must be a PIL.Image or a NumPy array, got {type(image).__name__}")
    check_image_size(image.width, image.height)
    if image.width == 0 or image.height == 0:
        raise ImageError(f"the image is empty ({image.width}×{image.height} pixels)")
    if image.mode.startswith("I") or image.mode == "F":
        image = _wide_to_grey(image)
    if image.has_transparency_data:
        rgba = image.convert("RGBA")
        paper = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        image = Image.alpha_composite(paper, rgba)
    image = image.convert("RGB")
    longer = max(image.size)
    if longer > WORKING_SIZE:
        factor = WORKING_SIZE / longer
        size = (max(1, round(image.width * factor)), max(1, round(image.height * factor)))
        image = image.resize(size, Image.Resampling.BOX)
    return np.asarray(image, dtype=np.uint8)


def _array_to_image(array: np.ndarray) -> Image.Image:
    if array.ndim not in (2, 3) or (array.ndim == 3 and array.shape[2] not in (1, 3, 4)):
        raise ImageError(
            f"an image array must be (h, w), (h, w, 3) or (h, w, 4), got shape {array.shape}"
        )
    if array.size == 0:
        raise ImageError(f"the image is empty (shape {array.shape})")
    if array.dtype.kind not in "biuf":
        raise TypeError(f"an image array must be numeric, got dtype {array.dtype}")
    values = array.astype(np.float64)
    if not np.all(np.isfinite(values)):
        raise ImageError("the image array contains NaN or infinite values")
    if array.dtype.kind == "b" or (array.dtype.kind == "f" and values.max() <= 1.0):
        values = values * 255.0
    values = np.clip(np.rint(values), 0, 255).astype(np.uint8)
    if values.ndim == 3 and values.shape[2] == 1:
        values = values[:, :, 0]
    mode = {2: "L", 3: "RGB", 4: "RGBA"}[values.shape[2] if values.ndim == 3 else 2]
    return Image.fromarray(values, mode)


def _wide_to_grey(image: Image.Image) -> Image.Image:
    """16-bit, 32-bit integer and float images → "L", by their range (not by clipping)."""
    values = np.asarray(image, dtype=np.float64)
    top = 1.0 if image.mode == "F" and values.max() <= 1.0 else 255.0
    if top == 255.0 and values.max() > 255:
        top = 65535.0
    return Image.fromarray(np.clip(np.rint(values / top * 255), 0, 255).astype(np.uint8), "L")


def _luminance(rgb: np.ndarray) -> np.ndarray:
    """Grey levels 0..255 as float64: ITU-R 601-2 luma, the weights Pillow's "L" uses."""
    return rgb[..., 0] * 0.299 + rgb[..., 1] * 0.587 + rgb[..., 2] * 0.114


def _border(values: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The pixels of a frame 4 % of the shorter side wide (at least 1): values, rows, cols."""
    height, width = values.shape
    thickness = max(1, round(0.04 * min(height, width)))
    mask = np.zeros(values.shape, dtype=bool)
    mask[:thickness] = mask[-thickness:] = True
    mask[:, :thickness] = mask[:, -thickness:] = True
    rows, cols = np.nonzero(mask)
    return values[rows, cols], rows, cols


def _ink_bright(grey: np.ndarray) -> np.ndarray:
    """Make the ink bright: invert when the paper is lighter than the ink.

    The paper's level is the border's median; the ink is whichever extreme of the (lightly
    smoothed, so that pixel noise has no say) image lies farther from it, the darkest or the
    brightest. Percentiles would not do: a thin digit on a large page is under 1 % of it.
    """
    border, _, _ = _border(grey)
    paper = float(np.median(border))
    smooth = _smooth(grey, _smoothing_radius(grey.shape))
    background_is_light = paper - smooth.min() > smooth.max() - paper
    return 255.0 - grey if background_is_light else grey


def _paper_plane(values: np.ndarray) -> tuple[np.ndarray, float]:
    """The paper's level as a plane a + b·x + c·y fitted to the border, and its noise σ.

    Least squares, refitted twice without the pixels more than 3σ from the fit (ink that
    touches the border); σ is the median absolute deviation × 1.4826 (σ for Gaussian noise).
    """
    border, rows, cols = _border(values)
    height, width = values.shape
    y = rows / max(height - 1, 1) - 0.5
    x = cols / max(width - 1, 1) - 0.5
    design = np.column_stack([np.ones_like(x), x, y])
    keep = np.ones(border.shape, dtype=bool)
    coefficients = np.array([np.median(border), 0.0, 0.0])
    sigma = 0.0
    for _ in range(3):
        coefficients, *_ = np.linalg.lstsq(design[keep], border[keep], rcond=None)
        residual = border - design @ coefficients
        sigma = 1.4826 * float(np.median(np.abs(residual[keep] - np.median(residual[keep]))))
        keep_next = np.abs(residual) <= max(3 * sigma, 1.0)
        if keep_next.sum() < 3 or np.array_equal(keep_next, keep):
            break
        keep = keep_next
    grid_y = np.linspace(-0.5, 0.5, height)[:, None]
    grid_x = np.linspace(-0.5, 0.5, width)[None, :]
    plane = coefficients[0] + coefficients[1] * grid_x + coefficients[2] * grid_y
    return plane, sigma


def _otsu_threshold(values: np.ndarray) -> float:
    """Otsu's threshold: the cut of a 256-bin histogram that maximizes between-class variance."""
    low, high = float(values.min()), float(values.max())
    if high <= low:
        return high
    counts, edges = np.histogram(values, bins=256, range=(low, high))
    centres = (edges[:-1] + edges[1:]) / 2
    weight_below = np.cumsum(counts)
    weight_above = weight_below[-1] - weight_below
    sum_below = np.cumsum(counts * centres)
    mean_below = sum_below / np.maximum(weight_below, 1)
    mean_above = (sum_below[-1] - sum_below) / np.maximum(weight_above, 1)
    between = weight_below * weight_above * (mean_below - mean_above) ** 2
    return float(edges[int(np.argmax(between)) + 1])


def _smooth(values: np.ndarray, radius: int) -> np.ndarray:
    """A (2r+1)×(2r+1) box blur (the mean of each pixel's square), edges extended.

    Each axis is one running sum (cumsum), so the cost does not grow with r. Pixel noise
    shrinks by about 2r+1; a pen stroke wider than the box keeps its level and its edges.
    """
    if radius < 1:
        return values
    width = 2 * radius + 1
    out = np.pad(values.astype(np.float32), radius, mode="edge")
    for axis in (0, 1):
        total = np.cumsum(out, axis=axis)
        total = np.concatenate([np.zeros_like(total.take([0], axis=axis)), total], axis=axis)
        if axis == 0:
            out = (total[width:] - total[:-width]) / width
        else:
            out = (total[:, width:] - total[:, :-width]) / width
    return out.astype(np.float64)


def _smoothing_radius(shape: tuple[int, ...]) -> int:
    """1 % of the shorter side, at most 3 px (a 7×7 box): it divides pixel noise by ~7 and
    still leaves a thin pen line standing clear of the paper."""
    return int(min(min(shape) // 100, 3))


def _normalize(inverted: np.ndarray) -> tuple[np.ndarray, float, np.ndarray]:
    """Paper → 0 and ink → 255, linearly, darker ink clipped at 255: returns that image (the
    paper's noise still scatters around 0), the noise σ in its units, and the ink mask."""
    plane, sigma = _paper_plane(inverted)
    signal = inverted - plane
    smooth = _smooth(signal, _smoothing_radius(signal.shape))
    noise_floor = 3.0 * sigma
    threshold = max(_otsu_threshold(smooth), noise_floor + MIN_CONTRAST / 2)
    ink_mask = smooth > threshold
    if not ink_mask.any():
        raise ImageError(
            "no ink found: the image is blank (nothing stands out from the paper by "
            f"{MIN_CONTRAST:.0f} grey levels or more)"
        )
    # the mask is found on the smoothed copy, so around a thin line it also holds paper:
    # the ink level is taken from the pixels that are above the threshold themselves
    core = ink_mask & (signal > threshold)
    ink_level = float(np.median(signal[core])) if core.any() else 0.0
    if ink_level - noise_floor < MIN_CONTRAST:
        raise ImageError(
            f"no ink found: the darkest strokes differ from the paper by only "
            f"{ink_level:.0f} grey levels (noise ±{sigma:.0f}); is the image blank?"
        )
    gain = 255.0 / ink_level
    return np.minimum(signal * gain, 255.0), sigma * gain, ink_mask


def _ink_box(contrast: np.ndarray, noise: float, ink_mask: np.ndarray) -> tuple[int, int, int, int]:
    """(top, bottom, left, right), half-open: the ink mask's box, grown to take in the faint
    antialiased edge around it, as MNIST's box holds every nonzero pixel.

    The edge is looked for within a smoothing radius + 1 of the mask: pixels that stand 4σ
    above the paper (at least half a grey level), in rows and columns that hold two such
    pixels or more when the paper is noisy, so that a lone noise pixel moves nothing.
    """
    rows = np.flatnonzero(ink_mask.any(axis=1))
    cols = np.flatnonzero(ink_mask.any(axis=0))
    margin = _smoothing_radius(contrast.shape) + 1
    height, width = contrast.shape
    top, bottom = max(rows[0] - margin, 0), min(rows[-1] + 1 + margin, height)
    left, right = max(cols[0] - margin, 0), min(cols[-1] + 1 + margin, width)
    cut = max(4.0 * noise, 0.5)
    needed = 1 if cut == 0.5 else 2
    edge = contrast[top:bottom, left:right] >= cut
    edge_rows = np.flatnonzero(edge.sum(axis=1) >= needed)
    edge_cols = np.flatnonzero(edge.sum(axis=0) >= needed)
    return (
        int(min(rows[0], top + edge_rows[0]) if edge_rows.size else rows[0]),
        int(max(rows[-1] + 1, top + edge_rows[-1] + 1) if edge_rows.size else rows[-1] + 1),
        int(min(cols[0], left + edge_cols[0]) if edge_cols.size else cols[0]),
        int(max(cols[-1] + 1, left + edge_cols[-1] + 1) if edge_cols.size else cols[-1] + 1),
    )


def _scale_to_box(cropped: np.ndarray, noise: float) -> np.ndarray:
    """Longer side → 20 px, aspect ratio kept (Lanczos); then the paper's noise, averaged down
    by the shrinking, is cut at 3σ and the brightest pixel stretched to 255.

    Cutting the noise only *after* shrinking keeps the faint edges of the strokes that a cut
    at full size (3σ of the unaveraged noise) would shave off, thinning every stroke.
    """
    height, width = cropped.shape
    shrink = max(height, width) / BOX_SIZE
    size = (max(1, round(width / shrink)), max(1, round(height / shrink)))
    resized = Image.fromarray(cropped.astype(np.float32), "F").resize(
        size, Image.Resampling.LANCZOS
    )
    noise_left = noise / max(shrink, 1.0)  # averaging ~shrink² pixels divides σ by ~shrink
    scaled = np.clip(np.asarray(resized, dtype=np.float64) - 3.0 * noise_left, 0.0, None)
    top = scaled.max()
    return scaled * (255.0 / top) if top > 0 else scaled


def _centre(scaled: np.ndarray) -> np.ndarray:
    """Paste into 28×28 with the centre of mass on CENTRE (kept wholly inside the field)."""
    height, width = scaled.shape
    mass = scaled.sum()
    row = float((scaled.sum(axis=1) * np.arange(height)).sum() / mass)
    col = float((scaled.sum(axis=0) * np.arange(width)).sum() / mass)
    top = int(np.clip(round(CENTRE[0] - row), 0, MNIST_SIZE - height))
    left = int(np.clip(round(CENTRE[1] - col), 0, MNIST_SIZE - width))
    field = np.zeros((MNIST_SIZE, MNIST_SIZE), dtype=np.float64)
    field[top : top + height, left : left + width] = scaled
    return _to_uint8(field)


def _to_uint8(values: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(values), 0, 255).astype(np.uint8)
