"""The input pipeline a model was trained with, stored in its model file.

Raw images (uint8, n × h × w) become network inputs in three steps: scale to [0, 1] (or
standardize with the *training* set's mean and std, or leave raw), then shape them flat
(n × h·w, for Dense layers) or as images (n × 1 × h × w, for convolutions). Evaluating or
predicting with a saved model replays exactly these steps with the stored numbers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from chainrule.data.transforms import Standardizer, scale

KINDS = ("scale", "standardize", "none")
SHAPES = ("flat", "image")


@dataclass
class Preprocessing:
    kind: str = "scale"
    shape: str = "flat"
    image_shape: tuple[int, int] = (28, 28)
    standardizer: Standardizer | None = None

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"preprocessing must be one of {', '.join(KINDS)}, got {self.kind!r}")
        if self.shape not in SHAPES:
            raise ValueError(f"shape must be one of {', '.join(SHAPES)}, got {self.shape!r}")
        self.image_shape = tuple(int(d) for d in self.image_shape)

    @property
    def input_shape(self) -> tuple[int, ...]:
        h, w = self.image_shape
        return (h * w,) if self.shape == "flat" else (1, h, w)

    def fit(self, train_images: np.ndarray) -> Preprocessing:
        """Learn what needs learning (the standardization statistics) from training images."""
        train_images = np.asarray(train_images)
        if train_images.ndim != 3 or len(train_images) == 0:
            raise ValueError(
                f"preprocessing is fitted on a batch of grey images (n, h, w), got "
                f"shape {train_images.shape}"
            )
        self.image_shape = tuple(train_images.shape[1:3])
        if self.kind == "standardize":
            self.standardizer = Standardizer().fit(train_images.reshape(len(train_images), -1))
        return self

    def transform(self, images: np.ndarray, dtype: Any = np.float32) -> np.ndarray:
        """uint8 images (n, h, w) -> float inputs in the model's shape."""
        images = np.asarray(images)
        if images.ndim != 3 or tuple(images.shape[1:]) != self.image_shape:
            raise ValueError(
                f"expected images of shape (n, {self.image_shape[0]}, {self.image_shape[1]}), "
                f"got {images.shape}"
            )
        flat = images.reshape(len(images), -1)
        if self.kind == "scale":
            x = scale(flat, dtype)
        elif self.kind == "standardize":
            if self.standardizer is None:
                raise RuntimeError("Preprocessing(kind='standardize') used before fit()")
            x = self.standardizer.transform(flat, dtype)
        else:
            x = flat.astype(dtype)
        return x.reshape((len(images), *self.input_shape))

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "shape": self.shape,
            "image_shape": list(self.image_shape),
            "standardizer": self.standardizer.to_dict() if self.standardizer else None,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Preprocessing:
        try:
            standardizer = data.get("standardizer")
            return cls(
                kind=data["kind"],
                shape=data["shape"],
                image_shape=tuple(data["image_shape"]),
                standardizer=Standardizer.from_dict(standardizer) if standardizer else None,
            )
        except (KeyError, TypeError) as error:
            raise ValueError(f"stored preprocessing is incomplete: {error}") from None
