"""The detector's stage output for one photo: its faces (from ``engine``), each judged, the judgeable ones cropped.

``engine`` finds where the faces are (the detection engines); this module turns them into
``faces.json`` records (judgeable or why not), one crop per judgeable face made by the crop
policy, and the chunks the classifier gets. (training/crops.py fingerprints every detector
file except this one and the worker, so it is named apart from the engine files.)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from services.contract.crop_policy import CROP_POLICY
from services.contract.schemas import DetectedFace, DetectionResult
from services.contract.settings import Settings
from services.contract.storage import crop_key
from services.detector.engine import detect_faces
from services.detector.quality import unjudgeable_reason


@dataclass
class DetectorOutput:
    """``faces.json`` for one photo and the policy crop of every judgeable face, by face index."""

    result: DetectionResult
    crops: dict[int, np.ndarray]

    @property
    def faces_judgeable(self) -> int:
        """How many faces will be scored."""
        return len(self.crops)


def analyse_photo(image_rgb: np.ndarray, job_id: str, settings: Settings, first_index: int = 0) -> DetectorOutput:
    """Find faces, decide which can be judged, crop those and split them into classify chunks.

    Faces are indexed top-to-bottom, left-to-right from ``first_index`` (a video frame's faces
    follow the earlier frames'), so a rerun gives the same indices and keys.
    """
    height, width = image_rgb.shape[:2]
    detections = detect_faces(
        image_rgb, engine=settings.detector_engine, min_face_px=settings.min_face_px, tile_px=settings.detector_tile_px
    )
    faces: list[DetectedFace] = []
    crops: dict[int, np.ndarray] = {}
    for index, det in enumerate(detections, first_index):
        reason = unjudgeable_reason(
            image_rgb,
            det.box,
            min_face_px=settings.min_face_px,
            blur_threshold=settings.blur_threshold,
            min_visible=settings.cut_off_visible,
            visible=det.visible,
        )
        face = DetectedFace(
            index=index,
            box=list(det.box),
            detector_score=round(det.score, 4),
            keypoints=[[round(x, 1), round(y, 1)] for x, y in det.keypoints],
            unjudgeable_reason=reason,
        )
        if reason is None:
            face.chunk = len(crops) // settings.classify_chunk_size
            face.crop_key = crop_key(job_id, index)
            crops[index] = CROP_POLICY.crop(image_rgb, det.box)
        faces.append(face)
    chunks = -(-len(crops) // settings.classify_chunk_size)
    result = DetectionResult(
        width=width,
        height=height,
        engine=settings.detector_engine,
        crop_policy=CROP_POLICY.name,
        faces=faces,
        chunks=chunks,
    )
    return DetectorOutput(result=result, crops=crops)
