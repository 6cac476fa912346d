"""Decide whether a detected face can be judged, or why not (too small, too blurry, cut off)."""

from __future__ import annotations

import cv2
import numpy as np

from services.contract.schemas import UnjudgeableReason

# Sharpness is measured on the face box scaled down to at most this side, so that a large
# face and a small one are compared at a similar resolution (small faces are never upscaled).
SHARPNESS_SIDE = 64


def visible_fraction(box: tuple[float, float, float, float], width: int, height: int) -> float:
    """Share of the box ``(x, y, w, h)`` that lies inside a ``width`` x ``height`` image."""
    x, y, w, h = box
    if w <= 0 or h <= 0:
        return 0.0
    inside_w = max(0.0, min(x + w, width) - max(x, 0.0))
    inside_h = max(0.0, min(y + h, height) - max(y, 0.0))
    return (inside_w * inside_h) / (w * h)


def sharpness(image_rgb: np.ndarray, box: tuple[float, float, float, float]) -> float:
    """Variance of the Laplacian over the inner face box (grey, scaled down to <= 64 px)."""
    height, width = image_rgb.shape[:2]
    x, y, w, h = box
    # The inner 80% avoids hair/background edges that make a blurred face look sharp.
    x0 = int(max(0, round(x + 0.1 * w)))
    y0 = int(max(0, round(y + 0.1 * h)))
    x1 = int(min(width, round(x + 0.9 * w)))
    y1 = int(min(height, round(y + 0.9 * h)))
    if x1 - x0 < 3 or y1 - y0 < 3:
        return 0.0
    grey = cv2.cvtColor(np.ascontiguousarray(image_rgb[y0:y1, x0:x1]), cv2.COLOR_RGB2GRAY)
    longest = max(grey.shape)
    if longest > SHARPNESS_SIDE:
        factor = SHARPNESS_SIDE / longest
        size = (max(3, round(grey.shape[1] * factor)), max(3, round(grey.shape[0] * factor)))
        grey = cv2.resize(grey, size, interpolation=cv2.INTER_AREA)
    return float(cv2.Laplacian(grey, cv2.CV_64F).var())


def unjudgeable_reason(
    image_rgb: np.ndarray,
    box: tuple[float, float, float, float],
    *,
    min_face_px: int,
    blur_threshold: float,
    min_visible: float,
    visible: float | None = None,
) -> UnjudgeableReason | None:
    """The reason a face cannot be scored, or None if it can.

    ``visible`` is the share of the detector's unclipped box inside the photo; ``box`` is the
    clipped box in image pixels. Checks run in order: cut off, too small, too blurry.
    """
    height, width = image_rgb.shape[:2]
    if visible is None:
        visible = visible_fraction(box, width, height)
    if visible < min_visible:
        return UnjudgeableReason.CUT_OFF
    if max(box[2], box[3]) < min_face_px:
        return UnjudgeableReason.TOO_SMALL
    if sharpness(image_rgb, box) < blur_threshold:
        return UnjudgeableReason.TOO_BLURRY
    return None
