"""MediaPipe FaceMesh on one face at a time, landmarks returned in full-image pixels.

The mesh model's own detector is short-range (faces filling its 128 px input), so it is run
on a square crop around each detected face rather than on the whole photo.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from services.contract.crop_policy import square_window
from services.contract.held_model import HeldModel

# Square around the detector box given to the mesh model: margin and input size.
MESH_CROP_SCALE = 1.6
MESH_CROP_SIZE = 256


class FaceMesh(HeldModel[Any]):
    """MediaPipe FaceMesh with refined landmarks (478 points), one face per call, still images."""

    def __init__(self) -> None:
        super().__init__("face mesh (MediaPipe)")

    def _load(self) -> Any:
        import mediapipe as mp

        self.version = f"mediapipe {mp.__version__}, face_landmark_with_attention.tflite"
        return mp.solutions.face_mesh.FaceMesh(
            static_image_mode=True, refine_landmarks=True, max_num_faces=1, min_detection_confidence=0.5
        )

    def _warm_up(self, model: Any) -> None:
        self._predict(model, np.zeros((MESH_CROP_SIZE, MESH_CROP_SIZE, 3), np.uint8))

    def _predict(self, model: Any, crop: np.ndarray) -> Any:
        return model.process(crop)


# Per process, made on first use (or at the worker's start-up), never before a fork.
FACE_MESH = FaceMesh()


def mesh_window(box: tuple[float, float, float, float]) -> tuple[int, int, int]:
    """``(left, top, side)`` of the square image window the mesh model sees for a face box."""
    x, y, w, h = box
    side = max(w, h) * MESH_CROP_SCALE
    return round(x + w / 2 - side / 2), round(y + h / 2 - side / 2), max(1, round(side))


def face_landmarks(image_rgb: np.ndarray, box: tuple[float, float, float, float]) -> np.ndarray | None:
    """The 478 refined mesh landmarks of the face in ``box`` as an ``(N, 2)`` array of image pixels.

    Returns None when the mesh model finds no face in the crop.
    """
    left, top, side = mesh_window(box)
    crop = square_window(image_rgb, left, top, side, MESH_CROP_SIZE)
    output = FACE_MESH.predict(crop)
    if not output.multi_face_landmarks:
        return None
    rel = np.array([(lm.x, lm.y) for lm in output.multi_face_landmarks[0].landmark], dtype=np.float64)
    return np.column_stack((left + rel[:, 0] * side, top + rel[:, 1] * side))
