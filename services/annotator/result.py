"""The job result: a verdict per detected face (`result.json`) and the annotated full-size photo."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from services.annotator.drawing import (
    GENUINE_BOX,
    GREY,
    draw_box,
    draw_dashed_box,
    draw_label,
    draw_mesh,
    line_width,
    probability_colour,
)
from services.annotator.mesh import face_landmarks
from services.contract.schemas import DetectionResult, FaceResult, JobResult, ModelRef, Verdict

NO_MESH_NOTE = "The mesh model found no face in the crop; the box is kept."


class ScoreMissing(Exception):
    """A judgeable face has no recorded score."""


@dataclass(frozen=True)
class AnnotateOptions:
    """What to draw and what to keep in the result."""

    threshold: float
    include_landmarks: bool = False
    genuine_boxes: bool = True
    unjudgeable_boxes: bool = True


@dataclass
class Annotation:
    """The annotated photo (RGB, same size as the input) and its result document."""

    image: np.ndarray
    result: JobResult


def judge_faces(detection: DetectionResult, scores: dict[int, dict[str, Any]], threshold: float) -> list[FaceResult]:
    """One FaceResult per detected face (none dropped): verdict by threshold, or unjudgeable with its reason."""
    results: list[FaceResult] = []
    for face in detection.faces:
        common = {"index": face.index, "box": face.box, "detector_score": face.detector_score}
        if face.unjudgeable_reason is not None:
            results.append(FaceResult(**common, verdict=Verdict.UNJUDGEABLE, reason=face.unjudgeable_reason))
            continue
        score = scores.get(face.index)
        if score is None:
            raise ScoreMissing(f"face {face.index} has no score")
        p = float(score["p"])
        model = score.get("model")
        results.append(
            FaceResult(
                **common,
                manipulated_probability=p,
                verdict=Verdict.MANIPULATED if p >= threshold else Verdict.GENUINE,
                model=ModelRef(**model) if model else None,
            )
        )
    return results


def annotate_photo(
    image_rgb: np.ndarray, detection: DetectionResult, scores: dict[int, dict[str, Any]], options: AnnotateOptions
) -> Annotation:
    """Draw meshes over manipulated faces, boxes and labels on a copy of the full-size photo."""
    canvas = image_rgb.copy()
    faces = judge_faces(detection, scores, options.threshold)
    for face in faces:
        box = tuple(face.box)
        side = max(face.box[2], face.box[3])
        if face.verdict is Verdict.UNJUDGEABLE and options.unjudgeable_boxes:
            draw_dashed_box(canvas, box, GREY, line_width(side, 200))
        elif face.verdict is Verdict.GENUINE and options.genuine_boxes:
            draw_box(canvas, box, GENUINE_BOX, line_width(side, 250))
    for face in faces:
        if face.verdict is not Verdict.MANIPULATED:
            continue
        p = face.manipulated_probability or 0.0
        side = max(face.box[2], face.box[3])
        draw_box(canvas, tuple(face.box), probability_colour(p), line_width(side, 200))
        landmarks = face_landmarks(image_rgb, tuple(face.box))
        if landmarks is None:
            face.mesh_note = NO_MESH_NOTE
            continue
        draw_mesh(canvas, landmarks, p, side)
        face.mesh = True
        if options.include_landmarks:
            face.landmarks = _rounded(landmarks)
    if options.include_landmarks:
        # Clients that restyle the result at another threshold need every scored face's mesh.
        for face in faces:
            if face.verdict is Verdict.GENUINE:
                landmarks = face_landmarks(image_rgb, tuple(face.box))
                if landmarks is None:
                    face.mesh_note = NO_MESH_NOTE
                else:
                    face.landmarks = _rounded(landmarks)
    for face in faces:
        p = face.manipulated_probability
        if p is None or (face.verdict is Verdict.GENUINE and not options.genuine_boxes):
            continue
        colour = probability_colour(p) if face.verdict is Verdict.MANIPULATED else GENUINE_BOX
        draw_label(canvas, tuple(face.box), f"{round(p * 100)}%", colour)
    height, width = image_rgb.shape[:2]
    return Annotation(
        image=canvas, result=JobResult(width=width, height=height, threshold=options.threshold, faces=faces)
    )


def _rounded(landmarks: np.ndarray) -> list[list[float]]:
    return [[round(float(x), 1), round(float(y), 1)] for x, y in landmarks]
