"""The annotator stage as a Celery worker (queue ``annotate``).

Run: ``celery -A services.annotator.worker worker -Q annotate -P solo``. A solo or threads worker loads
the mesh model at start-up; any other pool loads it on first use, in the process that runs the task.
"""

from __future__ import annotations

import logging
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from celery import Task
from celery.signals import worker_init

from services.annotator.clip import VideoOptions, annotate_video
from services.annotator.mesh import FACE_MESH
from services.annotator.result import AnnotateOptions, ScoreMissing, annotate_photo
from services.contract.imaging import ImageRejected, decode_rgb, encode_jpeg
from services.contract.jobs import JobStatus, JobStore
from services.contract.pipeline import stage
from services.contract.schemas import DetectionResult
from services.contract.settings import Settings, get_settings
from services.contract.storage import (
    ObjectNotFound,
    ObjectStore,
    annotated_key,
    annotated_video_key,
    faces_key,
    original_key,
    result_key,
)
from services.contract.tasks import JobFailed, StageTask, load_at_start_up, make_celery, notify_job_ended
from services.contract.video import video_limits
from services.runtime.memory import keep_freed_memory

log = logging.getLogger(__name__)

STAGE = stage("annotate")
app = make_celery(STAGE.service)
# Photos one after another: reuse freed image buffers rather than fault in fresh pages each time.
keep_freed_memory(get_settings().malloc_keep_mb)


@worker_init.connect
def load_models(sender: object = None, **_: object) -> None:
    """Load and warm up the face mesh model at start-up, so the first job does not wait for it."""
    load_at_start_up(sender, "mesh model", FACE_MESH.warm_up)


def _read(store: ObjectStore, key: str, what: str) -> bytes:
    try:
        return store.get_bytes(key)
    except ObjectNotFound as exc:
        raise JobFailed(f"{what}_missing", f"The job's {what} is no longer in storage.") from exc


def _threshold(value: float | None, default: float) -> float:
    return value if value is not None and 0.0 <= value <= 1.0 else default


def load_original(store: ObjectStore, job_id: str, settings: Settings) -> np.ndarray:
    """Read and decode the uploaded photo; bad or missing input fails the job."""
    try:
        return decode_rgb(_read(store, original_key(job_id), "original"), settings.max_pixels, settings.max_side)
    except ImageRejected as exc:
        raise JobFailed(exc.code, exc.message) from exc


def annotate_clip(store: ObjectStore, jobs: JobStore, job_id: str, settings: Settings, options: AnnotateOptions) -> int:
    """Judge a video's tracks; store the annotated clip, the poster frame and ``result.json``; the faces annotated."""
    detection = DetectionResult.model_validate_json(_read(store, faces_key(job_id), "faces"))
    data = _read(store, original_key(job_id), "original")
    video_options = VideoOptions(
        photo=options, aggregation=settings.video_aggregation, min_track_frames=settings.video_min_track_frames
    )
    try:
        annotation = annotate_video(data, detection, jobs.scores(job_id), video_options, video_limits(settings))
    except ScoreMissing as exc:
        raise JobFailed("scores_missing", f"Annotation started before every face was scored: {exc}.") from exc
    except ImageRejected as exc:
        raise JobFailed(exc.code, exc.message) from exc
    store.put_bytes(annotated_video_key(job_id), annotation.clip, "video/mp4")
    store.put_bytes(annotated_key(job_id), encode_jpeg(annotation.poster, settings.jpeg_quality), "image/jpeg")
    store.put_json(result_key(job_id), annotation.result.model_dump(mode="json"))
    return len(detection.faces)


def annotate_still(
    store: ObjectStore, jobs: JobStore, job_id: str, settings: Settings, options: AnnotateOptions
) -> int:
    """Judge a photo's faces; store the annotated photo and ``result.json``; the faces annotated."""
    with ThreadPoolExecutor(max_workers=1) as pool:  # faces.json is read while the photo is fetched and decoded
        faces_read = pool.submit(_read, store, faces_key(job_id), "faces")
        image = load_original(store, job_id, settings)
        detection = DetectionResult.model_validate_json(faces_read.result())
    try:
        annotation = annotate_photo(image, detection, jobs.scores(job_id), options)
    except ScoreMissing as exc:
        raise JobFailed("scores_missing", f"Annotation started before every face was scored: {exc}.") from exc
    with ThreadPoolExecutor(max_workers=1) as pool:  # result.json is stored while the JPEG is encoded
        result_put = pool.submit(store.put_json, result_key(job_id), annotation.result.model_dump(mode="json"))
        store.put_bytes(annotated_key(job_id), encode_jpeg(annotation.image, settings.jpeg_quality), "image/jpeg")
        result_put.result()
    return len(annotation.result.faces)


@app.task(name=STAGE.task, base=StageTask, bind=True)
def annotate(self: Task, job_id: str) -> None:
    """Judge every face (a video: every track), draw the annotated photo (and clip), store them and end the job."""
    jobs = self.jobs
    record = jobs.start_stage(job_id, STAGE.name)
    if record is None:
        return  # gone or already ended
    settings = self.settings
    options = AnnotateOptions(
        threshold=_threshold(record.threshold, settings.threshold),
        include_landmarks=record.include_landmarks,
        genuine_boxes=settings.annotate_genuine_boxes,
        unjudgeable_boxes=settings.annotate_unjudgeable_boxes,
    )
    annotate_media = annotate_clip if record.media == "video" else annotate_still
    faces = annotate_media(self.store, jobs, job_id, settings, options)
    status = JobStatus.NO_FACE if faces == 0 else JobStatus.COMPLETED
    jobs.complete(job_id, status, finished={STAGE.name: time.time()}, faces_annotated=faces)
    notify_job_ended(app, jobs, job_id)
    log.info("job %s: annotated %d faces", job_id, faces)
