"""OpenCV's Haar cascade, the engine of the original prototype (no keypoints, coarse score)."""

from __future__ import annotations

import cv2
import numpy as np

from services.contract.held_model import HeldModel
from services.detector.blazeface import RawFace

MIN_NEIGHBOURS = 5
# Photos are scaled so their longest side is at most this before the cascade runs (speed).
MAX_SIDE = 2000


class HaarCascade(HeldModel[cv2.CascadeClassifier]):
    """OpenCV's frontal-face cascade from the opencv wheel."""

    def __init__(self) -> None:
        super().__init__("haar frontal face (OpenCV)")

    def _load(self) -> cv2.CascadeClassifier:
        path = cv2.data.haarcascades + "haarcascade_frontalface_default.xml"
        cascade = cv2.CascadeClassifier(path)
        if cascade.empty():
            raise RuntimeError(f"Haar cascade not found at {path}")
        self.version = f"opencv {cv2.__version__}, {path.rsplit('/', 1)[-1]}"
        return cascade

    def _predict(self, model: cv2.CascadeClassifier, grey: np.ndarray, smallest: int) -> tuple:
        return model.detectMultiScale2(grey, scaleFactor=1.1, minNeighbors=MIN_NEIGHBOURS, minSize=(smallest, smallest))


# Per process, made on first use (or at the worker's start-up).
MODEL = HaarCascade()
HELD_MODELS = (MODEL,)


def detect(image_rgb: np.ndarray, min_face_px: int) -> list[RawFace]:
    """Frontal faces; score is ``neighbours / (neighbours + 5)``, a rough confidence in (0, 1)."""
    height, width = image_rgb.shape[:2]
    scale = min(1.0, MAX_SIDE / max(height, width))
    grey = cv2.cvtColor(image_rgb, cv2.COLOR_RGB2GRAY)
    if scale < 1.0:
        grey = cv2.resize(grey, (round(width * scale), round(height * scale)), interpolation=cv2.INTER_AREA)
    grey = cv2.equalizeHist(grey)
    smallest = max(12, round(min_face_px * scale * 0.8))
    rects, neighbours = MODEL.predict(grey, smallest)
    faces = []
    for (x, y, w, h), n in zip(rects, neighbours, strict=True):
        box = (x / scale, y / scale, w / scale, h / scale)
        faces.append(RawFace(box=box, score=float(n) / (float(n) + MIN_NEIGHBOURS)))
    return faces
