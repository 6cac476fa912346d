"""Turn a job record (and its stored result) into the API's job documents."""

from __future__ import annotations

from services.contract.jobs import JobStatus, Stage
from services.contract.schemas import (
    ErrorBody,
    FaceResult,
    JobDocument,
    JobLinks,
    JobResult,
    StageTiming,
    WebhookState,
)
from services.gateway.models import JobSummary

PROGRESS_FIELDS = ("faces_total", "faces_judgeable", "faces_scored", "faces_annotated")


def job_links(base_url: str, job_id: str) -> JobLinks:
    """Absolute links to a job, its annotated image and its original photo."""
    base = base_url.rstrip("/")
    return JobLinks(
        self=f"{base}/v1/jobs/{job_id}",
        image=f"{base}/v1/jobs/{job_id}/image",
        original=f"{base}/v1/jobs/{job_id}/original",
    )


def stage_timings(record: dict[str, str]) -> dict[str, StageTiming]:
    """Per-stage start, finish and duration from the record's ``<stage>_started/_finished`` fields."""
    timings: dict[str, StageTiming] = {}
    for stage in Stage:
        started = _float(record.get(f"{stage.value}_started"))
        finished = _float(record.get(f"{stage.value}_finished"))
        if started is None and finished is None:
            continue
        seconds = round(finished - started, 4) if started is not None and finished is not None else None
        timings[stage.value] = StageTiming(started_at=started, finished_at=finished, seconds=seconds)
    return timings


def job_error(record: dict[str, str]) -> ErrorBody | None:
    """``{code, message}`` of a failed job."""
    if record.get("status") != JobStatus.FAILED.value:
        return None
    return ErrorBody(code=record.get("reason") or "failed", message=record.get("message") or "The job failed.")


def webhook_state(record: dict[str, str]) -> WebhookState | None:
    """Delivery state of the job's callback, if it has one."""
    if not record.get("callback_url"):
        return None
    last = record.get("webhook_last_http_status")
    return WebhookState(
        status=record.get("webhook_status") or "pending",
        attempts=int(record.get("webhook_attempts") or 0),
        last_http_status=int(last) if last else None,
    )


def job_document(job_id: str, record: dict[str, str], base_url: str, result: JobResult | None) -> JobDocument:
    """The document ``GET /v1/jobs/{id}`` answers with (and webhooks send)."""
    faces: list[FaceResult] | None = result.faces if result is not None else None
    return JobDocument(
        id=job_id,
        status=record.get("status", JobStatus.QUEUED.value),
        stage=record.get("stage") or None,
        created_at=float(record["created_at"]),
        updated_at=float(record["updated_at"]),
        threshold=float(record["threshold"]),
        progress=progress(record),
        timings=stage_timings(record),
        error=job_error(record),
        faces=faces,
        links=job_links(base_url, job_id),
        cached=record.get("cached") == "1",
        webhook=webhook_state(record),
    )


def job_summary(job_id: str, record: dict[str, str], base_url: str) -> JobSummary:
    """One line of ``GET /v1/jobs`` (no faces: fetch the job for those)."""
    return JobSummary(
        id=job_id,
        status=record.get("status", JobStatus.QUEUED.value),
        stage=record.get("stage") or None,
        created_at=float(record["created_at"]),
        updated_at=float(record["updated_at"]),
        threshold=float(record["threshold"]),
        progress=progress(record),
        error=job_error(record),
        cached=record.get("cached") == "1",
        links=job_links(base_url, job_id),
    )


def progress(record: dict[str, str]) -> dict[str, int]:
    """Faces found / judgeable / scored / annotated so far."""
    return {name: int(record[name]) for name in PROGRESS_FIELDS if record.get(name)}


def _float(value: str | None) -> float | None:
    return float(value) if value else None
