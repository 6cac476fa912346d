"""The job document: what ``GET /v1/jobs/{id}`` answers and what a job's webhook POSTs.

Both the gateway and the webhook worker send it, so it is built here, from the job record and the
stored result, and nowhere else.
"""

from __future__ import annotations

from typing import Any

from services.contract.pipeline import STAGE_NAMES
from services.contract.provenance import Provenance, provenance_summary
from services.contract.record import JobRecord, JobStatus
from services.contract.schemas import (
    ErrorBody,
    FaceResult,
    JobDocument,
    JobLinks,
    JobResult,
    StageTiming,
    WebhookState,
)

PROGRESS_FIELDS = (
    "faces_total",
    "faces_judgeable",
    "faces_scored",
    "faces_annotated",
    "frames_total",
    "frames_detected",
)


def job_links(base_url: str, job_id: str, media: str = "photo") -> JobLinks:
    """Absolute links to a job, its annotated image, its original and (a video job) its annotated clip."""
    base = base_url.rstrip("/")
    return JobLinks(
        self=f"{base}/v1/jobs/{job_id}",
        image=f"{base}/v1/jobs/{job_id}/image",
        original=f"{base}/v1/jobs/{job_id}/original",
        video=f"{base}/v1/jobs/{job_id}/video" if media == "video" else None,
    )


def stage_timings(record: JobRecord) -> dict[str, StageTiming]:
    """Per-stage start, finish and duration, in pipeline order."""
    timings: dict[str, StageTiming] = {}
    for stage in STAGE_NAMES:
        started, finished = record.started.get(stage), record.finished.get(stage)
        if started is None and finished is None:
            continue
        seconds = round(finished - started, 4) if started is not None and finished is not None else None
        timings[stage] = StageTiming(started_at=started, finished_at=finished, seconds=seconds)
    return timings


def job_error(record: JobRecord) -> ErrorBody | None:
    """``{code, message}`` of a failed job."""
    if record.status != JobStatus.FAILED:
        return None
    return ErrorBody(code=record.reason or "failed", message=record.message or "The job failed.")


def webhook_state(record: JobRecord) -> WebhookState | None:
    """Delivery state of the job's callback, if it has one."""
    if not record.callback_url:
        return None
    return WebhookState(
        status=record.webhook_status or "pending",
        attempts=record.webhook_attempts,
        last_http_status=record.webhook_last_http_status,
    )


def job_document(job_id: str, record: JobRecord, base_url: str, result: JobResult | None) -> JobDocument:
    """The document ``GET /v1/jobs/{id}`` answers with (and webhooks send)."""
    faces: list[FaceResult] | None = result.faces if result is not None else None
    provenance = record.provenance or Provenance()
    verdicts = [face.verdict.value for face in faces] if faces is not None else None
    return JobDocument(
        **document_fields(job_id, record, base_url),
        timings=stage_timings(record),
        faces=faces,
        tracks=result.tracks if result is not None else None,
        video=result.video if result is not None else None,
        webhook=webhook_state(record),
        provenance=provenance,
        summary=" ".join(filter(None, (faces_sentence(verdicts), provenance_summary(provenance, verdicts)))),
    )


def faces_sentence(verdicts: list[str] | None) -> str:
    """ "3 faces: 1 manipulated, 2 genuine." once the job has a result; "" before."""
    if verdicts is None:
        return ""
    if not verdicts:
        return "No face found."
    counts = [f"{verdicts.count(v)} {v}" for v in ("manipulated", "genuine", "unjudgeable") if v in verdicts]
    faces = "1 face" if len(verdicts) == 1 else f"{len(verdicts)} faces"
    return f"{faces}: {', '.join(counts)}."


def document_fields(job_id: str, record: JobRecord, base_url: str) -> dict[str, Any]:
    """The fields a job document shares with its one-line summary in ``GET /v1/jobs``."""
    return {
        "id": job_id,
        "status": record.status.value,
        "stage": record.stage,
        "created_at": record.created_at,
        "updated_at": record.updated_at,
        "threshold": record.threshold,
        "progress": progress(record),
        "error": job_error(record),
        "cached": record.cached,
        "media": record.media,
        "links": job_links(base_url, job_id, record.media),
    }


def progress(record: JobRecord) -> dict[str, int]:
    """Faces found / judgeable / scored / annotated so far."""
    return {name: getattr(record, name) for name in PROGRESS_FIELDS if getattr(record, name) is not None}
