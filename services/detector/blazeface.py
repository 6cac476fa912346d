"""MediaPipe BlazeFace detection over a tile pyramid, so faces from ~24 px to the whole frame are found.

The full-range model sees its input at 192x192 and finds faces down to ~7% of that side
(measured: 19/20 faces at 8%, 16/20 at 4%). A 24 MP photo squeezed into 192 px would lose
every face under ~400 px, so the photo is also cut into overlapping tiles at several scales:
level k tiles are ``tile_px * 3**k`` pixels, scaled down to 192 px, and each level finds
faces from ~12% to ~35% of its tile (the default tile is ``min_face_px / 0.12``; on collages
that found 88% of 24 px faces against 69% with a 0.09 share, at 1.7x the time). A face
touching an inner tile edge is left to the neighbouring tile that holds it whole. The
short-range model on the padded photo adds close-ups (a face filling the frame), which the
full-range model misses.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np

from services.contract.held_model import HeldModel
from services.detector import full_range

MODEL_INPUT = 192
# Smallest face, as a share of the tile side, that the full-range model finds reliably.
SMALLEST_SHARE = 0.12
# Tiles overlap by this share of their side, so every face up to it lies whole in one tile.
TILE_OVERLAP = 0.35
LEVEL_FACTOR = 3
# Close-ups: short-range model on the photo padded by half its longest side (80/80 DFDC crops vs 14/80).
CLOSE_UP_PAD = 0.5
MIN_CONFIDENCE = 0.5


@dataclass
class RawFace:
    """A detection before clipping: box may extend past the image."""

    box: tuple[float, float, float, float]
    score: float
    keypoints: list[tuple[float, float]] = field(default_factory=list)
    close_up: bool = False
    tile: bool = False


class MediaPipeFaceDetection(HeldModel[Any]):
    """One of MediaPipe's BlazeFace graphs: ``model_selection`` 0 is short-range, 1 full-range."""

    FILES = {0: "face_detection_short_range.tflite", 1: "face_detection_full_range_sparse.tflite"}

    def __init__(self, model_selection: int) -> None:
        super().__init__(f"blazeface {'full' if model_selection else 'short'}-range (MediaPipe)")
        self.model_selection = model_selection

    def _load(self) -> Any:
        import mediapipe as mp

        self.version = f"mediapipe {mp.__version__}, {self.FILES[self.model_selection]}"
        return mp.solutions.face_detection.FaceDetection(
            model_selection=self.model_selection, min_detection_confidence=MIN_CONFIDENCE
        )

    def _warm_up(self, model: Any) -> None:
        self._predict(model, np.zeros((MODEL_INPUT, MODEL_INPUT, 3), np.uint8))

    def _predict(self, model: Any, image_rgb: np.ndarray) -> Any:
        return model.process(np.ascontiguousarray(image_rgb))


# Per process, made on first use (or at the worker's start-up), never before a fork.
MODELS = {selection: MediaPipeFaceDetection(selection) for selection in (0, 1)}
# What the blazeface engine runs: both MediaPipe graphs and the full-range model in LiteRT for the tiles.
HELD_MODELS = (*MODELS.values(), full_range.MODEL)


def run_model(image_rgb: np.ndarray, model_selection: int) -> list[RawFace]:
    """One BlazeFace pass through MediaPipe's graph; boxes in the pixels of ``image_rgb``, unclipped."""
    height, width = image_rgb.shape[:2]
    output = MODELS[model_selection].predict(image_rgb)
    faces = []
    for det in output.detections or []:
        rel = det.location_data.relative_bounding_box
        box = (rel.xmin * width, rel.ymin * height, rel.width * width, rel.height * height)
        if box[2] < 1 or box[3] < 1:
            continue
        keypoints = [(kp.x * width, kp.y * height) for kp in det.location_data.relative_keypoints]
        faces.append(RawFace(box=box, score=float(det.score[0]), keypoints=keypoints))
    return faces


def _starts(length: int, tile: int, stride: int) -> list[int]:
    if length <= tile:
        return [0]
    starts = list(range(0, length - tile, stride))
    starts.append(length - tile)
    return starts


def _scaled(face: RawFace, scale: float, dx: float, dy: float) -> RawFace:
    return RawFace(
        box=(face.box[0] / scale + dx, face.box[1] / scale + dy, face.box[2] / scale, face.box[3] / scale),
        score=face.score,
        keypoints=[(x / scale + dx, y / scale + dy) for x, y in face.keypoints],
    )


