"""The detector stage as a Celery worker: ``detect`` (a photo; a video's plan) and ``detect_frames`` (its chunks).

Run: ``celery -A services.detector.worker worker -Q detect -P solo`` (program ``detector``) and
``... -Q detect_frames -P solo`` (program ``detector-frames``, as many as a clip should spread over).
A solo or threads worker loads its models at start-up; any other pool loads them on first use, in
the process that runs the task.
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from celery import Task
from celery.signals import worker_init

from services.contract.held_model import warm_up_all
from services.contract.imaging import ImageRejected, decode_rgb, encode_png
from services.contract.pipeline import DETECT_FRAMES, send, send_next, stage
from services.contract.schemas import DetectionResult
from services.contract.settings import Settings, get_settings
from services.contract.storage import ObjectNotFound, ObjectStore, faces_key, original_key
from services.contract.tasks import JobFailed, StageTask, load_at_start_up, make_celery
from services.detector.clip import CHUNK_HOOK, detect_chunk, link_clip, plan_video
from services.detector.engine import held_models
from services.detector.faces import analyse_photo
from services.runtime.memory import keep_freed_memory
from services.runtime.testhooks import sleep_if_asked

log = logging.getLogger(__name__)

STAGE = stage("detect")
app = make_celery(STAGE.service)
CROP_WRITERS = 4
# Photos one after another: reuse freed image buffers rather than fault in fresh pages each time.
keep_freed_memory(get_settings().malloc_keep_mb)


@worker_init.connect
def load_models(sender: object = None, **_: object) -> None:
    """Load and warm up the detection models at start-up, so the first job does not wait ~6 s for them."""
    models = held_models(get_settings().detector_engine)
    load_at_start_up(sender, "detector models", lambda: warm_up_all(models))


def read_original(store: ObjectStore, job_id: str) -> bytes:
    """The uploaded bytes; a missing original fails the job."""
    try:
        return store.get_bytes(original_key(job_id))
    except ObjectNotFound as exc:
        raise JobFailed("original_missing", "The uploaded photo or video is no longer in storage.") from exc


def load_original(store: ObjectStore, job_id: str, settings: Settings) -> np.ndarray:
    """Read and decode the uploaded photo; bad or missing input fails the job."""
    data = read_original(store, job_id)
    try:
        return decode_rgb(data, settings.max_pixels, settings.max_side)
    except ImageRejected as exc:
        raise JobFailed(exc.code, exc.message) from exc


@app.task(name=STAGE.task, base=StageTask, bind=True)
def detect(self: Task, job_id: str) -> None:
    """Find every face of a job's photo, store crops and ``faces.json``, then hand the chunks of crops on.

    A video is only planned here: its chunks of sampled frames go to ``detect_frames``, and the
    chunk that finishes last hands on to the next stage.
    """
    jobs = self.jobs
    record = jobs.start_stage(job_id, STAGE.name)
    if record is None:
        return  # gone or already ended
    settings = self.settings
    store = self.store
    if record.media == "video":
        plan = plan_video(read_original(store, job_id), settings)
        jobs.update(
            job_id, frames_total=len(plan.targets), duration_s=plan.duration_s, width=plan.width, height=plan.height
        )
        payloads = plan.chunk_payloads(settings.video_sample_fps)
        if not payloads:
            raise JobFailed("no_frames", "The video has no frame to analyse.")
        for chunk, payload in enumerate(payloads):
            send(app, DETECT_FRAMES, job_id, chunk, chunks=len(payloads), **payload)
        log.info("job %s: %d sampled frames in %d chunks", job_id, len(plan.targets), len(payloads))
        return
    image = load_original(store, job_id, settings)
    output = analyse_photo(image, job_id, settings)
    result = output.result
    with ThreadPoolExecutor(max_workers=CROP_WRITERS) as pool:  # S3 writes are I/O bound
        writes = [
            pool.submit(store.put_bytes, face.crop_key, encode_png(output.crops[face.index]), "image/png")
            for face in result.faces
            if face.crop_key is not None
        ]
        writes.append(pool.submit(store.put_json, faces_key(job_id), result.model_dump(mode="json")))
        for write in writes:
            write.result()
    _hand_on(self, job_id, result, output.faces_judgeable)


@app.task(name=DETECT_FRAMES.task, base=StageTask, bind=True)
def detect_frames(
    self: Task,
    job_id: str,
    chunk: int,
    chunks: int,
    first: int,
    stop: int,
    targets: list[float],
    duration_s: float | None = None,
    sample_fps: float = 0.0,
) -> None:
    """Search one chunk of a video's sampled frames (samples ``first`` to ``stop``) and count it done.

    The call that counts the last chunk links the whole clip and hands on as ``detect`` does.
    """
    jobs = self.jobs
    if jobs.start_stage(job_id, STAGE.name) is None:
        return  # gone or already ended
    settings, store = self.settings, self.store
    data = read_original(store, job_id)
    found = detect_chunk(data, job_id, chunk, targets, first, stop, settings, store, jobs.writer)
    _, done = jobs.record_frame_chunk(job_id, chunk, len(found.frames))
    sleep_if_asked(jobs.redis, CHUNK_HOOK)  # tests only: hold the task after a chunk is stored and counted
    if done < chunks:
        return  # gone (-1), or other chunks still to search
    result = link_clip(job_id, chunks, duration_s, sample_fps or settings.video_sample_fps, settings, store)
    store.put_json(faces_key(job_id), result.model_dump(mode="json"))
    judgeable = sum(1 for face in result.faces if face.crop_key is not None)
    _hand_on(self, job_id, result, judgeable, frames_detected=len(result.video.frames) if result.video else 0)


def _hand_on(self: Task, job_id: str, result: DetectionResult, judgeable: int, **extra: int) -> None:
    """End ``detect`` with its counts and send each classify chunk its faces (and where their crops are)."""
    self.jobs.finish_stage(
        job_id,
        STAGE.name,
        faces_total=len(result.faces),
        faces_judgeable=judgeable,
        chunks_total=result.chunks,
        width=result.width,
        height=result.height,
        **extra,
    )
    log.info("job %s: %d faces, %d to score", job_id, len(result.faces), judgeable)
    # Each chunk's task carries its face indexes, so the next stage need not read faces.json; a
    # video's crops are stored by frame chunk, so their keys go along too.
    chunks: list[dict[str, list]] = [{"faces": []} for _ in range(result.chunks)]
    for face in result.faces:
        if face.chunk is not None:
            chunks[face.chunk]["faces"].append(face.index)
            if result.video is not None:
                chunks[face.chunk].setdefault("crops", []).append(face.crop_key)
    send_next(app, STAGE, job_id, chunks=chunks)
