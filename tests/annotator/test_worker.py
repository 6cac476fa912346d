"""The annotate task against real Redis and SeaweedFS: result.json, annotated.jpg, job end state."""

from __future__ import annotations

import io
import uuid

import numpy as np
import pytest
from PIL import Image

from services.contract.crop_policy import CROP_POLICY
from services.contract.jobs import JobStatus
from services.contract.schemas import DetectedFace, DetectionResult, JobResult, UnjudgeableReason
from services.contract.storage import annotated_key, crop_key, faces_key, original_key, result_key
from tests.detector.photos import jpeg_bytes, load_rgb
from tests.support.records import create_job, stored

MODEL = {"name": "fakeweb", "version": 3}


def _job(ctx, image: np.ndarray, faces: list[DetectedFace], scores: dict, **fields) -> str:
    job_id = uuid.uuid4().hex
    ctx.store.put_bytes(original_key(job_id), jpeg_bytes(image), "image/jpeg")
    judgeable = [f for f in faces if f.unjudgeable_reason is None]
    detection = DetectionResult(
        width=image.shape[1],
        height=image.shape[0],
        engine="blazeface",
        crop_policy=CROP_POLICY.name,
        faces=faces,
        chunks=1 if judgeable else 0,
    )
    ctx.store.put_json(faces_key(job_id), detection.model_dump(mode="json"))
    create_job(ctx.jobs, job_id, **fields)
    if scores:
        ctx.jobs.record_chunk_scores(job_id, 0, scores)
    return job_id


def _face(index: int, box: list[int], reason: UnjudgeableReason | None = None, job_id: str = "j") -> DetectedFace:
    return DetectedFace(
        index=index,
        box=box,
        detector_score=0.9,
        unjudgeable_reason=reason,
        crop_key=None if reason else crop_key(job_id, index),
        chunk=None if reason else 0,
    )


@pytest.fixture
def two_faces(shared_data):
    """Two press photos side by side; face boxes as the detector reports them for these files."""
    left = load_rgb(shared_data / "wild_press_photos" / "real" / "img21.jpg")  # 579x439, face (70,113,269,269)
    right = load_rgb(shared_data / "wild_press_photos" / "real" / "img46.jpg")  # 500x400, face (175,81,165,165)
    canvas = np.full((579, 439 + 400, 3), 200, dtype=np.uint8)
    canvas[:, :439] = left
    canvas[:500, 439:] = right
    return canvas, [[70, 113, 269, 269], [439 + 175, 81, 165, 165]]


def test_annotate_writes_result_and_image_and_completes(annotator_stage, two_faces):
    from services.annotator import worker

    image, boxes = two_faces
    faces = [_face(0, boxes[0]), _face(1, boxes[1]), _face(2, [5, 540, 15, 15], UnjudgeableReason.TOO_SMALL)]
    scores = {0: {"p": 0.93, "model": MODEL}, 1: {"p": 0.12, "model": MODEL}}
    job_id = _job(annotator_stage, image, faces, scores, include_landmarks=True)
    worker.annotate(job_id)

    record = stored(annotator_stage.jobs, job_id)
    assert record["status"] == JobStatus.COMPLETED
    assert record["faces_annotated"] == "3"
    assert "annotate_started" in record and "annotate_finished" in record

    result = JobResult.model_validate(annotator_stage.store.get_json(result_key(job_id)))
    assert (result.width, result.height, result.threshold) == (image.shape[1], image.shape[0], 0.5)
    fake, real, tiny = result.faces
    assert (fake.verdict, fake.manipulated_probability, fake.mesh) == ("manipulated", 0.93, True)
    assert fake.model.name == "fakeweb" and fake.model.version == 3
    assert len(fake.landmarks) == 478
    x, y, w, h = boxes[0]
    inside = [(x - 0.2 * w <= lx <= x + 1.2 * w and y - 0.3 * h <= ly <= y + 1.2 * h) for lx, ly in fake.landmarks]
    assert all(inside), "landmarks are mapped back onto the face in image coordinates"
    assert (real.verdict, real.mesh) == ("genuine", False), "no mesh is drawn over a genuine face"
    assert len(real.landmarks) == 478, "but its landmarks are kept, so a client can restyle at another threshold"
    rx, ry, rw, rh = boxes[1]
    assert all(
        rx - 0.2 * rw <= lx <= rx + 1.2 * rw and ry - 0.3 * rh <= ly <= ry + 1.2 * rh for lx, ly in real.landmarks
    )
    assert tiny.landmarks is None
    assert (tiny.verdict, tiny.reason, tiny.manipulated_probability) == ("unjudgeable", "too_small", None)

    annotated = Image.open(io.BytesIO(annotator_stage.store.get_bytes(annotated_key(job_id))))
    assert annotated.format == "JPEG"
    assert annotated.size == (image.shape[1], image.shape[0])


def test_landmarks_only_when_asked(annotator_stage, two_faces):
    from services.annotator import worker

    image, boxes = two_faces
    job_id = _job(annotator_stage, image, [_face(0, boxes[0])], {0: {"p": 0.8, "model": MODEL}})
    worker.annotate(job_id)
    face = annotator_stage.store.get_json(result_key(job_id))["faces"][0]
    assert face["mesh"] is True and face["landmarks"] is None


def test_photo_without_faces_ends_no_face_with_an_image(annotator_stage):
    from services.annotator import worker

    image = np.full((300, 420, 3), (30, 120, 200), dtype=np.uint8)
    job_id = _job(annotator_stage, image, [], {})
    worker.annotate(job_id)
    assert stored(annotator_stage.jobs, job_id)["status"] == JobStatus.NO_FACE
    assert annotator_stage.store.get_json(result_key(job_id))["faces"] == []
    annotated = Image.open(io.BytesIO(annotator_stage.store.get_bytes(annotated_key(job_id))))
    assert annotated.size == (420, 300)


def test_missing_score_fails_the_job(annotator_stage, two_faces):
    from services.annotator import worker

    image, boxes = two_faces
    job_id = _job(annotator_stage, image, [_face(0, boxes[0])], {})
    worker.annotate.apply(args=[job_id])
    record = stored(annotator_stage.jobs, job_id)
    assert (record["status"], record["reason"]) == (JobStatus.FAILED, "scores_missing")
    assert not annotator_stage.store.exists(result_key(job_id))


def test_finished_job_is_left_alone(annotator_stage, two_faces):
    from services.annotator import worker

    image, boxes = two_faces
    job_id = _job(annotator_stage, image, [_face(0, boxes[0])], {0: {"p": 0.8, "model": MODEL}})
    annotator_stage.jobs.complete(job_id, JobStatus.FAILED)
    worker.annotate(job_id)
    assert not annotator_stage.store.exists(result_key(job_id))
