"""Drawing verdicts onto the photo: mesh coloured by probability, boxes and percentage labels.

Every size (line width, font) scales with the face so a 40 px and a 2000 px face both read well.
All colours are RGB.
"""

from __future__ import annotations

from functools import lru_cache

import cv2
import numpy as np

GREEN = (40, 200, 70)
YELLOW = (255, 210, 0)
RED = (235, 30, 30)
GREY = (170, 170, 170)
GENUINE_BOX = (60, 220, 90)

_SHIFT = 4  # sub-pixel bits for cv2 drawing
# Below this face side the tesselation's ~2,500 edges merge into a blot; only contours are drawn.
MIN_TESSELATION_SIDE = 64
_SCALE = 1 << _SHIFT


def probability_colour(p: float) -> tuple[int, int, int]:
    """Green at 0, yellow at 0.5, red at 1 (linear in between)."""
    p = min(1.0, max(0.0, p))
    low, high, t = (GREEN, YELLOW, p / 0.5) if p < 0.5 else (YELLOW, RED, (p - 0.5) / 0.5)
    return tuple(round(a + (b - a) * t) for a, b in zip(low, high, strict=True))  # type: ignore[return-value]


def probability_opacity(p: float) -> float:
    """Mesh opacity: faint for a borderline face, nearly solid for a certain one."""
    return 0.35 + 0.6 * min(1.0, max(0.0, p))


def line_width(face_side: float, per_px: float) -> int:
    """A line width of one pixel per ``per_px`` pixels of face side, at least 1."""
    return max(1, round(face_side / per_px))


@lru_cache(maxsize=1)
def mesh_edges() -> tuple[np.ndarray, np.ndarray]:
    """Landmark index pairs of the tesselation and of the contours (incl. irises)."""
    from mediapipe.python.solutions import face_mesh_connections as fmc

    tesselation = np.array(sorted(fmc.FACEMESH_TESSELATION), dtype=np.int32)
    contours = np.array(sorted(fmc.FACEMESH_CONTOURS | fmc.FACEMESH_IRISES), dtype=np.int32)
    return tesselation, contours


def _segments(points: np.ndarray, edges: np.ndarray, origin: tuple[int, int]) -> list[np.ndarray]:
    fixed = np.round((points - np.array(origin, dtype=np.float64)) * _SCALE).astype(np.int32)
    return list(fixed[edges])


def draw_mesh(image: np.ndarray, landmarks: np.ndarray, p: float, face_side: float) -> None:
    """Blend the face mesh (tesselation and contours) into ``image`` in place, coloured by ``p``.

    Returns nothing; pixels outside the landmarks' bounding box (plus line width) are untouched.
    """
    tesselation, contours = mesh_edges()
    if landmarks.shape[0] <= int(max(tesselation.max(), contours.max())):
        return
    height, width = image.shape[:2]
    thin = line_width(face_side, 260)
    thick = line_width(face_side, 120)
    pad = thick + 2
    x0 = max(0, int(np.floor(landmarks[:, 0].min())) - pad)
    y0 = max(0, int(np.floor(landmarks[:, 1].min())) - pad)
    x1 = min(width, int(np.ceil(landmarks[:, 0].max())) + pad + 1)
    y1 = min(height, int(np.ceil(landmarks[:, 1].max())) + pad + 1)
    if x1 <= x0 or y1 <= y0:
        return
    origin = (x0, y0)
    contour_mask = np.zeros((y1 - y0, x1 - x0), dtype=np.uint8)
    cv2.polylines(contour_mask, _segments(landmarks, contours, origin), False, 255, thick, cv2.LINE_AA, _SHIFT)
    coverage = contour_mask.astype(np.float32) / 255.0
    if face_side >= MIN_TESSELATION_SIDE:
        # The dense tesselation is kept lighter than the contours so the face stays visible under it.
        mesh_mask = np.zeros_like(contour_mask)
        cv2.polylines(mesh_mask, _segments(landmarks, tesselation, origin), False, 255, thin, cv2.LINE_AA, _SHIFT)
        weight = min(0.8, max(0.4, face_side / 500))
        coverage = np.maximum(coverage, mesh_mask.astype(np.float32) / 255.0 * weight)
    alpha = (coverage * probability_opacity(p))[..., None]
    roi = image[y0:y1, x0:x1].astype(np.float32)
    colour = np.array(probability_colour(p), dtype=np.float32)
    image[y0:y1, x0:x1] = np.clip(roi * (1.0 - alpha) + colour * alpha, 0, 255).astype(np.uint8)


def draw_box(image: np.ndarray, box: tuple[int, int, int, int], colour: tuple[int, int, int], width: int) -> None:
    """A solid rectangle outline."""
    x, y, w, h = box
    cv2.rectangle(image, (x, y), (x + w - 1, y + h - 1), colour, width, cv2.LINE_AA)


def draw_dashed_box(
    image: np.ndarray, box: tuple[int, int, int, int], colour: tuple[int, int, int], width: int
) -> None:
    """A dashed rectangle outline (dash length scales with the box)."""
    x, y, w, h = box
    dash = max(3, round(max(w, h) / 12))
    corners = [(x, y), (x + w - 1, y), (x + w - 1, y + h - 1), (x, y + h - 1)]
    for (ax, ay), (bx, by) in zip(corners, corners[1:] + corners[:1], strict=True):
        length = max(abs(bx - ax), abs(by - ay))
        for start in range(0, length, 2 * dash):
            end = min(length, start + dash)
            sx, sy = ax + (bx - ax) * start // max(1, length), ay + (by - ay) * start // max(1, length)
            ex, ey = ax + (bx - ax) * end // max(1, length), ay + (by - ay) * end // max(1, length)
            cv2.line(image, (sx, sy), (ex, ey), colour, width, cv2.LINE_AA)


def draw_label(image: np.ndarray, box: tuple[int, int, int, int], text: str, colour: tuple[int, int, int]) -> None:
    """A filled tag with ``text`` above the box (below its top edge if there is no room above)."""
    height, width = image.shape[:2]
    x, y, w, h = box
    face_side = max(w, h)
    scale = max(0.4, min(4.0, face_side / 220))
    thickness = max(1, round(scale * 1.5))
    (tw, th), baseline = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, thickness)
    pad = max(2, round(th * 0.25))
    tag_w, tag_h = tw + 2 * pad, th + baseline + 2 * pad
    left = min(max(0, x), max(0, width - tag_w))
    top = y - tag_h if y - tag_h >= 0 else min(max(0, y), max(0, height - tag_h))
    cv2.rectangle(image, (left, top), (left + tag_w - 1, top + tag_h - 1), colour, cv2.FILLED)
    ink = (0, 0, 0) if sum(colour) > 450 else (255, 255, 255)
    origin = (left + pad, top + pad + th)
    cv2.putText(image, text, origin, cv2.FONT_HERSHEY_SIMPLEX, scale, ink, thickness, cv2.LINE_AA)
