"""The one face-crop policy, used by the detector service and by training alike.

A model is trained on crops made by one policy; serving it crops made any other way
silently ruins its accuracy. The policy therefore has a name that the model card records,
and changing any number here means a new name (and a retrained model).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import cv2
import numpy as np


@dataclass(frozen=True)
class CropPolicy:
    """Square crop around a face box, enlarged by ``scale``, resized to ``size`` pixels."""

    name: str
    scale: float
    size: int
    y_shift: float

    def square_box(self, box: tuple[float, float, float, float]) -> tuple[int, int, int]:
        """Return ``(left, top, side)`` of the square crop window for face box ``(x, y, w, h)``."""
        x, y, w, h = box
        side = max(w, h) * self.scale
        cx = x + w / 2.0
        cy = y + h / 2.0 + self.y_shift * h
        return round(cx - side / 2.0), round(cy - side / 2.0), max(1, round(side))

    def crop(self, image_rgb: np.ndarray, box: tuple[float, float, float, float]) -> np.ndarray:
        """Cut the policy's crop out of an RGB uint8 image; parts outside the image are black."""
        left, top, side = self.square_box(box)
        return square_window(image_rgb, left, top, side, self.size)

    def to_dict(self) -> dict[str, object]:
        """Plain description, written into the model card."""
        return asdict(self)


def square_window(image_rgb: np.ndarray, left: int, top: int, side: int, size: int) -> np.ndarray:
    """The ``side``-pixel square at (left, top), black where it leaves the image, resized to ``size``."""
    height, width = image_rgb.shape[:2]
    canvas = np.zeros((side, side, 3), dtype=np.uint8)
    src_l, src_t = max(0, left), max(0, top)
    src_r, src_b = min(width, left + side), min(height, top + side)
    if src_r > src_l and src_b > src_t:
        canvas[src_t - top : src_b - top, src_l - left : src_r - left] = image_rgb[src_t:src_b, src_l:src_r]
    interpolation = cv2.INTER_AREA if side > size else cv2.INTER_CUBIC
    return cv2.resize(canvas, (size, size), interpolation=interpolation)


CROP_POLICY = CropPolicy(name="square-1.3x-224-v1", scale=1.3, size=224, y_shift=0.0)
