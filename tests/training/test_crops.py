"""Training crops are made by the detector service's code and the one crop policy, nothing else."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from services.contract.crop_policy import CROP_POLICY, CropPolicy
from services.contract.imaging import decode_rgb
from services.detector import engine
from training import crops


def test_training_uses_the_service_functions_themselves() -> None:
    assert crops.DETECT is engine.detect_faces
    assert crops.CROP.__func__ is CropPolicy.crop
    assert crops.CROP.__self__ is CROP_POLICY


def test_cached_crops_equal_policy_crops_of_detector_boxes(shared_data: Path, tmp_path: Path) -> None:
    path = shared_data / "ffpp_c23" / "real" / "youtube_033_0.jpg"
    image = decode_rgb(path.read_bytes(), crops.MAX_PIXELS, crops.MAX_SIDE)
    detections = engine.detect_faces(image, **crops.detector_params())
    assert detections
    expected = np.stack([CROP_POLICY.crop(image, d.box) for d in detections])
    cache = crops.CropCache(tmp_path)
    first = cache.faces(path)  # computed and stored
    second = cache.faces(path)  # read back from disk
    assert list(tmp_path.rglob("*.npz"))
    for got in (first, second):
        assert got.crops.shape == (len(detections), CROP_POLICY.size, CROP_POLICY.size, 3)
        assert np.array_equal(got.crops, expected)
        assert [tuple(b) for b in got.boxes] == [d.box for d in detections]


def test_unreadable_image_gives_no_face(tmp_path: Path) -> None:
    bad = tmp_path / "broken.jpg"
    bad.write_bytes(b"\xff\xd8\xff" + b"\x00" * 20)
    faces = crops.CropCache(None).faces(bad)
    assert faces.count == 0 and faces.main_face() is None


# Boxes the detector found when DETECTOR_REVISION was set: the cached crops of every trained model
# were made by this behaviour. A change that moves them must bump crops.DETECTOR_REVISION.
RECORDED_BOXES = {
    "wild_press_photos/real/img12.jpg": [(203, 82, 173, 173)],
    "wild_group_photos/real/2008_001322.jpg": [(343, 153, 98, 98), (103, 158, 85, 85), (226, 209, 74, 74)],
    "photoshop_ciplab/fake/easy_101_0010.jpg": [(92, 125, 288, 288)],
}


def test_detection_still_finds_the_boxes_recorded_for_this_detector_revision(shared_data: Path) -> None:
    assert crops.DETECTOR_REVISION == "blazeface-tiles-litert-1", "new revision: record its boxes here"
    for relative, boxes in RECORDED_BOXES.items():
        faces = crops.CropCache(None).faces(shared_data / relative)
        assert [tuple(int(v) for v in b) for b in faces.boxes] == boxes, relative


def test_detector_version_ignores_code_layout_but_not_parameters(monkeypatch) -> None:
    before = crops.detector_version()
    monkeypatch.setenv("FAKEWEB_MIN_FACE_PX", "48")
    from services.contract.settings import get_settings

    get_settings.cache_clear()
    try:
        assert crops.detector_version() != before
    finally:
        monkeypatch.delenv("FAKEWEB_MIN_FACE_PX")
        get_settings.cache_clear()
    assert crops.detector_version() == before
    monkeypatch.setattr(crops, "DETECTOR_REVISION", "another")
    assert crops.detector_version() != before
