"""Face detection engines. Models are created lazily, once per process, never before a fork."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

import numpy as np


@dataclass
class Detection:
    """A face found in an image: box ``(x, y, w, h)`` in image pixels, score, keypoints."""

    box: tuple[int, int, int, int]
    score: float
    keypoints: list[tuple[float, float]] = field(default_factory=list)
    visible: float = 1.0


# Close-ups (a face filling the frame) defeat the full-range model; the short-range model
# on the photo padded by half its longest side finds them (80/80 DFDC crops vs 14/80).
CLOSE_UP_PAD = 0.5

_lock = threading.Lock()
_blazeface: dict[int, object] = {}


def _blazeface_model(model_selection: int):  # noqa: ANN202 - mediapipe has no type hints
    with _lock:
        if model_selection not in _blazeface:
            import mediapipe as mp

            _blazeface[model_selection] = mp.solutions.face_detection.FaceDetection(
                model_selection=model_selection, min_detection_confidence=0.5
            )
        return _blazeface[model_selection]


def detect_faces(
    image_rgb: np.ndarray, *, engine: str = "blazeface", min_face_px: int = 24, tile_px: int = 0
) -> list[Detection]:
    """Find faces in an RGB uint8 image: full-range BlazeFace, then a close-up fallback."""
    faces = _run_blazeface(image_rgb, model_selection=1)
    if not faces:
        height, width = image_rgb.shape[:2]
        pad = int(CLOSE_UP_PAD * max(height, width))
        padded = np.pad(image_rgb, ((pad, pad), (pad, pad), (0, 0)))
        faces = [
            Detection(
                box=_clip_box((f.box[0] - pad, f.box[1] - pad, f.box[2], f.box[3]), width, height),
                score=f.score,
                keypoints=[(x - pad, y - pad) for x, y in f.keypoints],
            )
            for f in _run_blazeface(padded, model_selection=0)
        ]
        faces = [f for f in faces if f.box[2] >= 1 and f.box[3] >= 1]
    faces.sort(key=lambda d: (d.box[1], d.box[0]))
    return faces


def _clip_box(box: tuple[int, int, int, int], width: int, height: int) -> tuple[int, int, int, int]:
    x0, y0 = max(0, box[0]), max(0, box[1])
    x1, y1 = min(width, box[0] + box[2]), min(height, box[1] + box[3])
    return x0, y0, x1 - x0, y1 - y0


def _run_blazeface(image_rgb: np.ndarray, model_selection: int) -> list[Detection]:
    height, width = image_rgb.shape[:2]
    detector = _blazeface_model(model_selection)
    with _lock:
        output = detector.process(np.ascontiguousarray(image_rgb))
    faces: list[Detection] = []
    for det in output.detections or []:
        rel = det.location_data.relative_bounding_box
        x0 = max(0.0, rel.xmin * width)
        y0 = max(0.0, rel.ymin * height)
        x1 = min(float(width), (rel.xmin + rel.width) * width)
        y1 = min(float(height), (rel.ymin + rel.height) * height)
        if x1 - x0 < 1 or y1 - y0 < 1:
            continue
        keypoints = [(kp.x * width, kp.y * height) for kp in det.location_data.relative_keypoints]
        box = (round(x0), round(y0), round(x1 - x0), round(y1 - y0))
        faces.append(Detection(box=box, score=float(det.score[0]), keypoints=keypoints))
    return faces
