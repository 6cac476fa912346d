"""Box arithmetic for detections: IoU, clipping and a non-maximum suppression that merges duplicates."""

from __future__ import annotations

from collections.abc import Sequence

Box = tuple[float, float, float, float]  # x, y, w, h


def intersection(a: Box, b: Box) -> float:
    """Area shared by two boxes."""
    iw = min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0])
    ih = min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1])
    return max(0.0, iw) * max(0.0, ih)


def iou(a: Box, b: Box) -> float:
    """Intersection over union."""
    inter = intersection(a, b)
    union = a[2] * a[3] + b[2] * b[3] - inter
    return inter / union if union > 0 else 0.0


def overlap_of_smaller(a: Box, b: Box) -> float:
    """Share of the smaller box covered by the other (1.0 when one contains the other)."""
    smaller = min(a[2] * a[3], b[2] * b[3])
    return intersection(a, b) / smaller if smaller > 0 else 0.0


def clip_box(box: Box, width: int, height: int) -> tuple[int, int, int, int]:
    """Round and clip a box to the image; the result may have zero size."""
    x0, y0 = max(0, round(box[0])), max(0, round(box[1]))
    x1, y1 = min(width, round(box[0] + box[2])), min(height, round(box[1] + box[3]))
    return x0, y0, max(0, x1 - x0), max(0, y1 - y0)


def suppress(
    boxes: Sequence[Box],
    scores: Sequence[float],
    iou_limit: float,
    cover_limit: float,
    ranks: Sequence[int] | None = None,
) -> list[int]:
    """Indices kept by greedy NMS (lowest rank first, then best score).

    A box is dropped when it overlaps a kept box with IoU above ``iou_limit`` or when more than
    ``cover_limit`` of the smaller of the two is covered (a face part found in a tile next to the
    whole face found elsewhere).
    """
    ranks = ranks if ranks is not None else [0] * len(boxes)
    order = sorted(range(len(boxes)), key=lambda i: (ranks[i], -scores[i], i))
    kept: list[int] = []
    for i in order:
        if all(
            iou(boxes[i], boxes[k]) <= iou_limit and overlap_of_smaller(boxes[i], boxes[k]) <= cover_limit for k in kept
        ):
            kept.append(i)
    return kept
