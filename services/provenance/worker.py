"""The provenance stage as a Celery worker (queue ``provenance``).

Run: ``celery -A services.provenance.worker worker -Q provenance -P solo``. It reads the original
file, byte for byte as it was sent (the gateway stores uploads and fetched URLs unchanged), so
credentials and XMP the gateway never touches are read as the sender's file has them. No model, no
image decoding for the verdict: a small process that only imports the C2PA library.
"""

from __future__ import annotations

import logging

from celery import Task

from services.contract.pipeline import send_next, stage
from services.contract.storage import ObjectNotFound, original_key
from services.contract.tasks import JobFailed, StageTask, make_celery
from services.provenance.reading import ReadOptions, TrustListInvalid, read_provenance

log = logging.getLogger(__name__)

STAGE = stage("provenance")
app = make_celery(STAGE.service)


@app.task(name=STAGE.task, base=StageTask, bind=True)
def provenance(self: Task, job_id: str) -> None:
    """Read the original's Content Credentials and XMP source type into the record, then hand the job on."""
    jobs = self.jobs
    record = jobs.start_stage(job_id, STAGE.name)
    if record is None:
        return  # gone or already ended
    try:
        data = self.store.get_bytes(original_key(job_id))
    except ObjectNotFound as exc:
        raise JobFailed("original_missing", "The uploaded photo is no longer in storage.") from exc
    try:
        found = read_provenance(data, record.media_type, ReadOptions.from_settings(self.settings))
    except TrustListInvalid as exc:
        raise JobFailed("trust_list_invalid", str(exc)) from exc
    jobs.finish_stage(job_id, STAGE.name, provenance=found)
    log.info("job %s: provenance %s", job_id, found.status.value)
    send_next(app, STAGE, job_id)
