"""Result cache: reuse the result of an identical photo scored by the same model version at the same threshold.

Keys (Redis strings):

- ``fakeweb:cache:{scope}:{sha256}:{threshold}:{landmarks}:{model}`` -> id of the job whose stored
  result can be copied. ``model`` is ``name:version`` of the version that actually scored the faces,
  or ``none`` when no face was scored (the result then does not depend on a model).

The gateway stamps ``cache_scope``, ``model_spec`` and ``cache_ttl_s`` on the record at submission;
:func:`remember_result` (called once when the job ends) writes the entries, and
:func:`find_cached_job` is the gateway's lookup, for the version serving answers with for the
job's route at that moment (the gateway asks serving), so a promote or rollback is followed at once.
"""

from __future__ import annotations

import redis

from services.contract.jobs import JobStore
from services.contract.record import JobRecord
from services.contract.settings import Settings

CACHE_KEY = "fakeweb:cache:{scope}:{sha256}:{threshold}:{landmarks}:{model}"
NO_MODEL = "none"
SHARED_SCOPE = "shared"


def model_spec(settings: Settings) -> str | None:
    """How the settings route a job to a model; None when results must not be reused (canary split)."""
    if settings.canary_share > 0:
        return None
    if settings.model_version is not None:
        return f"{settings.model_name}@v{settings.model_version}"
    return f"{settings.model_name}@{settings.model_label or 'default'}"


def threshold_text(threshold: float) -> str:
    """The threshold as it appears in cache keys."""
    return repr(round(float(threshold), 6))


def cache_key(scope: str, sha256: str, threshold: float, landmarks: bool, model: str) -> str:
    """The cache entry for one photo, threshold, landmark choice and scoring model."""
    return CACHE_KEY.format(
        scope=scope, sha256=sha256, threshold=threshold_text(threshold), landmarks=int(landmarks), model=model
    )


def find_cached_job(
    client: redis.Redis, scope: str, sha256: str, threshold: float, landmarks: bool, model: str | None
) -> str | None:
    """The id of an earlier job whose result fits, or None.

    ``model`` is ``name:version`` that would score the job now (None when serving cannot say: then only a
    result without scored faces, which no model decided, is reused)."""
    keys = [cache_key(scope, sha256, threshold, landmarks, NO_MODEL)]
    if model:
        keys.insert(0, cache_key(scope, sha256, threshold, landmarks, model))
    for job_id in client.mget(keys):
        if job_id:
            return job_id
    return None


def remember_result(jobs: JobStore, job_id: str, record: JobRecord) -> str | None:
    """Write the cache entry of a job that ended with a result; return its key (None if not cacheable)."""
    if record.cache_ttl_s <= 0 or not record.model_spec or not record.sha256 or record.cached_from:
        return None
    if not record.has_result:
        return None
    models = {f"{s['model']['name']}:{s['model']['version']}" for s in jobs.scores(job_id).values() if s.get("model")}
    if len(models) > 1:
        return None  # scored by two versions (a rollout mid-job): no single version to file it under
    model = models.pop() if models else NO_MODEL
    key = cache_key(
        record.cache_scope or SHARED_SCOPE, record.sha256, record.threshold or 0.0, record.include_landmarks, model
    )
    if not jobs.update_if_exists(job_id, cache_key=key):
        return None  # deleted meanwhile
    jobs.redis.set(key, job_id, ex=record.cache_ttl_s)
    return key
