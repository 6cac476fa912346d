"""Face detection on real photos: multi-face, collage positions, EXIF, no face, unjudgeable reasons."""

from __future__ import annotations

import io

import cv2
import numpy as np
import pytest
from PIL import Image

from bench.collage import load_sources, make_collage, match
from services.contract.imaging import decode_rgb
from services.contract.schemas import UnjudgeableReason
from services.contract.settings import Settings
from services.detector.boxes import iou
from services.detector.engine import detect_faces
from services.detector.faces import analyse_photo
from tests.detector.photos import MONTAGE_PHOTOS, jpeg_bytes, load_rgb, montage, no_face_photo


@pytest.fixture(scope="module")
def press(shared_data):
    return shared_data / "wild_press_photos" / "real"


@pytest.fixture(scope="module")
def jeff(press):
    """img21: one frontal face, about 270 px."""
    return load_rgb(press / "img21.jpg")


def _reasons(image, **overrides):
    output = analyse_photo(image, "test", Settings(**overrides))
    return [(tuple(f.box), f.unjudgeable_reason) for f in output.result.faces]


def test_press_photos_have_a_judgeable_face(press):
    for path in sorted(press.glob("*.jpg"))[::3]:  # every third photo keeps the test fast
        output = analyse_photo(load_rgb(path), "test", Settings())
        assert output.result.faces, f"no face found in {path.name}"
        largest = max(output.result.faces, key=lambda f: f.box[2] * f.box[3])
        assert largest.unjudgeable_reason is None, f"{path.name}: {largest.unjudgeable_reason}"


def test_multi_face_photo_count_is_stable_and_boxes_land_on_the_faces(press):
    paths = [press / name for name in MONTAGE_PHOTOS]
    image, spans = montage(paths, panel_height=360)
    first = detect_faces(image)
    second = detect_faces(image)
    assert [f.box for f in first] == [f.box for f in second]
    assert len(first) == len(paths)
    for face, (left, _, height), path in zip(sorted(first, key=lambda f: f.box[0]), spans, paths, strict=True):
        alone = detect_faces(load_rgb(path))
        assert len(alone) == 1
        scale = height / load_rgb(path).shape[0]
        ax, ay, aw, ah = alone[0].box
        expected = (left + ax * scale, 40 + ay * scale, aw * scale, ah * scale)
        assert iou(face.box, expected) >= 0.5, f"{path.name}: {face.box} vs {expected}"
        assert len(face.keypoints) == 6
        kx, ky = face.keypoints[0]  # right eye lies inside the box
        assert face.box[0] <= kx <= face.box[0] + face.box[2] and face.box[1] <= ky <= face.box[1] + face.box[3]
        assert 0.5 <= face.score <= 1.0


def test_collage_faces_are_found_at_their_known_positions(shared_data):
    sources = load_sources(shared_data, count=8, seed=3)
    rng = np.random.default_rng(11)
    collage = make_collage(sources, 1600, 1200, [40, 56, 80, 120, 180, 260, 360], rng)
    assert len(collage.boxes) == 7
    faces = detect_faces(collage.image)
    best, unmatched = match(collage.boxes, [f.box for f in faces])
    assert min(best) >= 0.5, list(zip(collage.sizes, best, strict=True))
    assert unmatched == []


def test_exif_rotated_photo_gives_boxes_in_upright_pixels(jeff):
    upright = detect_faces(jeff)
    # Store the pixels rotated 90 degrees clockwise with EXIF orientation 8 ("rotate 90 CCW to view").
    stored = np.ascontiguousarray(np.rot90(jeff, k=-1))
    exif = Image.Exif()
    exif[0x0112] = 8
    data = jpeg_bytes(stored, exif=exif.tobytes())
    assert Image.open(io.BytesIO(data)).size == (jeff.shape[0], jeff.shape[1])
    decoded = decode_rgb(data, 50_000_000, 12_000)
    assert decoded.shape == jeff.shape
    rotated = detect_faces(decoded)
    assert len(rotated) == len(upright) == 1
    assert iou(rotated[0].box, upright[0].box) >= 0.8


def test_photos_without_faces(jeff, press):
    assert detect_faces(no_face_photo()) == []
    building = load_rgb(press / "img22.jpg")[:, :700]  # glass facade left of the person
    assert detect_faces(np.ascontiguousarray(building)) == []
    assert detect_faces(np.full((300, 300, 3), 255, dtype=np.uint8)) == []


def test_tiny_face_is_found_and_marked_too_small(jeff):
    scale = 20 / 269
    small = cv2.resize(jeff, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    canvas = np.full((240, 320, 3), 150, dtype=np.uint8)
    canvas[100 : 100 + small.shape[0], 150 : 150 + small.shape[1]] = small
    (box, reason), *rest = _reasons(canvas)
    assert rest == []
    assert 150 <= box[0] <= 150 + small.shape[1] and max(box[2], box[3]) < 24
    assert reason is UnjudgeableReason.TOO_SMALL


def test_blurred_face_is_marked_too_blurry_and_the_sharp_one_is_not(jeff):
    assert _reasons(jeff)[0][1] is None
    blurred = cv2.GaussianBlur(jeff, (0, 0), 0.06 * 269)
    reasons = _reasons(blurred)
    assert len(reasons) == 1
    assert reasons[0][1] is UnjudgeableReason.TOO_BLURRY


def test_face_mostly_outside_the_frame_is_cut_off(jeff):
    # Keep only the right 45% of the face (face box x=70..339).
    cropped = np.ascontiguousarray(jeff[:, 70 + int(269 * 0.55) :])
    reasons = _reasons(cropped)
    assert [r for _, r in reasons] == [UnjudgeableReason.CUT_OFF]


def test_haar_engine_is_selectable(jeff):
    faces = detect_faces(jeff, engine="haar")
    assert len(faces) == 1
    assert iou(faces[0].box, detect_faces(jeff)[0].box) >= 0.4
    with pytest.raises(ValueError, match="unknown detector engine"):
        detect_faces(jeff, engine="nope")
