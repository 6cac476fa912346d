"""Finish a job the way the annotator does (result.json, annotated.jpg, scores, final status, notify)."""

from __future__ import annotations

from services.contract.jobs import JobStatus, JobStore
from services.contract.schemas import FaceResult, JobResult, ModelRef, Verdict
from services.contract.storage import ObjectStore, annotated_key, result_key
from services.contract.tasks import make_celery, notify_job_ended
from tests.support.images import jpeg_bytes


def finish_job(
    settings, job_id: str, model_version: int | None = 1, faces: int = 1, model_name: str = "fakeweb"
) -> JobResult:
    """Write a finished job's outputs and record, then call notify_job_ended like the annotator."""
    jobs = JobStore.from_url(settings.redis_url)
    store = ObjectStore(settings)
    record = jobs.get(job_id)
    threshold = record.threshold
    model = ModelRef(name=model_name, version=model_version) if model_version is not None else None
    result = JobResult(
        width=record.width,
        height=record.height,
        threshold=threshold,
        faces=[
            FaceResult(
                index=i,
                box=[1, 1, 10, 10],
                detector_score=0.9,
                manipulated_probability=0.8 if model else None,
                verdict=Verdict.MANIPULATED if model else Verdict.UNJUDGEABLE,
                reason=None if model else "too_small",
                model=model,
            )
            for i in range(faces)
        ],
    )
    store.put_json(result_key(job_id), result.model_dump(mode="json"))
    store.put_bytes(annotated_key(job_id), jpeg_bytes(20, 20, seed=99), "image/jpeg")
    if model is not None and faces:
        jobs.record_chunk_scores(
            job_id, 0, {i: {"p": 0.8, "model": {"name": model.name, "version": model.version}} for i in range(faces)}
        )
    jobs.update(job_id, faces_total=faces, faces_annotated=faces, started={"annotate": 1.0}, finished={"annotate": 1.5})
    jobs.complete(job_id, JobStatus.COMPLETED if faces else JobStatus.NO_FACE)
    notify_job_ended(make_celery("test-annotator", settings), jobs, job_id)
    return result
