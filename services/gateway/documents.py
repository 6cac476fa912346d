"""Turn a job record (and its stored result) into the API's job document."""

from __future__ import annotations

from services.contract.jobs import JobStatus, Stage
from services.contract.schemas import ErrorBody, FaceResult, JobDocument, JobLinks, JobResult, StageTiming

PROGRESS_FIELDS = ("faces_total", "faces_judgeable", "faces_scored", "faces_annotated")


def job_links(base_url: str, job_id: str) -> JobLinks:
    """Absolute links to a job and its annotated image."""
    base = base_url.rstrip("/")
    return JobLinks(self=f"{base}/v1/jobs/{job_id}", image=f"{base}/v1/jobs/{job_id}/image")


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


def job_document(job_id: str, record: dict[str, str], base_url: str, result: JobResult | None) -> JobDocument:
    """The document ``GET /v1/jobs/{id}`` answers with."""
    status = record.get("status", JobStatus.QUEUED.value)
    error = None
    if status == JobStatus.FAILED.value:
        error = ErrorBody(code=record.get("reason") or "failed", message=record.get("message") or "The job failed.")
    faces: list[FaceResult] | None = result.faces if result is not None else None
    return JobDocument(
        id=job_id,
        status=status,
        stage=record.get("stage") or None,
        created_at=float(record["created_at"]),
        updated_at=float(record["updated_at"]),
        threshold=float(record["threshold"]),
        progress={name: int(record[name]) for name in PROGRESS_FIELDS if record.get(name)},
        timings=stage_timings(record),
        error=error,
        faces=faces,
        links=job_links(base_url, job_id),
    )


def _float(value: str | None) -> float | None:
    return float(value) if value else None
