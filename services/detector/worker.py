"""The detector stage as a Celery worker (queue ``detect``).

Run: ``celery -A services.detector.worker worker -Q detect -P solo``. A solo or threads worker loads
its models at start-up; any other pool loads them on first use, in the process that runs the task.
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from celery import Task
from celery.signals import worker_init

from services.contract.held_model import warm_up_all
from services.contract.imaging import ImageRejected, decode_rgb, encode_png
from services.contract.pipeline import send_next, stage
from services.contract.settings import Settings, get_settings
from services.contract.storage import ObjectNotFound, ObjectStore, faces_key, original_key
from services.contract.tasks import JobFailed, StageTask, load_at_start_up, make_celery
from services.detector.clip import analyse_video
from services.detector.engine import held_models
from services.detector.faces import analyse_photo
from services.runtime.memory import keep_freed_memory

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
    """Find every face of a job's photo, store crops and ``faces.json``, then hand the chunks of crops on."""
    jobs = self.jobs
    record = jobs.start_stage(job_id, STAGE.name)
    if record is None:
        return  # gone or already ended
    settings = self.settings
    store = self.store
    if record.media == "video":
        result = analyse_video(read_original(store, job_id), job_id, settings, store, jobs)
        store.put_json(faces_key(job_id), result.model_dump(mode="json"))
        judgeable = sum(1 for face in result.faces if face.crop_key is not None)
        extra = {"frames_detected": len(result.video.frames) if result.video else 0}
    else:
        image = load_original(store, job_id, settings)
        output = analyse_photo(image, job_id, settings)
        result, judgeable, extra = output.result, output.faces_judgeable, {}
        with ThreadPoolExecutor(max_workers=CROP_WRITERS) as pool:  # S3 writes are I/O bound
            writes = [
                pool.submit(store.put_bytes, face.crop_key, encode_png(output.crops[face.index]), "image/png")
                for face in result.faces
                if face.crop_key is not None
            ]
            writes.append(pool.submit(store.put_json, faces_key(job_id), result.model_dump(mode="json")))
            for write in writes:
                write.result()
    jobs.finish_stage(
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
    # Each chunk's task carries its face indexes, so the next stage need not read faces.json.
    chunks: list[list[int]] = [[] for _ in range(result.chunks)]
    for face in result.faces:
        if face.chunk is not None:
            chunks[face.chunk].append(face.index)
    send_next(app, STAGE, job_id, chunks=[{"faces": faces} for faces in chunks])
