"""Golden checks of the annotated image: where the mesh lands, its colour by probability, sizes."""

from __future__ import annotations

import numpy as np
import pytest

from services.annotator.drawing import draw_mesh, probability_colour, probability_opacity
from services.annotator.mesh import face_landmarks
from services.annotator.result import NO_MESH_NOTE, AnnotateOptions, annotate_photo
from services.contract.crop_policy import CROP_POLICY
from services.contract.schemas import DetectedFace, DetectionResult, UnjudgeableReason
from tests.detector.photos import load_rgb

JEFF_BOX = (70, 113, 269, 269)  # img21.jpg, as the detector reports it
MODEL = {"name": "fakeweb", "version": 1}


@pytest.fixture(scope="module")
def jeff(shared_data):
    return load_rgb(shared_data / "wild_press_photos" / "real" / "img21.jpg")


@pytest.fixture(scope="module")
def landmarks(jeff):
    points = face_landmarks(jeff, JEFF_BOX)
    assert points is not None
    return points


def _detection(image, faces):
    height, width = image.shape[:2]
    return DetectionResult(
        width=width, height=height, engine="blazeface", crop_policy=CROP_POLICY.name, faces=faces, chunks=1
    )


def _face(index, box, reason=None):
    return DetectedFace(index=index, box=list(box), detector_score=0.9, unjudgeable_reason=reason, chunk=0)


def _changed(before, after):
    return np.any(np.abs(before.astype(int) - after.astype(int)) > 8, axis=-1)


def test_landmarks_are_on_the_face(landmarks):
    assert landmarks.shape == (478, 2)
    x, y, w, h = JEFF_BOX
    nose_tip = landmarks[1]
    assert x + 0.3 * w <= nose_tip[0] <= x + 0.7 * w and y + 0.3 * h <= nose_tip[1] <= y + 0.8 * h


def test_mesh_pixels_fall_inside_the_face_box(jeff, landmarks):
    canvas = jeff.copy()
    draw_mesh(canvas, landmarks, 0.9, max(JEFF_BOX[2:]))
    changed = _changed(jeff, canvas)
    ys, xs = np.nonzero(changed)
    x, y, w, h = JEFF_BOX
    assert changed.sum() > 0.1 * w * h, "the mesh covers a good part of the face"
    margin = 0.05 * w
    assert xs.min() >= x - margin and xs.max() <= x + w + margin
    assert ys.min() >= y - margin and ys.max() <= y + h + margin


def _mesh_colour(background, landmarks, p):
    canvas = background.copy()
    draw_mesh(canvas, landmarks, p, 269)
    changed = _changed(background, canvas)
    return canvas[changed].astype(float).mean(axis=0)


def test_mesh_colour_is_red_at_0_9_and_different_at_0_5(landmarks):
    grey = np.full((600, 480, 3), 128, dtype=np.uint8)
    red, green, blue = _mesh_colour(grey, landmarks, 0.9)
    assert red > green + 50 and red > blue + 50
    at_half = _mesh_colour(grey, landmarks, 0.5)
    assert np.abs(at_half - np.array([red, green, blue])).max() > 40
    assert at_half[1] > green + 40, "p=0.5 is yellower (more green) than p=0.9"


def test_colour_scale_and_opacity():
    assert probability_colour(0.0)[1] > probability_colour(0.0)[0]
    r, g, b = probability_colour(1.0)
    assert r > 200 and g < 60 and b < 60
    assert probability_opacity(0.9) > probability_opacity(0.6) > probability_opacity(0.5)


def test_annotated_photo_keeps_size_and_every_face(jeff):
    tall = np.ascontiguousarray(np.vstack([jeff, jeff[:101]]))
    faces = [
        _face(0, JEFF_BOX),
        _face(1, (20, 600, 15, 15), UnjudgeableReason.TOO_SMALL),
        _face(2, (300, 520, 100, 100)),  # a patch of suit: the mesh model finds no face there
    ]
    scores = {0: {"p": 0.9, "model": MODEL}, 2: {"p": 0.8, "model": MODEL}}
    result = annotate_photo(tall, _detection(tall, faces), scores, AnnotateOptions(threshold=0.5))
    assert result.image.shape == tall.shape
    assert [f.index for f in result.result.faces] == [0, 1, 2]
    assert result.result.faces[0].mesh is True
    assert result.result.faces[1].verdict == "unjudgeable"
    no_mesh = result.result.faces[2]
    assert (no_mesh.verdict, no_mesh.mesh, no_mesh.mesh_note) == ("manipulated", False, NO_MESH_NOTE)
    x, y, w, h = no_mesh.box
    assert _changed(tall[y : y + h, x : x + w], result.image[y : y + h, x : x + w]).any(), "its box is still drawn"


def test_boxes_for_genuine_and_unjudgeable_faces_can_be_switched_off(jeff):
    faces = [_face(0, JEFF_BOX), _face(1, (400, 40, 30, 30), UnjudgeableReason.TOO_BLURRY)]
    scores = {0: {"p": 0.1, "model": MODEL}}
    detection = _detection(jeff, faces)
    drawn = annotate_photo(jeff, detection, scores, AnnotateOptions(threshold=0.5)).image
    assert _changed(jeff, drawn).any()
    plain = annotate_photo(
        jeff, detection, scores, AnnotateOptions(threshold=0.5, genuine_boxes=False, unjudgeable_boxes=False)
    ).image
    assert not _changed(jeff, plain).any()


def test_line_width_grows_with_the_face(jeff, landmarks):
    import cv2

    big = cv2.resize(jeff, None, fx=3, fy=3, interpolation=cv2.INTER_CUBIC)
    small_canvas, big_canvas = jeff.copy(), big.copy()
    draw_mesh(small_canvas, landmarks, 0.9, 269)
    draw_mesh(big_canvas, landmarks * 3, 0.9, 3 * 269)
    small_share = _changed(jeff, small_canvas).sum()
    big_share = _changed(big, big_canvas).sum() / 9
    assert big_share > 0.5 * small_share, "a 3x face gets proportionally thick lines, not hairlines"
