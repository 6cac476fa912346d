"""Face detection: pick an engine, merge duplicate candidates, return faces in a stable order.

Models are created lazily, once per process, never before a fork (``held_models`` lists them).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from services.contract.held_model import HeldModel
from services.detector import blazeface, haar
from services.detector.blazeface import RawFace
from services.detector.boxes import Box, clip_box, suppress
from services.detector.quality import visible_fraction

ENGINES = ("blazeface", "haar")
HELD_MODELS: dict[str, tuple[HeldModel[Any], ...]] = {"blazeface": blazeface.HELD_MODELS, "haar": haar.HELD_MODELS}
# NMS: duplicates from the tile pyramid overlap heavily; a face part next to the whole face is covered by it.
NMS_IOU = 0.3
NMS_COVER = 0.6
# Tile passes see small regions up close and mistake ears, earrings and logos for faces more often;
# their hits need a higher score and at least TILE_MIN_SIDE * min_face_px pixels. Measured on 580
# one-face photos of ../shared/data plus collages: extra detections 63 -> 23, recall at 24 px
# 0.92 -> 0.88, at 32 px 0.96 -> 0.92 (see bench/detector_recall.py).
TILE_MIN_SCORE = 0.65
TILE_MIN_SIDE = 0.75
# A face this many times smaller than another, centred within HEAD_REACH face sides of it, is taken
# for a part of that head (ear, earring, hair) rather than another person.
LARGER_FACE_RATIO = 3.0
HEAD_REACH = 0.5


@dataclass
class Detection:
    """A face found in an image: box ``(x, y, w, h)`` in image pixels (clipped), score, keypoints.

    ``visible`` is the share of the detector's unclipped box that lies inside the image.
    """

    box: tuple[int, int, int, int]
    score: float
    keypoints: list[tuple[float, float]] = field(default_factory=list)
    visible: float = 1.0


def held_models(engine: str = "blazeface") -> tuple[HeldModel[Any], ...]:
    """The models an engine runs, to warm up at the worker's start-up."""
    if engine not in HELD_MODELS:
        raise ValueError(f"unknown detector engine {engine!r}; choose one of {ENGINES}")
    return HELD_MODELS[engine]


def detect_faces(
    image_rgb: np.ndarray, *, engine: str = "blazeface", min_face_px: int = 24, tile_px: int = 0
) -> list[Detection]:
    """Find faces in an RGB uint8 image, top-to-bottom then left-to-right.

    ``engine`` is ``blazeface`` (full-range model over a tile pyramid plus a close-up pass)
    or ``haar``; ``min_face_px`` sets the smallest face the tiles aim at; ``tile_px``
    overrides the smallest tile side (0: derived from ``min_face_px``).
    """
    if engine == "blazeface":
        candidates = blazeface.detect(image_rgb, min_face_px=min_face_px, tile_px=tile_px)
    elif engine == "haar":
        candidates = haar.detect(image_rgb, min_face_px=min_face_px)
    else:
        raise ValueError(f"unknown detector engine {engine!r}; choose one of {ENGINES}")
    height, width = image_rgb.shape[:2]
    return select_faces(candidates, width, height, min_face_px)


def select_faces(candidates: list[RawFace], width: int, height: int, min_face_px: int = 24) -> list[Detection]:
    """Drop weak or tiny tile hits, merge duplicates (NMS), drop bits of a larger face, clip, sort."""
    smallest = TILE_MIN_SIDE * min_face_px
    candidates = [
        c for c in candidates if not c.tile or (c.score >= TILE_MIN_SCORE and max(c.box[2], c.box[3]) >= smallest)
    ]
    # Full-range boxes win over close-up boxes of the same face, so one face style is cropped.
    ranks = [int(c.close_up) for c in candidates]
    keep = suppress([c.box for c in candidates], [c.score for c in candidates], NMS_IOU, NMS_COVER, ranks)
    kept = [candidates[i] for i in keep]
    kept = [c for c in kept if not any(_beside_larger_face(c.box, other.box) for other in kept)]
    faces = []
    for raw in kept:
        box = clip_box(raw.box, width, height)
        if box[2] < 1 or box[3] < 1:
            continue
        faces.append(
            Detection(
                box=box,
                score=raw.score,
                keypoints=[(float(x), float(y)) for x, y in raw.keypoints],
                visible=visible_fraction(raw.box, width, height),
            )
        )
    faces.sort(key=lambda d: (d.box[1], d.box[0], d.box[2]))
    return faces


def _beside_larger_face(small: Box, large: Box) -> bool:
    """True if ``small`` is much smaller than ``large`` and centred on its head (ear, earring, hair)."""
    small_side, large_side = max(small[2], small[3]), max(large[2], large[3])
    if small_side * LARGER_FACE_RATIO > large_side:
        return False
    cx, cy = small[0] + small[2] / 2, small[1] + small[3] / 2
    reach = HEAD_REACH * large_side
    return (large[0] - reach <= cx <= large[0] + large[2] + reach) and (
        large[1] - reach <= cy <= large[1] + large[3] + reach
    )
