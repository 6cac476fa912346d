"""Admission control on a real Redis and SeaweedFS: the per-tenant cap (429) and the service overload (503).

Each test runs the gateway on a Redis database of its own (the Celery queues live there too), so
the queue depths are the ones these tests make. No worker runs: submitted jobs stay queued.
"""

from __future__ import annotations

import pytest
import redis
from fastapi.testclient import TestClient

from services.contract.jobs import JOBS_INDEX_KEY, JobStatus, JobStore
from services.contract.pipeline import PIPELINE
from services.gateway.app import create_app
from tests.gateway.conftest import ALPHA, BETA, gateway_settings, submit
from tests.support.images import jpeg_bytes

DB = 9


@pytest.fixture
def own_redis(backends):
    url = backends.settings.redis_url.rsplit("/", 1)[0] + f"/{DB}"
    client = redis.Redis.from_url(url, decode_responses=True)
    client.flushdb()
    yield url, client
    client.flushdb()


def gateway(backends, url, **overrides):
    settings = gateway_settings(backends, redis_url=url, overload_retry_after_s=7, **overrides)
    return TestClient(create_app(settings))


def objects_in_bucket(backends) -> int:
    return len(backends.store.list_keys("jobs/"))


def test_a_tenant_at_its_cap_gets_429_with_retry_after_and_other_tenants_are_served(backends, own_redis):
    url, client = own_redis
    with gateway(backends, url, max_active_jobs_per_tenant=2) as api:
        accepted = [submit(api, jpeg_bytes(seed=300 + i)) for i in range(2)]
        assert [a.status_code for a in accepted] == [202, 202]
        objects_before, jobs_before = objects_in_bucket(backends), client.zcard(JOBS_INDEX_KEY)

        refused = submit(api, jpeg_bytes(seed=302))

        assert refused.status_code == 429
        assert refused.json()["error"]["code"] == "too_many_jobs"
        assert refused.headers["Retry-After"] == "7"
        assert objects_in_bucket(backends) == objects_before  # nothing stored for the refused job
        assert client.zcard(JOBS_INDEX_KEY) == jobs_before
        assert submit(api, jpeg_bytes(seed=303), headers=BETA).status_code == 202

        # Once one of alpha's jobs has ended, alpha may submit again.
        JobStore(client).complete(accepted[0].json()["id"], JobStatus.NO_FACE)
        assert submit(api, jpeg_bytes(seed=304)).status_code == 202
        assert submit(api, jpeg_bytes(seed=305)).status_code == 429


def test_a_deleted_job_frees_its_place(backends, own_redis):
    url, _ = own_redis
    with gateway(backends, url, max_active_jobs_per_tenant=1) as api:
        job_id = submit(api, jpeg_bytes(seed=310)).json()["id"]
        assert submit(api, jpeg_bytes(seed=311)).status_code == 429
        assert api.delete(f"/v1/jobs/{job_id}", headers=ALPHA).status_code == 204
        # A reservation whose record is gone is kept only while a submission may still be writing it.
        client = redis.Redis.from_url(url, decode_responses=True)
        client.zadd("fakeweb:tenant:alpha:active", {job_id: 1.0})  # admitted long ago, record now gone
        assert submit(api, jpeg_bytes(seed=312)).status_code == 202


def test_a_refused_submission_gives_its_place_back(backends, own_redis):
    url, client = own_redis
    with gateway(backends, url, max_active_jobs_per_tenant=1) as api:
        assert submit(api, b"not a photo").status_code == 415
        assert client.zcard("fakeweb:tenant:alpha:active") == 0
        assert submit(api, jpeg_bytes(seed=320)).status_code == 202


def test_with_no_cap_nothing_is_reserved(backends, own_redis):
    url, client = own_redis
    with gateway(backends, url, max_active_jobs_per_tenant=0) as api:
        assert all(submit(api, jpeg_bytes(seed=325 + i)).status_code == 202 for i in range(3))
    assert not client.exists("fakeweb:tenant:alpha:active")


def test_a_deep_stage_queue_gets_503_overloaded_before_anything_is_stored_and_readyz_shows_it(backends, own_redis):
    url, client = own_redis
    with gateway(backends, url, max_queue_depth=2) as api:
        first = PIPELINE[0].queue  # no worker: each job's first task waits in its queue
        for i in range(3):
            assert submit(api, jpeg_bytes(seed=330 + i), headers=BETA).status_code == 202
        assert client.llen(first) == 3
        api.app.state.resources.admission.load(max_age_s=0)  # read the queue now, not a second later
        objects_before, jobs_before = objects_in_bucket(backends), client.zcard(JOBS_INDEX_KEY)

        refused = submit(api, jpeg_bytes(seed=334))

        assert refused.status_code == 503
        assert refused.json()["error"]["code"] == "overloaded"
        assert first in refused.json()["error"]["message"]
        assert refused.headers["Retry-After"] == "7"
        assert objects_in_bucket(backends) == objects_before
        assert client.zcard(JOBS_INDEX_KEY) == jobs_before
        ready = api.get("/readyz").json()["admission"]
        assert ready["accepting"] is False and ready["queue_depths"][first] == 3
        assert "fakeweb_overloaded 1.0" in api.get("/metrics").text
        assert 'fakeweb_admission_refused_total{code="overloaded"} 1.0' in api.get("/metrics").text
        # Jobs already accepted are still served; once the queue drains, new jobs are accepted.
        assert api.get(f"/v1/jobs/{submit_id(client)}", headers=BETA).status_code == 200
        client.delete(first)
        api.app.state.resources.admission.load(max_age_s=0)
        assert submit(api, jpeg_bytes(seed=335), headers=BETA).status_code == 202
        assert api.get("/readyz").json()["admission"]["accepting"] is True


def submit_id(client: redis.Redis) -> str:
    return client.zrange(JOBS_INDEX_KEY, 0, 0)[0]


def test_redis_near_maxmemory_gets_503_overloaded(backends, own_redis):
    url, client = own_redis
    used = int(client.info("memory")["used_memory"])
    with gateway(backends, url, max_redis_memory_ratio=0.5) as api:
        client.config_set("maxmemory", str(used + used // 2))  # ~67 % in use: above the 50 % bound
        try:
            api.app.state.resources.admission.load(max_age_s=0)
            refused = submit(api, jpeg_bytes(seed=340))
            ready = api.get("/readyz").json()
        finally:
            client.config_set("maxmemory", "0")
        assert refused.status_code == 503 and refused.json()["error"]["code"] == "overloaded"
        assert "maxmemory" in refused.json()["error"]["message"]
        assert refused.headers["Retry-After"] == "7"
        assert ready["checks"]["redis"] == "ok" and ready["admission"]["accepting"] is False
        assert ready["admission"]["redis_memory_ratio"] > 0.5


def test_the_openapi_document_lists_both_refusals_with_retry_after(backends, own_redis):
    url, _ = own_redis
    with gateway(backends, url) as api:
        answers = api.get("/openapi.json").json()["paths"]["/v1/jobs"]["post"]["responses"]
    for status, code in (("429", "too_many_jobs"), ("503", "overloaded")):
        assert code in answers[status]["content"]["application/json"]["examples"]
        assert "Retry-After" in answers[status]["headers"]
