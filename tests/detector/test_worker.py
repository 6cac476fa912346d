"""The detect task against real Redis and SeaweedFS: stored crops, faces.json, job record, fan-out."""

from __future__ import annotations

import base64
import json
import uuid

import pytest

from services.contract.imaging import decode_png_rgb
from services.contract.jobs import JobStatus
from services.contract.pipeline import stage
from services.contract.schemas import DetectionResult
from services.contract.storage import crop_key, faces_key, job_prefix, original_key
from tests.detector.photos import MONTAGE_PHOTOS, jpeg_bytes, montage, no_face_photo
from tests.support.records import create_job, stored

CLASSIFY_TASK, ANNOTATE_TASK = stage("classify").task, stage("annotate").task


def _submit(ctx, data: bytes) -> str:
    job_id = uuid.uuid4().hex
    ctx.store.put_bytes(original_key(job_id), data, "image/jpeg")
    create_job(ctx.jobs, job_id)
    return job_id


def _queued(ctx, queue: str) -> list[tuple[str, list]]:
    """Tasks waiting in a Celery queue on the Redis broker: (task name, args)."""
    messages = []
    for raw in ctx.jobs.redis.lrange(queue, 0, -1):
        message = json.loads(raw)
        body = json.loads(base64.b64decode(message["body"]))
        messages.append((message["headers"]["task"], body[0]))
    return messages


@pytest.fixture
def montage_job(detector_stage, shared_data):
    photos = [shared_data / "wild_press_photos" / "real" / name for name in MONTAGE_PHOTOS]
    image, spans = montage(photos)
    return _submit(detector_stage, jpeg_bytes(image)), image, spans


def test_detect_stores_a_crop_per_face_and_queues_classify(detector_stage, montage_job, monkeypatch):
    from services.detector import worker

    monkeypatch.setattr(detector_stage.settings, "classify_chunk_size", 2)
    job_id, image, spans = montage_job
    worker.detect(job_id)

    result = DetectionResult.model_validate(detector_stage.store.get_json(faces_key(job_id)))
    assert (result.width, result.height) == (image.shape[1], image.shape[0])
    assert len(result.faces) == len(spans)
    by_x = sorted(result.faces, key=lambda f: f.box[0])
    for face, (left, width, _) in zip(by_x, spans, strict=True):
        x, _, w, _ = face.box
        assert left <= x and x + w <= left + width, "each panel's face is found inside that panel"
        assert face.unjudgeable_reason is None
        assert face.crop_key == crop_key(job_id, face.index)
        crop = decode_png_rgb(detector_stage.store.get_bytes(face.crop_key))
        assert crop.shape == (224, 224, 3)
    assert [f.chunk for f in result.faces] == [0, 0, 1]
    assert result.chunks == 2

    record = stored(detector_stage.jobs, job_id)
    assert record["status"] == JobStatus.RUNNING
    assert record["stage"] == "detect"
    assert "detect_started" in record and "detect_finished" in record
    assert (record["faces_total"], record["faces_judgeable"], record["chunks_total"]) == ("3", "3", "2")
    assert (record["width"], record["height"]) == (str(image.shape[1]), str(image.shape[0]))
    assert sorted(_queued(detector_stage, "classify")) == [(CLASSIFY_TASK, [job_id, 0]), (CLASSIFY_TASK, [job_id, 1])]


def test_detect_rerun_rewrites_the_same_objects(detector_stage, montage_job):
    from services.detector import worker

    job_id, _, _ = montage_job
    worker.detect(job_id)
    first_faces = detector_stage.store.get_bytes(faces_key(job_id))
    first_keys = sorted(detector_stage.store.list_keys(job_prefix(job_id)))
    worker.detect(job_id)
    assert detector_stage.store.get_bytes(faces_key(job_id)) == first_faces
    assert sorted(detector_stage.store.list_keys(job_prefix(job_id))) == first_keys


def test_photo_without_faces_goes_straight_to_annotate(detector_stage):
    from services.detector import worker

    job_id = _submit(detector_stage, jpeg_bytes(no_face_photo()))
    worker.detect(job_id)
    result = detector_stage.store.get_json(faces_key(job_id))
    assert result["faces"] == [] and result["chunks"] == 0
    assert stored(detector_stage.jobs, job_id)["faces_total"] == "0"
    assert _queued(detector_stage, "annotate") == [(ANNOTATE_TASK, [job_id])]
    assert _queued(detector_stage, "classify") == []


def test_corrupt_upload_fails_the_job_with_a_reason(detector_stage):
    from services.detector import worker

    job_id = _submit(detector_stage, b"\xff\xd8\xff\xe0" + b"\x00" * 200)
    worker.detect.apply(args=[job_id])
    record = stored(detector_stage.jobs, job_id)
    assert record["status"] == JobStatus.FAILED
    assert record["reason"] == "corrupt_image"
    assert _queued(detector_stage, "classify") == [] and _queued(detector_stage, "annotate") == []


def test_finished_job_is_left_alone(detector_stage, montage_job):
    from services.detector import worker

    job_id, _, _ = montage_job
    detector_stage.jobs.complete(job_id, JobStatus.COMPLETED)
    worker.detect(job_id)
    assert not detector_stage.store.exists(faces_key(job_id))
