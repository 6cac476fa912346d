"""API keys and tenants: every /v1 route needs a key, and another tenant's job is a 404 everywhere."""

from __future__ import annotations

import logging

import pytest

from services.contract.storage import job_prefix
from tests.gateway.conftest import ALPHA, ALPHA_KEY, BETA, BETA_KEY, submit
from tests.support.images import jpeg_bytes

JOB_ROUTES = ["/v1/jobs/{id}", "/v1/jobs/{id}/image", "/v1/jobs/{id}/original"]


@pytest.fixture
def alpha_job(client):
    answer = submit(client, jpeg_bytes(seed=11))
    assert answer.status_code == 202
    return answer.json()["id"]


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/v1/jobs"), ("POST", "/v1/jobs"), *[("GET", p) for p in JOB_ROUTES], ("DELETE", "/v1/jobs/{id}")],
)
def test_every_v1_route_refuses_a_missing_or_wrong_key(client, alpha_job, method, path):
    url = path.format(id=alpha_job)
    missing = client.request(method, url)
    wrong = client.request(method, url, headers={"X-API-Key": "not-a-key"})
    assert missing.status_code == 401
    assert missing.json()["error"]["code"] == "missing_api_key"
    assert missing.headers["www-authenticate"].startswith("ApiKey")
    assert wrong.status_code == 401
    assert wrong.json()["error"]["code"] == "invalid_api_key"


@pytest.mark.parametrize("path", JOB_ROUTES)
def test_another_tenants_job_is_404_exactly_like_a_missing_one(client, alpha_job, path):
    theirs = client.get(path.format(id=alpha_job), headers=BETA)
    nobody = client.get(path.format(id="0" * 32), headers=BETA)
    assert theirs.status_code == nobody.status_code == 404
    assert theirs.json() == nobody.json() == {"error": {"code": "not_found", "message": "No such job."}}
    assert client.get(path.format(id=alpha_job), headers=ALPHA).status_code in (200, 409)


def test_another_tenant_cannot_delete_and_the_job_survives(client, backends, alpha_job):
    answer = client.delete(f"/v1/jobs/{alpha_job}", headers=BETA)
    assert answer.status_code == 404
    assert backends.redis.exists(f"fakeweb:job:{alpha_job}")
    assert backends.store.list_keys(job_prefix(alpha_job))


def test_listing_shows_only_the_callers_jobs(client, alpha_job):
    beta_job = submit(client, jpeg_bytes(seed=12), headers=BETA).json()["id"]
    alpha_ids = {job["id"] for job in client.get("/v1/jobs?limit=100", headers=ALPHA).json()["jobs"]}
    beta_ids = {job["id"] for job in client.get("/v1/jobs?limit=100", headers=BETA).json()["jobs"]}
    assert alpha_job in alpha_ids and alpha_job not in beta_ids
    assert beta_job in beta_ids and beta_job not in alpha_ids


def test_keys_never_appear_in_logs_or_error_bodies(client, alpha_job, caplog):
    with caplog.at_level(logging.DEBUG):
        bodies = [
            client.get(f"/v1/jobs/{alpha_job}", headers=ALPHA).text,
            client.get(f"/v1/jobs/{alpha_job}", headers=BETA).text,
            client.get("/v1/jobs/nope", headers={"X-API-Key": ALPHA_KEY + "x"}).text,
            submit(client, b"not an image").text,
            client.post("/v1/jobs", json={"url": "ftp://x/y.jpg"}, headers=BETA).text,
        ]
    logged = "\n".join(f"{r.getMessage()} {r.__dict__}" for r in caplog.records)
    assert caplog.records, "the gateway should log each request"
    assert any(getattr(r, "job_id", None) == alpha_job for r in caplog.records)
    for secret in (ALPHA_KEY, BETA_KEY):
        assert secret not in logged
        assert all(secret not in body for body in bodies)
