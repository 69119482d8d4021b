"""Turn raw IDX arrays into network inputs and targets, in plain NumPy.

Everything here is vectorized over the batch and returns float32 unless asked otherwise
(``dtype=np.float64`` for gradient checks). Nothing reads global random state: functions that
need randomness take an ``np.random.Generator`` (or an int seed for one).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from chainrule.nn.batching import chunk_rows
from chainrule.nn.labels import one_hot as one_hot  # re-exported: targets are a transform too

RandomLike = np.random.Generator | int | None


def _generator(rng: RandomLike) -> np.random.Generator:
    return rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)


# --------------------------------------------------------------------------------------------
# Scaling and standardization
# --------------------------------------------------------------------------------------------


def scale(images: np.ndarray, dtype: np.dtype | type = np.float32) -> np.ndarray:
    """Map uint8 pixels 0..255 to [0, 1]: ``images / 255`` in ``dtype``.

    Why: weight initializers (Xavier, He, LeCun) assume inputs of order 1; raw 0..255 pixels
    make the first layer's pre-activations ~255 times too large and saturate sigmoid and tanh.
    """
    images = np.asarray(images)
    if images.dtype != np.uint8:
        raise TypeError(
            f"scale expects uint8 pixels (0..255), got {images.dtype}; "
            "already-scaled floats need no scaling"
        )
    out = images.astype(dtype)
    out *= np.asarray(1.0 / 255.0, dtype=dtype)
    return out


def _mean_std(x: np.ndarray, per_pixel: bool, chunk: int = 8192) -> tuple[Any, Any]:
    """Mean and (population) std over the samples, accumulated in float64 chunk by chunk.

    Chunking keeps memory at a few MB for 60,000 images, where ``x.std(dtype=float64)`` would
    allocate a float64 copy of the whole set (376 MB for MNIST); float64 accumulation keeps the
    47 million-term sums exact enough.
    """
    n = x.shape[0]
    axis = 0 if per_pixel else None
    chunks = chunk_rows(n, chunk)
    total = np.zeros(x.shape[1:]) if per_pixel else 0.0
    for rows in chunks:
        total = total + x[rows].sum(axis=axis, dtype=np.float64)
    count = n if per_pixel else x.size
    mean = total / count
    squares = np.zeros(x.shape[1:]) if per_pixel else 0.0
    for rows in chunks:
        deviation = x[rows].astype(np.float64) - mean
        squares = squares + np.square(deviation).sum(axis=axis)
    std = np.sqrt(squares / count)
    return mean, std


class Standardizer:
    """Shift and scale inputs to zero mean and unit variance, using TRAINING statistics only.

    ``fit`` on the training images, then ``transform`` train, validation and test alike: the
    test set must be preprocessed with numbers the model could have known at training time,
    otherwise test accuracy is (slightly) optimistic.

    ``per_pixel=False`` (default) keeps one scalar mean and std for all pixels, the classic
    choice for MNIST (mean 33.3, std 78.6 on raw pixels). ``per_pixel=True`` keeps one pair per
    pixel; the border pixels of MNIST are always 0, so their std is 0. A std below ``epsilon``
    is replaced by 1, so such a pixel is only centred, not divided: dividing by a tiny epsilon
    instead (the other common guard) would turn a stray non-zero test pixel into a huge input.
    scikit-learn's ``StandardScaler`` makes the same choice.

    ``to_dict``/``from_dict`` give a JSON-ready form, stored in model files so that a trained
    model preprocesses new images exactly as it was trained.
    """

    def __init__(self, per_pixel: bool = False, epsilon: float = 1e-6) -> None:
        if epsilon <= 0:
            raise ValueError(f"Standardizer: epsilon must be > 0, got {epsilon}")
        self.per_pixel = per_pixel
        self.epsilon = float(epsilon)
        self.mean: float | np.ndarray | None = None
        self.std: float | np.ndarray | None = None

    @property
    def is_fitted(self) -> bool:
        return self.mean is not None

    def fit(self, x_train: np.ndarray) -> Standardizer:
        """Compute mean and std from the training samples (axis 0 indexes samples)."""
        x_train = np.asarray(x_train)
        if x_train.ndim < 2 or x_train.shape[0] == 0:
            raise ValueError(
                f"Standardizer.fit expects a batch (n, ...) with n >= 1, got shape {x_train.shape}"
            )
        mean, std = _mean_std(x_train, self.per_pixel)
        std = np.where(std < self.epsilon, 1.0, std)
        if self.per_pixel:
            self.mean, self.std = mean, std
        else:
            self.mean, self.std = float(mean), float(std)
        return self

    def transform(self, x: np.ndarray, dtype: np.dtype | type = np.float32) -> np.ndarray:
        """``(x - mean) / std`` in ``dtype`` (a new array; ``x`` is left untouched)."""
        if not self.is_fitted:
            raise RuntimeError("Standardizer.transform called before fit (or from_dict)")
        x = np.asarray(x)
        if self.per_pixel and x.shape[1:] != np.shape(self.mean):
            raise ValueError(
                f"Standardizer was fitted on samples of shape {np.shape(self.mean)}, "
                f"got a batch of shape {x.shape}"
            )
        out = x.astype(dtype)
        out -= np.asarray(self.mean, dtype=dtype)
        out /= np.asarray(self.std, dtype=dtype)
        return out

    def fit_transform(self, x_train: np.ndarray, dtype: np.dtype | type = np.float32) -> np.ndarray:
        return self.fit(x_train).transform(x_train, dtype)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready statistics: floats, or nested lists for per-pixel statistics."""
        if not self.is_fitted:
            raise RuntimeError("Standardizer.to_dict called before fit")
        return {
            "kind": "standardize",
            "per_pixel": self.per_pixel,
            "epsilon": self.epsilon,
            "mean": np.asarray(self.mean).tolist(),
            "std": np.asarray(self.std).tolist(),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Standardizer:
        """Rebuild a fitted Standardizer from ``to_dict`` output (e.g. a model file's JSON)."""
        missing = {"per_pixel", "mean", "std"} - set(data)
        if missing:
            raise ValueError(f"Standardizer.from_dict: missing keys {sorted(missing)}")
        if data.get("kind", "standardize") != "standardize":
            raise ValueError(f"Standardizer.from_dict: kind is {data['kind']!r}, not 'standardize'")
        standardizer = cls(per_pixel=bool(data["per_pixel"]), epsilon=data.get("epsilon", 1e-6))
        if standardizer.per_pixel:
            standardizer.mean = np.asarray(data["mean"], dtype=np.float64)
            standardizer.std = np.asarray(data["std"], dtype=np.float64)
            if standardizer.mean.shape != standardizer.std.shape:
                raise ValueError("Standardizer.from_dict: mean and std have different shapes")
        else:
            standardizer.mean, standardizer.std = float(data["mean"]), float(data["std"])
        if np.any(np.asarray(standardizer.std) <= 0):
            raise ValueError("Standardizer.from_dict: std must be positive")
        return standardizer

    def __repr__(self) -> str:
        if not self.is_fitted:
            return f"Standardizer(per_pixel={self.per_pixel}, unfitted)"
        if self.per_pixel:
            return f"Standardizer(per_pixel=True, shape={np.shape(self.mean)})"
        return f"Standardizer(mean={self.mean:.4g}, std={self.std:.4g})"


class MinMaxScaler:
    """Map each feature of a table to [0, 1] with the TRAINING set's minimum and maximum.

    What "scale" means for a table: images all share one known range (pixels 0..255, so
    ``scale`` divides by 255), but a table's columns each have their own units and range, so
    each is shifted by its training minimum and divided by its training range. Test points
    outside the training range land a little outside [0, 1], as they should (no clipping:
    clipping would hide that they are new). A feature that is constant in training (range
    below ``epsilon``) is only shifted, as ``Standardizer`` treats a constant pixel.
    """

    def __init__(self, epsilon: float = 1e-12) -> None:
        if epsilon <= 0:
            raise ValueError(f"MinMaxScaler: epsilon must be > 0, got {epsilon}")
        self.epsilon = float(epsilon)
        self.minimum: np.ndarray | None = None
        self.range: np.ndarray | None = None

    @property
    def is_fitted(self) -> bool:
        return self.minimum is not None

    def fit(self, x_train: np.ndarray) -> MinMaxScaler:
        """Each feature's minimum and range over the training rows (x: (n, features))."""
        x_train = np.asarray(x_train)
        if x_train.ndim != 2 or x_train.shape[0] == 0:
            raise ValueError(
                f"MinMaxScaler.fit expects a table (n, features) with n >= 1, got shape "
                f"{x_train.shape}"
            )
        self.minimum = x_train.min(axis=0).astype(np.float64)
        spread = x_train.max(axis=0).astype(np.float64) - self.minimum
        self.range = np.where(spread < self.epsilon, 1.0, spread)
        return self

    def transform(self, x: np.ndarray, dtype: np.dtype | type = np.float32) -> np.ndarray:
        """``(x - minimum) / range`` in ``dtype`` (a new array)."""
        if self.minimum is None or self.range is None:
            raise RuntimeError("MinMaxScaler.transform called before fit (or from_dict)")
        x = np.asarray(x)
        if x.ndim != 2 or x.shape[1] != self.minimum.shape[0]:
            raise ValueError(
                f"MinMaxScaler was fitted on {self.minimum.shape[0]} features, got a batch of "
                f"shape {x.shape}"
            )
        out = x.astype(dtype)
        out -= np.asarray(self.minimum, dtype=dtype)
        out /= np.asarray(self.range, dtype=dtype)
        return out

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready statistics (lists of floats), stored in model files."""
        if self.minimum is None or self.range is None:
            raise RuntimeError("MinMaxScaler.to_dict called before fit")
        return {
            "kind": "minmax",
            "epsilon": self.epsilon,
            "minimum": self.minimum.tolist(),
            "range": self.range.tolist(),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> MinMaxScaler:
        """Rebuild a fitted MinMaxScaler from ``to_dict`` output."""
        missing = {"minimum", "range"} - set(data)
        if missing:
            raise ValueError(f"MinMaxScaler.from_dict: missing keys {sorted(missing)}")
        scaler = cls(epsilon=data.get("epsilon", 1e-12))
        scaler.minimum = np.asarray(data["minimum"], dtype=np.float64).reshape(-1)
        scaler.range = np.asarray(data["range"], dtype=np.float64).reshape(-1)
        if scaler.minimum.shape != scaler.range.shape:
            raise ValueError("MinMaxScaler.from_dict: minimum and range have different lengths")
        if np.any(scaler.range <= 0) or not np.all(np.isfinite(scaler.minimum)):
            raise ValueError("MinMaxScaler.from_dict: ranges must be positive, minima finite")
        return scaler

    def __repr__(self) -> str:
        if self.minimum is None:
            return "MinMaxScaler(unfitted)"
        return f"MinMaxScaler(features={self.minimum.shape[0]})"


# --------------------------------------------------------------------------------------------
# Targets and splits
# --------------------------------------------------------------------------------------------


def train_val_split(
    x: np.ndarray, y: np.ndarray, val_fraction: float, rng: RandomLike = None
) -> tuple[np.ndarray, np.ndarray]:
    """Stratified split: indices ``(train_idx, val_idx)``, disjoint, each sorted.

    Every class goes to validation in proportion ``val_fraction``; the total is
    ``round(val_fraction * n)`` and each class gets the floor or ceiling of its share
    (largest-remainder rounding). Stratifying keeps a small validation set's class mix equal
    to the training set's, so its accuracy is not skewed by a lucky draw. The same ``rng``
    seed always gives the same split.

    Use as ``x[train_idx], y[train_idx]``; ``x`` is only checked for a matching length.
    """
    y = np.asarray(y)
    n = len(y)
    if len(x) != n:
        raise ValueError(f"train_val_split: x has {len(x)} samples but y has {n}")
    if not 0.0 < val_fraction < 1.0:
        raise ValueError(
            f"train_val_split: val_fraction must lie strictly between 0 and 1, got {val_fraction}"
        )
    n_val = round(val_fraction * n)
    if n_val < 1 or n_val > n - 1:
        raise ValueError(
            f"train_val_split: val_fraction={val_fraction} of {n} samples gives {n_val} "
            "validation samples; both parts need at least one (more samples or another fraction)"
        )
    rng = _generator(rng)
    classes, class_of, counts = np.unique(y, return_inverse=True, return_counts=True)
    # Largest-remainder apportionment: floors first, then the biggest remainders get +1.
    shares = counts * (n_val / n)
    per_class = np.floor(shares).astype(np.int64)
    short = n_val - per_class.sum()
    if short > 0:
        # Ties broken at random (not by class order) so no class is systematically favoured.
        order = np.lexsort((rng.random(len(classes)), -(shares - per_class)))
        per_class[order[:short]] += 1
    # Shuffle, then stable-sort by class: samples grouped by class, random order inside.
    shuffled = rng.permutation(n)
    grouped = shuffled[np.argsort(class_of[shuffled], kind="stable")]
    class_start = np.concatenate(([0], np.cumsum(counts)[:-1]))
    grouped_class = class_of[grouped]
    rank_in_class = np.arange(n) - class_start[grouped_class]
    to_val = rank_in_class < per_class[grouped_class]
    return np.sort(grouped[~to_val]), np.sort(grouped[to_val])


def train_test_split(
    x: np.ndarray, y: np.ndarray, test_fraction: float, rng: RandomLike = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Arrays ``(x_train, y_train, x_test, y_test)``: ``train_val_split`` applied to both.

    Stratified and seeded the same way, so a 2-D toy set or a CSV without a test file is held
    out with the same class mix as it has, and the same seed always holds out the same rows.
    """
    x, y = np.asarray(x), np.asarray(y)
    train_idx, test_idx = train_val_split(x, y, test_fraction, rng)
    return x[train_idx], y[train_idx], x[test_idx], y[test_idx]


# --------------------------------------------------------------------------------------------
# Shapes
# --------------------------------------------------------------------------------------------


def flatten(images: np.ndarray) -> np.ndarray:
    """(n, 28, 28) or (n, 1, 28, 28) -> (n, 784): the input a Dense layer expects (a view)."""
    images = np.asarray(images)
    if images.ndim < 2:
        raise ValueError(f"flatten expects a batch (n, ...), got shape {images.shape}")
    return images.reshape(images.shape[0], -1)


def to_images(x: np.ndarray, height: int = 28, width: int = 28, channels: int = 1) -> np.ndarray:
    """(n, channels*height*width) -> (n, channels, height, width): Conv2D's input (a view)."""
    x = np.asarray(x)
    features = channels * height * width
    if x.ndim != 2 or x.shape[1] != features:
        raise ValueError(
            f"to_images expects shape (n, {features}) for {channels}x{height}x{width} images, "
            f"got {x.shape}"
        )
    return x.reshape(x.shape[0], channels, height, width)


# --------------------------------------------------------------------------------------------
# Augmentation
# --------------------------------------------------------------------------------------------


def augment(
    images: np.ndarray,
    rng: RandomLike,
    max_shift: int = 2,
    max_rotation_degrees: float = 10.0,
    fill: float = 0.0,
    chunk_size: int = 256,
) -> np.ndarray:
    """Randomly shift (whole pixels) and rotate each image; same shape and dtype out.

    Why: a digit written 2 pixels to the left or slightly slanted is the same digit; showing
    the network such variants each epoch is a cheap way to fight overfitting.

    Each image gets its own shift ``(dy, dx)``, integers in ``[-max_shift, max_shift]`` (down
    and right are positive), and angle uniform in ``[-max_rotation_degrees,
    max_rotation_degrees]`` about the image centre (positive turns clockwise as displayed).
    Pixels are pulled back from the source by the inverse transform and sampled bilinearly;
    pixels that come from outside the image get ``fill`` (0 = MNIST's black background).
    Integer inputs are rounded and clipped back to their type.

    Vectorized: the coordinates of every output pixel of a chunk of images are computed as
    arrays and gathered with one ``take_along_axis`` per bilinear corner; ``chunk_size`` only
    bounds memory. Shapes (n, h, w) and (n, c, h, w) are accepted (channels move together).
    """
    images = np.asarray(images)
    if images.ndim not in (3, 4):
        raise ValueError(
            f"augment expects images (n, h, w) or (n, c, h, w), got shape {images.shape}; "
            "use to_images() on flat (n, 784) inputs"
        )
    if max_shift < 0 or max_rotation_degrees < 0:
        raise ValueError(
            f"augment: max_shift and max_rotation_degrees must be >= 0, "
            f"got {max_shift} and {max_rotation_degrees}"
        )
    rng = _generator(rng)
    n = images.shape[0]
    shifts = rng.integers(-int(max_shift), int(max_shift) + 1, size=(n, 2))
    angles = np.deg2rad(rng.uniform(-max_rotation_degrees, max_rotation_degrees, size=n))
    batch = images if images.ndim == 4 else images[:, None]
    out = np.empty_like(batch)
    for rows in chunk_rows(n, chunk_size):
        out[rows] = _warp(batch[rows], shifts[rows], angles[rows], fill, images.dtype)
    return out if images.ndim == 4 else out[:, 0]


def _warp(
    batch: np.ndarray, shifts: np.ndarray, angles: np.ndarray, fill: float, dtype: np.dtype
) -> np.ndarray:
    """Rotate by ``angles`` then shift by ``shifts`` a (m, c, h, w) batch, bilinearly.

    The images are padded with ``fill`` (1 pixel before, 2 after) and source coordinates are
    clamped into the padding, so every gather is in bounds and no masks are needed: a clamped
    coordinate lands on fill pixels, which is exactly what "outside the image" should give.
    """
    m, channels, height, width = batch.shape
    # float64 inputs are warped in float64; everything else in float32.
    work = np.float64 if dtype == np.float64 else np.float32
    padded_h, padded_w = height + 3, width + 3
    padded = np.full((m, channels, padded_h, padded_w), fill, dtype=work)
    padded[:, :, 1 : height + 1, 1 : width + 1] = batch
    center_y, center_x = (height - 1) / 2.0, (width - 1) / 2.0
    # Output pixel p comes from source R(-angle) (p - shift - centre) + centre.
    rows = (np.arange(height, dtype=work) - center_y)[None, :, None] - shifts[:, 0, None, None]
    cols = (np.arange(width, dtype=work) - center_x)[None, None, :] - shifts[:, 1, None, None]
    rows, cols = rows.astype(work), cols.astype(work)
    cos = np.cos(angles).astype(work)[:, None, None]
    sin = np.sin(angles).astype(work)[:, None, None]
    source_y = cos * rows - sin * cols + work(center_y + 1)  # +1: padded coordinates
    source_x = sin * rows + cos * cols + work(center_x + 1)
    np.clip(source_y, 0, height + 1, out=source_y)
    np.clip(source_x, 0, width + 1, out=source_x)
    y0 = np.floor(source_y)
    x0 = np.floor(source_x)
    weight_y = np.subtract(source_y, y0, out=source_y).reshape(m, 1, -1)
    weight_x = np.subtract(source_x, x0, out=source_x).reshape(m, 1, -1)
    # Index of the top-left corner in the flattened padded batch, per image and channel.
    image_offset = (np.arange(m) * (channels * padded_h * padded_w))[:, None, None]
    channel_offset = (np.arange(channels) * (padded_h * padded_w))[None, :, None]
    pixel = (y0.astype(np.intp) * padded_w + x0.astype(np.intp)).reshape(m, 1, -1)
    top_left = image_offset + channel_offset + pixel  # (m, c, h*w)
    flat = padded.reshape(-1)
    value_tl = np.take(flat, top_left)
    value_tr = np.take(flat, top_left + 1)
    value_bl = np.take(flat, top_left + padded_w)
    value_br = np.take(flat, top_left + (padded_w + 1))
    # Bilinear: blend along x on the top and bottom rows, then along y.
    value_tr -= value_tl
    value_tr *= weight_x
    top = np.add(value_tl, value_tr, out=value_tl)
    value_br -= value_bl
    value_br *= weight_x
    bottom = np.add(value_bl, value_br, out=value_bl)
    bottom -= top
    bottom *= weight_y
    top += bottom
    result = top.reshape(m, channels, height, width)
    if np.issubdtype(dtype, np.integer):
        limits = np.iinfo(dtype)
        np.rint(result, out=result)
        np.clip(result, limits.min, limits.max, out=result)
    return result.astype(dtype)
