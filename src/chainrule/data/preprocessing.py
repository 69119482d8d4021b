"""The input pipeline a model was trained with, stored in its model file.

**Images** (uint8, n × h × w) become network inputs in two steps: scale to [0, 1] (pixels
/ 255), or standardize with the *training* set's mean and std (one scalar pair, the classic
choice for MNIST), or leave raw; then shape them flat (n × h·w, for Dense layers) or as images
(n × 1 × h × w, for convolutions).

**Tables** (numbers, n × features: a CSV file, an NPZ table, a 2-D toy set) have no common
range, so each feature gets its own training statistics: ``scale`` maps each to [0, 1] with
its training minimum and maximum (``MinMaxScaler``), ``standardize`` gives each zero mean and
unit variance (``Standardizer(per_pixel=True)``: one pair per feature), ``none`` leaves them.
A table is always flat.

Evaluating or predicting with a saved model replays exactly these steps with the stored
numbers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from chainrule.data.transforms import MinMaxScaler, Standardizer, scale

KINDS = ("scale", "standardize", "none")
SHAPES = ("flat", "image")


@dataclass
class Preprocessing:
    """What turns raw data into a model's inputs; ``fit`` decides images or table.

    ``image_shape`` is (h, w) for images and None for a table, whose width is ``features``.
    """

    kind: str = "scale"
    shape: str = "flat"
    image_shape: tuple[int, int] | None = (28, 28)
    standardizer: Standardizer | None = None
    features: int | None = None
    scaler: MinMaxScaler | None = None

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"preprocessing must be one of {', '.join(KINDS)}, got {self.kind!r}")
        if self.shape not in SHAPES:
            raise ValueError(f"shape must be one of {', '.join(SHAPES)}, got {self.shape!r}")
        if self.image_shape is not None:
            self.image_shape = tuple(int(d) for d in self.image_shape)  # type: ignore[assignment]

    @property
    def is_images(self) -> bool:
        return self.image_shape is not None

    @property
    def input_shape(self) -> tuple[int, ...]:
        if self.image_shape is None:
            return (int(self.features or 0),)
        h, w = self.image_shape
        return (h * w,) if self.shape == "flat" else (1, h, w)

    def describe_input(self) -> str:
        """``28×28 images`` or ``2 features``: what the model reads, for messages."""
        if self.image_shape is None:
            return f"{self.features} feature{'s' * (self.features != 1)}"
        return f"{'×'.join(map(str, self.image_shape))} images"

    def fit(self, train: np.ndarray) -> Preprocessing:
        """Learn what needs learning (statistics) from the training images or table."""
        train = np.asarray(train)
        if train.ndim == 2 and len(train):
            return self._fit_table(train)
        if train.ndim != 3 or len(train) == 0:
            raise ValueError(
                f"preprocessing is fitted on grey images (n, h, w) or a table (n, features), "
                f"got shape {train.shape}"
            )
        self.image_shape = tuple(train.shape[1:3])  # type: ignore[assignment]
        self.features = None
        if self.kind == "standardize":
            self.standardizer = Standardizer().fit(train.reshape(len(train), -1))
        return self

    def _fit_table(self, train: np.ndarray) -> Preprocessing:
        if self.shape == "image":
            raise ValueError(
                f"data.shape: image needs images (n, h, w), but the data are a table of "
                f"{train.shape[1]} features; use shape: flat"
            )
        self.image_shape = None
        self.features = int(train.shape[1])
        if self.kind == "scale":
            self.scaler = MinMaxScaler().fit(train)
        elif self.kind == "standardize":
            self.standardizer = Standardizer(per_pixel=True).fit(train)
        return self

    def transform(self, data: np.ndarray, dtype: Any = np.float32) -> np.ndarray:
        """Raw images (n, h, w) or a table (n, features) -> float inputs in the model's shape."""
        data = np.asarray(data)
        if self.image_shape is None:
            return self._transform_table(data, dtype)
        if data.ndim != 3 or tuple(data.shape[1:]) != self.image_shape:
            raise ValueError(
                f"expected images of shape (n, {self.image_shape[0]}, {self.image_shape[1]}), "
                f"got {data.shape}"
            )
        flat = data.reshape(len(data), -1)
        if self.kind == "scale":
            x = scale(flat, dtype)
        elif self.kind == "standardize":
            if self.standardizer is None:
                raise RuntimeError("Preprocessing(kind='standardize') used before fit()")
            x = self.standardizer.transform(flat, dtype)
        else:
            x = flat.astype(dtype)
        return x.reshape((len(data), *self.input_shape))

    def _transform_table(self, table: np.ndarray, dtype: Any) -> np.ndarray:
        if table.ndim != 2 or table.shape[1] != self.features:
            raise ValueError(
                f"expected a table of {self.features} features (n, {self.features}), got shape "
                f"{table.shape}"
            )
        if self.kind == "scale":
            if self.scaler is None:
                raise RuntimeError("Preprocessing(kind='scale') of a table used before fit()")
            return self.scaler.transform(table, dtype)
        if self.kind == "standardize":
            if self.standardizer is None:
                raise RuntimeError("Preprocessing(kind='standardize') used before fit()")
            return self.standardizer.transform(table, dtype)
        return table.astype(dtype)

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "shape": self.shape,
            "input": "images" if self.is_images else "table",
            "image_shape": None if self.image_shape is None else list(self.image_shape),
            "features": self.features,
            "standardizer": self.standardizer.to_dict() if self.standardizer else None,
            "scaler": self.scaler.to_dict() if self.scaler else None,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Preprocessing:
        """Rebuild from ``to_dict`` output (model files written before tables read as images)."""
        try:
            standardizer = data.get("standardizer")
            scaler = data.get("scaler")
            table = data.get("input", "images") == "table"
            features = data.get("features")
            if table and (not isinstance(features, int) or features < 1):
                raise ValueError(f"a table needs a positive feature count, got {features!r}")
            return cls(
                kind=data["kind"],
                shape=data["shape"],
                image_shape=None if table else tuple(data["image_shape"]),
                standardizer=Standardizer.from_dict(standardizer) if standardizer else None,
                features=features if table else None,
                scaler=MinMaxScaler.from_dict(scaler) if scaler else None,
            )
        except (KeyError, TypeError, ValueError) as error:
            raise ValueError(f"stored preprocessing is incomplete: {error}") from None
