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
from services.contract.imaging import decode_png_rgb
from services.contract.jobs import Stage
from services.contract.memory import keep_freed_memory
from services.contract.schemas import DetectedFace, DetectionResult
from services.contract.settings import get_settings
from services.contract.storage import ObjectNotFound, ObjectStore, faces_key
from services.contract.tasks import ANNOTATE_TASK, CLASSIFY_TASK, JobFailed, StageTask, make_celery, send_stage

log = logging.getLogger(__name__)

app = make_celery("classifier")
# Photos one after another: reuse freed image buffers rather than fault in fresh pages each time.
keep_freed_memory(get_settings().malloc_keep_mb)
CROP_READERS = 8

_classifier: Classifier | None = None


def get_classifier() -> Classifier:
    """The process's classifier (one gRPC channel), made on first use."""
    global _classifier
    if _classifier is None:
        _classifier = Classifier(get_settings())
    return _classifier


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


@app.task(name=CLASSIFY_TASK, base=StageTask, bind=True)
def classify(self: StageTask, job_id: str, chunk: int) -> None:
    """Score the faces of ``chunk``, record them, and send annotate when the last chunk is done."""
    if self.jobs.is_final(job_id):
        return
    self.jobs.start_stage(job_id, Stage.CLASSIFY)
    store = self.store
    try:
        detection = DetectionResult.model_validate(store.get_json(faces_key(job_id)))
    except ObjectNotFound as exc:
        raise JobFailed("internal_error", "classify: the detector's faces.json is missing.") from exc
    except (ValidationError, ValueError) as exc:
        raise JobFailed("internal_error", "classify: faces.json does not match the contract.") from exc
    faces = [face for face in detection.faces if face.chunk == chunk and face.crop_key]
    with ThreadPoolExecutor(max_workers=CROP_READERS) as pool:  # S3 reads are I/O bound
        crops = list(pool.map(lambda face: _read_crop(store, face), faces))
    results = get_classifier().score(job_id, crops)
    scores = {
        face.index: {"p": p, "model": {"name": name, "version": version}}
        for face, (p, name, version) in zip(faces, results, strict=True)
    }
    _, done = self.jobs.record_chunk_scores(job_id, chunk, scores)
    record = self.jobs.get(job_id)
    if done >= int(record.get("chunks_total") or detection.chunks):
        self.jobs.finish_stage(job_id, Stage.CLASSIFY)
        send_stage(app, ANNOTATE_TASK, job_id)


def _read_crop(store: ObjectStore, face: DetectedFace) -> np.ndarray:
    try:
        return decode_png_rgb(store.get_bytes(face.crop_key or ""))
    except ObjectNotFound as exc:
        raise JobFailed("internal_error", f"classify: crop of face {face.index} is missing.") from exc
    except (OSError, ValueError) as exc:
        raise JobFailed("internal_error", f"classify: crop of face {face.index} is not a PNG.") from exc
