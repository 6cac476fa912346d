"""One line of ``GET /v1/jobs``: the job document's common fields (``services.contract.documents``)."""

from __future__ import annotations

from services.contract.documents import document_fields
from services.contract.record import JobRecord
from services.gateway.models import JobSummary


def job_summary(job_id: str, record: JobRecord, base_url: str) -> JobSummary:
    """One line of ``GET /v1/jobs`` (no faces: fetch the job for those)."""
    return JobSummary(**document_fields(job_id, record, base_url))
