"""The full-range model run through LiteRT finds exactly what MediaPipe's own graph finds."""

from __future__ import annotations

import cv2
import mediapipe as mp
import numpy as np
import pytest

from services.detector import full_range
from tests.detector.photos import load_rgb

SOURCES = ("wild_press_photos/real", "gan_stylegan2/fake", "faceswap_dfdc/real", "photoshop_ciplab/real")


@pytest.fixture(scope="module")
def mediapipe_full_range():
    with mp.solutions.face_detection.FaceDetection(model_selection=1, min_detection_confidence=0.5) as detector:
        yield detector


def _mediapipe_faces(detector, image):
    height, width = image.shape[:2]
    faces = []
    for det in detector.process(image).detections or []:
        rel = det.location_data.relative_bounding_box
        faces.append(
            (np.array([rel.xmin * width, rel.ymin * height, rel.width * width, rel.height * height]), det.score[0])
        )
    return sorted(faces, key=lambda f: (f[0][1], f[0][0]))


def _inputs(shared_data):
    """``(image, resampled)``: 192 px tiles as the pyramid cuts them, and whole photos to letterbox.

    A tile goes into the model as it is, so the answers must be MediaPipe's to the pixel. A photo of
    another size is resampled to 192 px, by ``cv2.resize`` here and by ``warpAffine`` in MediaPipe,
    which moves scores and boxes slightly.
    """
    for source in SOURCES:
        for path in sorted((shared_data / source).iterdir())[:6]:
            image = load_rgb(path)
            for longest in (192, 320):
                scale = longest / max(image.shape[:2])
                resized = cv2.resize(image, (round(image.shape[1] * scale), round(image.shape[0] * scale)))
                yield resized, resized.shape[:2] != (192, 192)
            big = cv2.resize(image, None, fx=2.5, fy=2.5)
            yield np.ascontiguousarray(big[:192, 96:288]), False


def test_same_faces_boxes_and_scores_as_mediapipe(shared_data, mediapipe_full_range):
    compared = found = 0
    exact = 0
    for image, resampled in _inputs(shared_data):
        expected = _mediapipe_faces(mediapipe_full_range, image)
        got = sorted(full_range.detect(image), key=lambda f: (f[0][1], f[0][0]))
        if resampled:  # resampling moves scores a little: compare the faces clear of the 0.6 threshold
            expected = [f for f in expected if f[1] >= 0.7]
            got = [f for f in got if f[1] >= 0.7]
        assert len(got) == len(expected), (image.shape, [s for _, s in expected], [s for _, s, _ in got])
        for (box, score, keypoints), (want_box, want_score) in zip(got, expected, strict=True):
            side = max(want_box[2], want_box[3])
            box_tolerance, score_tolerance = (0.05 * side, 0.1) if resampled else (1.0, 1e-4)
            assert np.abs(np.array(box) - want_box).max() <= box_tolerance
            assert score == pytest.approx(want_score, abs=score_tolerance)
            assert len(keypoints) == 6
        compared += 1
        found += len(got)
        exact += 0 if resampled else len(got)
    assert compared >= 60 and found >= 15 and exact >= 3, (compared, found, exact)


def test_weighted_suppression_merges_overlaps_into_their_score_weighted_mean():
    a = (np.array([0.0, 0, 10, 10, *[0.0] * 12]), 0.9)
    b = (np.array([1.0, 1, 10, 10, *[0.0] * 12]), 0.3)
    far = (np.array([50.0, 50, 10, 10, *[0.0] * 12]), 0.7)
    merged = full_range.weighted_nms([b, far, a])
    assert [round(score, 2) for _, score in merged] == [0.9, 0.7]
    assert merged[0][0][0] == pytest.approx(0.25)  # (0 * 0.9 + 1 * 0.3) / 1.2


def test_a_batch_of_tiles_answers_what_each_tile_answers_alone(shared_data, monkeypatch):
    """``detect_many`` puts several tiles in one model call; each tile's faces are its own, exactly."""
    monkeypatch.setattr(full_range, "MAX_BATCH", 16)
    tiles = []
    for path in sorted((shared_data / "wild_press_photos/real").iterdir())[:12]:
        image = load_rgb(path)
        scale = 384 / max(image.shape[:2])
        resized = cv2.resize(image, (round(image.shape[1] * scale), round(image.shape[0] * scale)))
        tiles += [resized[top : top + 192, left : left + 192] for top in (0, 96) for left in (0, 96, 192)]
    tiles.append(np.zeros((120, 192, 3), np.uint8))  # a tile cut short by the photo's edge
    assert len(tiles) > 16  # two calls, the second a different batch size
    batched = full_range.detect_many(tiles)
    alone = [full_range.detect(np.ascontiguousarray(tile)) for tile in tiles]
    assert batched == alone
    assert sum(len(faces) for faces in alone) >= 5


def test_two_threads_put_four_tiles_in_a_call_and_find_the_same_faces(shared_data, monkeypatch):
    tiles = []
    for path in sorted((shared_data / "wild_press_photos/real").iterdir())[:4]:
        image = load_rgb(path)
        scale = 192 / max(image.shape[:2])
        tiles.append(cv2.resize(image, (round(image.shape[1] * scale), round(image.shape[0] * scale))))
    tiles *= 3  # 12 tiles: three calls of four
    alone = [full_range.detect(tile) for tile in tiles]
    threaded = full_range.LiteRtFullRange(threads=2)
    threaded.load()
    assert threaded.tiles_per_call == 4 and "2 threads" in threaded.version
    monkeypatch.setattr(full_range, "MODEL", threaded)
    assert full_range.detect_many(tiles) == alone
    assert sum(len(faces) for faces in alone) >= 3
