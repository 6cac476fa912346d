"""Deleting jobs for good: one job (``DELETE /v1/jobs/{id}``), jobs past their retention, and "forget me".

Everything a job stores is deleted: every object under ``jobs/{id}/`` (listed by prefix, so what a
later stage adds goes too), its record and side keys, its index entries, its idempotency key and
the result-cache entry that points at it.

Batches are crash-safe: the ids of a batch go into the Redis set :data:`DELETING_KEY` before the
first deletion, and each id leaves it only once everything of its job is gone. A sweeper that
dies midway finds the set non-empty when it starts again and finishes those jobs first; deleting
is idempotent, so deleting a job twice (two sweepers, a restart) is harmless.

"Forget me" (``DELETE /v1/jobs``) files a request (hash :data:`FORGET_KEY`, pending in
:data:`FORGET_PENDING_KEY`); the sweeper deletes every job the tenant submitted up to the
request, batch by batch, and marks the request ``done``. It stays pending until then, so a
restart resumes it.
"""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Callable
from typing import Any, NamedTuple

from services.contract.jobs import JOBS_INDEX_KEY, RETENTION_DUE_KEY, TENANT_JOBS_KEY, JobStore
from services.contract.storage import ObjectStore, job_prefix

log = logging.getLogger("fakeweb.retention")

DELETING_KEY = "fakeweb:retention:deleting"
FORGET_KEY = "fakeweb:forget:{request_id}"
FORGET_PENDING_KEY = "fakeweb:forget:pending"
DELETED_REASON = "deleted"


class Purged(NamedTuple):
    """What deleting one job did."""

    objects: int  # objects removed
    again: bool  # the job was running: it stays in DELETING_KEY for a second pass over its prefix


def purge_job(jobs: JobStore, store: ObjectStore, job_id: str, between: Callable[[str], None] | None = None) -> Purged:
    """Delete everything stored for one job (idempotent).

    The Redis side goes first (the job answers 404 at once and no stage starts again), then every
    object under the prefix. A job that was still running may have a stage mid-write: it is left
    in :data:`DELETING_KEY`, so the sweeper deletes its prefix once more a moment later.
    ``between`` runs after the Redis side (tests stop a sweeper there).
    """
    record = jobs.find(job_id)
    was_open = record is not None and not record.is_final
    if was_open:
        jobs.fail(job_id, DELETED_REASON, "The job was deleted while it ran.")
        jobs.redis.sadd(DELETING_KEY, job_id)
    if record is not None:
        if record.idempotency_key:
            jobs.redis.delete(record.idempotency_key)
        if record.cache_key and jobs.redis.get(record.cache_key) == job_id:
            jobs.redis.delete(record.cache_key)
    jobs.delete(job_id)
    if between is not None:
        between(job_id)
    return Purged(store.delete_prefix(job_prefix(job_id)), was_open)


def delete_batch(
    jobs: JobStore, store: ObjectStore, job_ids: list[str], between: Callable[[str], None] | None = None
) -> int:
    """Record the batch in :data:`DELETING_KEY`, purge each job, and take each id out once all of it is gone."""
    if not job_ids:
        return 0
    jobs.redis.sadd(DELETING_KEY, *job_ids)
    for job_id in job_ids:
        if not purge_job(jobs, store, job_id, between).again:
            jobs.redis.srem(DELETING_KEY, job_id)
    return len(job_ids)


def unfinished(jobs: JobStore) -> list[str]:
    """Ids of a batch a crashed process began and did not finish."""
    return sorted(jobs.redis.smembers(DELETING_KEY))


def expired(jobs: JobStore, retention_s: float, now: float, limit: int) -> list[str]:
    """Up to ``limit`` jobs due for deletion: older than ``retention_s``, or past their own ``delete_after_s``."""
    old = jobs.redis.zrangebyscore(JOBS_INDEX_KEY, "-inf", now - retention_s, start=0, num=limit)
    due = jobs.redis.zrangebyscore(RETENTION_DUE_KEY, "-inf", now, start=0, num=limit)
    return list(dict.fromkeys([*old, *due]))[:limit]


def request_forget(jobs: JobStore, tenant: str) -> dict[str, Any]:
    """File a "forget me" request for every job ``tenant`` has submitted until now; return its status."""
    request_id = secrets.token_hex(16)
    now = time.time()
    status = {"id": request_id, "tenant": tenant, "status": "pending", "requested_at": repr(now), "jobs_deleted": 0}
    pipe = jobs.redis.pipeline()
    pipe.hset(FORGET_KEY.format(request_id=request_id), mapping=status)
    pipe.zadd(FORGET_PENDING_KEY, {request_id: now})
    pipe.execute()
    return forget_status(jobs, request_id) or {}


def forget_status(jobs: JobStore, request_id: str) -> dict[str, Any] | None:
    """A "forget me" request as stored (``tenant``, ``status``, times, ``jobs_deleted``), or None."""
    raw = jobs.redis.hgetall(FORGET_KEY.format(request_id=request_id))
    if not raw:
        return None
    return {
        "id": raw.get("id", request_id),
        "tenant": raw.get("tenant", ""),
        "status": raw.get("status", "pending"),
        "requested_at": float(raw.get("requested_at") or 0),
        "finished_at": float(raw["finished_at"]) if raw.get("finished_at") else None,
        "jobs_deleted": int(raw.get("jobs_deleted") or 0),
    }


def forget(jobs: JobStore, store: ObjectStore, request_id: str, batch_size: int, keep_status_s: int) -> int:
    """Carry out one "forget me" request to the end; return the jobs it deleted in this call."""
    key = FORGET_KEY.format(request_id=request_id)
    request = forget_status(jobs, request_id)
    if request is None:
        jobs.redis.zrem(FORGET_PENDING_KEY, request_id)
        return 0
    jobs.redis.hset(key, "status", "running")
    tenant_jobs = TENANT_JOBS_KEY.format(tenant=request["tenant"])
    deleted = 0
    while True:
        batch = jobs.redis.zrangebyscore(tenant_jobs, "-inf", request["requested_at"], start=0, num=batch_size)
        if not batch:
            break
        deleted += delete_batch(jobs, store, batch)
        jobs.redis.hincrby(key, "jobs_deleted", len(batch))
    pipe = jobs.redis.pipeline()
    pipe.hset(key, mapping={"status": "done", "finished_at": repr(time.time())})
    pipe.expire(key, keep_status_s)
    pipe.zrem(FORGET_PENDING_KEY, request_id)
    pipe.execute()
    log.info("forget-me request %s: %d jobs deleted", request_id, deleted)
    return deleted


def pending_forgets(jobs: JobStore) -> list[str]:
    """Ids of "forget me" requests not yet done, oldest first."""
    return jobs.redis.zrange(FORGET_PENDING_KEY, 0, -1)
