"""Collage benchmark generator: real faces from ../shared/data pasted at known positions and sizes.

Each source photo (one clear face) is measured once at its native size; its face box there is
the reference. The photo is then scaled so the face has the wanted size and pasted, with a
feathered edge, onto a synthetic cluttered background. The ground-truth box is the reference
box moved and scaled the same way, so it has the detector's own box style.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from services.contract.imaging import decode_rgb
from services.detector.boxes import iou
from services.detector.engine import detect_faces

FACE_SIZES = (24, 32, 48, 64, 96, 128, 192, 256, 400)
CANVASES_MP = {2: (1632, 1224), 6: (3000, 2000), 12: (4000, 3000), 24: (6000, 4000)}
SOURCE_DIRS = ("gan_stylegan2/real", "photoshop_ciplab/real")
# Share of the face box side pasted around the face (hair, neck, a little background).
CONTEXT = 2.0


@dataclass
class FaceSource:
    """A photo with exactly one face and that face's box at native size."""

    name: str
    image: np.ndarray
    box: tuple[float, float, float, float]


@dataclass
class Collage:
    """A generated photo and the boxes of the faces pasted into it."""

    image: np.ndarray
    boxes: list[tuple[float, float, float, float]]
    sizes: list[int]


def load_sources(data_dir: Path, count: int, seed: int = 0) -> list[FaceSource]:
    """Up to ``count`` one-face photos from the shared data, chosen reproducibly."""
    files = sorted(p for d in SOURCE_DIRS for p in (data_dir / d).glob("*.jpg"))
    rng = np.random.default_rng(seed)
    rng.shuffle(files)
    sources = []
    for path in files:
        image = decode_rgb(path.read_bytes(), 50_000_000, 12_000)
        faces = detect_faces(image)
        if len(faces) == 1 and faces[0].score >= 0.8 and faces[0].visible >= 0.999:
            sources.append(FaceSource(name=path.name, image=image, box=tuple(map(float, faces[0].box))))
        if len(sources) >= count:
            break
    return sources


def background(width: int, height: int, rng: np.random.Generator) -> np.ndarray:
    """A smooth colour field with blurred shapes, lines and sensor noise; no faces."""
    small = rng.integers(40, 220, size=(6, 8, 3)).astype(np.uint8)
    image = cv2.resize(small, (width, height), interpolation=cv2.INTER_CUBIC)
    unit = max(width, height)
    for _ in range(60):
        colour = tuple(int(c) for c in rng.integers(0, 255, size=3))
        kind = rng.integers(0, 3)
        x, y = int(rng.integers(0, width)), int(rng.integers(0, height))
        size = int(rng.integers(unit // 80, unit // 8))
        if kind == 0:
            cv2.rectangle(image, (x, y), (x + size, y + int(size * rng.uniform(0.3, 2))), colour, cv2.FILLED)
        elif kind == 1:
            axes = (size, max(1, int(size * rng.uniform(0.2, 1))))
            cv2.ellipse(image, (x, y), axes, float(rng.uniform(0, 180)), 0, 360, colour, cv2.FILLED)
        else:
            end = (x + int(rng.integers(-unit // 4, unit // 4)), y + int(rng.integers(-unit // 4, unit // 4)))
            cv2.line(image, (x, y), end, colour, max(1, unit // 500))
    blur = max(3, (unit // 400) | 1)
    image = cv2.GaussianBlur(image, (blur, blur), 0)
    noise = rng.normal(0, 4, size=image.shape)
    return np.clip(image + noise, 0, 255).astype(np.uint8)


def _patch(source: FaceSource, face_px: int) -> tuple[np.ndarray, np.ndarray, tuple[float, float, float, float]]:
    """Scaled square patch around the face, its feathered alpha, and the face box inside it."""
    x, y, w, h = source.box
    side = max(w, h) * CONTEXT
    cx, cy = x + w / 2, y + h / 2
    left, top = round(cx - side / 2), round(cy - side / 2)
    height, width = source.image.shape[:2]
    l0, t0 = max(0, left), max(0, top)
    r0, b0 = min(width, left + round(side)), min(height, top + round(side))
    crop = source.image[t0:b0, l0:r0]
    scale = face_px / max(w, h)
    size = (max(1, round(crop.shape[1] * scale)), max(1, round(crop.shape[0] * scale)))
    interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC
    patch = cv2.resize(crop, size, interpolation=interp)
    yy, xx = np.mgrid[0 : patch.shape[0], 0 : patch.shape[1]].astype(np.float32)
    ny = (yy + 0.5) / patch.shape[0] * 2 - 1
    nx = (xx + 0.5) / patch.shape[1] * 2 - 1
    radius = np.sqrt(nx**2 + ny**2)
    alpha = np.clip((1.0 - radius) / 0.25, 0, 1)[..., None]
    box = ((x - l0) * scale, (y - t0) * scale, w * scale, h * scale)
    return patch, alpha, box


def make_collage(
    sources: list[FaceSource], width: int, height: int, sizes: list[int], rng: np.random.Generator
) -> Collage:
    """Paste one face per entry of ``sizes`` at random, non-overlapping places on a background."""
    image = background(width, height, rng).astype(np.float32)
    taken: list[tuple[float, float, float, float]] = []
    boxes, placed = [], []
    for n, face_px in enumerate(sorted(sizes, reverse=True)):
        source = sources[int(rng.integers(0, len(sources)))] if n >= len(sources) else sources[n]
        patch, alpha, (bx, by, bw, bh) = _patch(source, face_px)
        ph, pw = patch.shape[:2]
        if pw >= width or ph >= height:
            continue
        for _ in range(200):
            left, top = int(rng.integers(0, width - pw)), int(rng.integers(0, height - ph))
            slot = (float(left), float(top), float(pw), float(ph))
            if all(iou(slot, t) == 0 and not _near(slot, t) for t in taken):
                break
        else:
            continue
        taken.append(slot)
        region = image[top : top + ph, left : left + pw]
        image[top : top + ph, left : left + pw] = region * (1 - alpha) + patch.astype(np.float32) * alpha
        boxes.append((left + bx, top + by, bw, bh))
        placed.append(face_px)
    return Collage(image=np.clip(image, 0, 255).astype(np.uint8), boxes=boxes, sizes=placed)


def _near(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> bool:
    gap = 0.1 * max(a[2], b[2])
    return not (
        a[0] + a[2] + gap < b[0] or b[0] + b[2] + gap < a[0] or a[1] + a[3] + gap < b[1] or b[1] + b[3] + gap < a[1]
    )


def match(truth: list, found: list, min_iou: float = 0.5) -> tuple[list[float], list[int]]:
    """Best IoU of each true box with a distinct found box (greedy), and the unmatched found indices."""
    pairs = sorted(((iou(t, f), ti, fi) for ti, t in enumerate(truth) for fi, f in enumerate(found)), reverse=True)
    best = [0.0] * len(truth)
    used_t, used_f = set(), set()
    for value, ti, fi in pairs:
        if value < min_iou:
            break
        if ti in used_t or fi in used_f:
            continue
        best[ti] = value
        used_t.add(ti)
        used_f.add(fi)
    unmatched = [fi for fi in range(len(found)) if fi not in used_f]
    return best, unmatched


def sizes_for(width: int, height: int, rng: np.random.Generator, per_size: int = 2) -> list[int]:
    """Face sizes to paste into a canvas: each benchmark size ``per_size`` times, if it fits."""
    limit = math.sqrt(width * height) / 4
    return [s for s in FACE_SIZES if s <= limit for _ in range(per_size)]