@dataclass
class Tile:
    """One tile of a pyramid level: its pixels (at the level's scale) and where it lies."""

    patch: np.ndarray
    left: int
    top: int
    scale: float
    level_width: int
    level_height: int


def level_tiles(image_rgb: np.ndarray, tile_px: int) -> list[Tile]:
    """The overlapping ``tile_px`` tiles of one level, each scaled so its side is at most 192 px."""
    height, width = image_rgb.shape[:2]
    scale = min(1.0, MODEL_INPUT / tile_px)
    small = image_rgb
    if scale < 1.0:
        size = (max(1, round(width * scale)), max(1, round(height * scale)))
        small = cv2.resize(image_rgb, size, interpolation=cv2.INTER_AREA)
    tile = min(round(tile_px * scale), max(small.shape[:2]))
    stride = max(1, round(tile * (1.0 - TILE_OVERLAP)))
    return [
        Tile(small[top : top + tile, left : left + tile], left, top, scale, small.shape[1], small.shape[0])
        for top in _starts(small.shape[0], tile, stride)
        for left in _starts(small.shape[1], tile, stride)
    ]


def tile_faces(tile: Tile, found: list[tuple[Any, float, Any]]) -> list[RawFace]:
    """A tile's detections in image pixels, less those an inner tile edge cuts (a neighbour holds them whole)."""
    ph, pw = tile.patch.shape[:2]
    margin = 1.0
    faces = []
    for box, score, keypoints in found:
        x, y, w, h = box
        if (tile.left > 0 and x < margin) or (tile.top > 0 and y < margin):
            continue
        if (tile.left + pw < tile.level_width and x + w > pw - margin) or (
            tile.top + ph < tile.level_height and y + h > ph - margin
        ):
            continue
        raw = RawFace(box=box, score=score, keypoints=keypoints)
        face = _scaled(raw, tile.scale, tile.left / tile.scale, tile.top / tile.scale)
        face.tile = True
        faces.append(face)
    return faces


def tile_pyramid(image_rgb: np.ndarray, tile_px: int) -> list[RawFace]:
    """Full-range BlazeFace on every tile of every level below the whole photo, in batched model calls."""
    height, width = image_rgb.shape[:2]
    tiles = [t for side in pyramid_tiles(width, height, tile_px) for t in level_tiles(image_rgb, side)]
    # 192 px tiles need no resampling: LiteRT answers exactly as MediaPipe's graph, without its per-call cost.
    found = full_range.detect_many([t.patch for t in tiles])
    return [face for tile, faces in zip(tiles, found, strict=True) for face in tile_faces(tile, faces)]


def pyramid_tiles(width: int, height: int, tile_px: int) -> list[int]:
    """Tile sides of every level below the whole photo (empty for a photo that fits one tile)."""
    sides = []
    side = tile_px
    while side < max(width, height):
        sides.append(side)
        side *= LEVEL_FACTOR
    return sides


def close_ups(image_rgb: np.ndarray) -> list[RawFace]:
    """Short-range model on the photo padded with black: faces that fill the frame."""
    height, width = image_rgb.shape[:2]
    pad = int(CLOSE_UP_PAD * max(height, width))
    # The array np.pad makes, without its per-side fills (12 MP: 197 ms against 663 ms, machine loaded).
    padded = np.zeros((height + 2 * pad, width + 2 * pad, image_rgb.shape[2]), dtype=image_rgb.dtype)
    padded[pad : pad + height, pad : pad + width] = image_rgb
    faces = [_scaled(f, 1.0, -pad, -pad) for f in run_model(padded, model_selection=0)]
    for face in faces:
        face.close_up = True
    return faces


def detect(image_rgb: np.ndarray, min_face_px: int, tile_px: int = 0) -> list[RawFace]:
    """Every candidate face (duplicates included): whole photo, tile pyramid and close-ups."""
    tile_px = tile_px or max(MODEL_INPUT, round(min_face_px / SMALLEST_SHARE))
    faces = run_model(image_rgb, model_selection=1)
    faces += tile_pyramid(image_rgb, tile_px)
    faces += close_ups(image_rgb)
    return faces
