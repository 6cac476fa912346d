"""Classifier worker: scores one chunk of a job's face crops through TF Serving (queue ``classify``).

Run: ``celery -A services.classifier.worker worker -Q classify -P solo``. The gRPC channel and
the model metadata are made on first use in the worker process. At start-up the worker
resolves every model route its settings name and refuses to start on an unknown label.
"""

from __future__ import annotations

import logging
import sys
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from celery.signals import worker_init
from pydantic import ValidationError

from services.classifier.scoring import Classifier, ModelConfigurationError, check_routes
from services.contract.held_model import HeldModel
from services.contract.imaging import decode_png_rgb
from services.contract.pipeline import send_next, stage
from services.contract.schemas import DetectionResult
from services.contract.settings import get_settings
from services.contract.storage import ObjectNotFound, ObjectStore, crop_key, faces_key
from services.contract.tasks import JobFailed, StageTask, make_celery
from services.runtime.memory import keep_freed_memory

log = logging.getLogger(__name__)

STAGE = stage("classify")
app = make_celery(STAGE.service)
# Photos one after another: reuse freed image buffers rather than fault in fresh pages each time.
keep_freed_memory(get_settings().malloc_keep_mb)
CROP_READERS = 8


class HeldClassifier(HeldModel[Classifier]):
    """The process's classifier (one gRPC channel to TF Serving, model metadata cached), made on first use."""

    def __init__(self) -> None:
        super().__init__("classifier (TF Serving client)")

    def _load(self) -> Classifier:
        settings = get_settings()
        self.version = f"serving {settings.serving_address}"
        return Classifier(settings)


CLASSIFIER = HeldClassifier()


def get_classifier() -> Classifier:
    """The process's classifier, made on first use (``CLASSIFIER.load()``)."""
    return CLASSIFIER.load()


@worker_init.connect
def check_model_configuration(**_: object) -> None:
    """Stop the worker at start-up if its settings name a label serving does not have."""
    try:
        found = check_routes(get_settings(), get_classifier().client)
    except ModelConfigurationError as exc:
        message = f"classifier: configuration error: {exc}"
        log.critical(message)
        print(message, file=sys.stderr, flush=True)
        raise SystemExit(2) from exc
    except Exception as exc:  # noqa: BLE001 - serving down at start-up is not fatal: tasks retry
        log.warning("classifier: could not check the model routes at start-up: %s", exc)
        return
    finally:
        get_classifier().client.close()  # reopened lazily in whichever process runs tasks
    for signature in found:
        log.info("classifier: model %s version %d ready", signature.name, signature.version)


@app.task(name=STAGE.task, base=StageTask, bind=True)
def classify(
    self: StageTask,
    job_id: str,
    chunk: int,
    chunks: int | None = None,
    faces: list[int] | None = None,
    crops: list[str] | None = None,
) -> None:
    """Score the faces of ``chunk``, record them, and send the next stage when the last chunk is done.

    The detector's task names the chunk's ``faces`` (indexes) and the number of ``chunks``, and
    for a video the ``crops`` (S3 keys, one per face; a photo's crop is at ``crop_key``); a task
    without them (queued by an earlier version) reads ``faces.json``.
    """
    if self.jobs.start_stage(job_id, STAGE.name) is None:
        return  # gone or already ended
    store = self.store
    if faces is None or chunks is None:
        detection = _read_detection(store, job_id)
        chosen = [face for face in detection.faces if face.chunk == chunk and face.crop_key]
        faces, chunks = [face.index for face in chosen], detection.chunks
        crops = [face.crop_key or "" for face in chosen]
    keys = crops or [crop_key(job_id, index) for index in faces]
    with ThreadPoolExecutor(max_workers=CROP_READERS) as pool:  # S3 reads are I/O bound
        pixels = list(pool.map(lambda pair: _read_crop(store, *pair), zip(keys, faces, strict=True)))
    results = get_classifier().score(job_id, pixels)
    scores = {
        index: {"p": p, "model": {"name": name, "version": version}}
        for index, (p, name, version) in zip(faces, results, strict=True)
    }
    _, done = self.jobs.record_chunk_scores(job_id, chunk, scores)
    if done >= chunks:
        self.jobs.finish_stage(job_id, STAGE.name)
        send_next(app, STAGE, job_id)


def _read_detection(store: ObjectStore, job_id: str) -> DetectionResult:
    try:
        return DetectionResult.model_validate(store.get_json(faces_key(job_id)))
    except ObjectNotFound as exc:
        raise JobFailed("internal_error", "classify: the detector's faces.json is missing.") from exc
    except (ValidationError, ValueError) as exc:
        raise JobFailed("internal_error", "classify: faces.json does not match the contract.") from exc


def _read_crop(store: ObjectStore, key: str, index: int) -> np.ndarray:
    try:
        return decode_png_rgb(store.get_bytes(key))
    except ObjectNotFound as exc:
        raise JobFailed("internal_error", f"classify: crop of face {index} is missing.") from exc
    except (OSError, ValueError) as exc:
        raise JobFailed("internal_error", f"classify: crop of face {index} is not a PNG.") from exc
