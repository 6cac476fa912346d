"""Issue 9 security checks not covered elsewhere: result links, stored objects, prod refusal by the real
process, and secrets in the logs of every real process of the stack.

FakeWeb hands out no presigned URLs: every link in an answer is a gateway URL that needs the
caller's key, so there is nothing that stays valid once shared. These tests hold that in place.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time

import httpx
import pytest
from fastapi.testclient import TestClient

from deploy.local.stack import ROOT
from services.contract.settings import DEV_API_KEYS, DEV_S3_SECRET, DEV_WEBHOOK_SECRET
from services.contract.storage import annotated_key, original_key, result_key
from services.gateway.app import create_app
from tests.gateway.conftest import ALPHA, BETA, gateway_settings, submit
from tests.gateway.pipeline_double import finish_job
from tests.support.images import jpeg_bytes

DEV_KEY = DEV_API_KEYS.split(":", 1)[1]
FINAL = ("completed", "failed", "no_face")


@pytest.fixture(scope="module")
def client(backends):
    with TestClient(create_app(gateway_settings(backends))) as test_client:
        yield test_client


@pytest.fixture(scope="module")
def finished_job(client, backends) -> str:
    job_id = submit(client, jpeg_bytes(seed=901)).json()["id"]
    finish_job(backends.settings, job_id)
    return job_id


def _urls(value: object) -> list[str]:
    if isinstance(value, dict):
        return [url for item in value.values() for url in _urls(item)]
    if isinstance(value, list):
        return [url for item in value for url in _urls(item)]
    return [value] if isinstance(value, str) and "://" in value else []


def test_every_link_is_a_gateway_url_that_needs_the_owners_key(client, backends, finished_job):
    document = client.get(f"/v1/jobs/{finished_job}", headers=ALPHA).json()
    listed = client.get("/v1/jobs?limit=100", headers=ALPHA).json()
    urls = _urls(document) + _urls(listed)
    assert urls
    for url in urls:
        assert url.startswith(str(client.base_url)), url
        assert backends.settings.s3_endpoint not in url and "X-Amz-" not in url and "Signature" not in url
        path = url[len(str(client.base_url)) :]
        assert client.get(path).status_code == 401, url
        assert client.get(path, headers=BETA).status_code == 404, url
    assert client.get(f"/v1/jobs/{finished_job}/image", headers=ALPHA).status_code == 200


def test_stored_objects_are_not_readable_without_s3_credentials(backends, finished_job):
    base = f"http://{backends.settings.s3_endpoint}/{backends.settings.s3_bucket}"
    for key in (original_key(finished_job), result_key(finished_job), annotated_key(finished_job)):
        assert backends.store.exists(key)
        answer = httpx.get(f"{base}/{key}", timeout=10)
        assert answer.status_code == 403, (key, answer.status_code)
    listing = httpx.get(f"{base}?list-type=2&prefix=jobs/", timeout=10)
    assert listing.status_code == 403 and finished_job not in listing.text


@pytest.mark.slow
def test_the_real_gateway_process_refuses_to_start_in_prod_with_the_dev_credentials(tmp_path):
    env = {**os.environ, "FAKEWEB_ENV": "prod", "FAKEWEB_GATEWAY_PORT": "1", "FAKEWEB_DATA_DIR": str(tmp_path)}
    for name in list(env):
        if name.startswith("FAKEWEB_") and name not in ("FAKEWEB_ENV", "FAKEWEB_GATEWAY_PORT", "FAKEWEB_DATA_DIR"):
            del env[name]  # the built-in defaults: the dev key and secrets
    done = subprocess.run(
        [sys.executable, "deploy/local/launch.py", "gateway"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    output = done.stdout + done.stderr
    assert done.returncode != 0
    assert "FAKEWEB_ENV=prod refuses to start" in output
    for secret in (DEV_KEY, DEV_S3_SECRET, DEV_WEBHOOK_SECRET):
        assert secret not in output


@pytest.mark.slow
@pytest.mark.e2e
def test_no_key_or_secret_reaches_the_logs_of_any_stack_process(local_stack):
    wrong_key = "wrong-key-5e1f0c0ffee0123456789"
    with httpx.Client(base_url=local_stack.gateway_url, timeout=30) as http:
        answers = [
            http.post(
                "/v1/jobs",
                files={"image": ("a.jpg", jpeg_bytes(seed=902), "image/jpeg")},
                headers={"X-API-Key": DEV_KEY},
            ),
            http.post("/v1/jobs", files={"image": ("b.jpg", b"nope", "image/jpeg")}, headers={"X-API-Key": DEV_KEY}),
            http.get("/v1/jobs/0123456789abcdef", headers={"X-API-Key": wrong_key}),
            http.get(f"/v1/jobs?api_key={wrong_key}"),
            http.get("/v1/jobs", headers={"Authorization": f"Bearer {wrong_key}"}),
        ]
        job_id = answers[0].json()["id"]
        for _ in range(300):  # let the workers log their part of the job too
            if http.get(f"/v1/jobs/{job_id}", headers={"X-API-Key": DEV_KEY}).json()["status"] in FINAL:
                break
            time.sleep(0.2)
    bodies = "\n".join(answer.text for answer in answers)
    logged = local_stack.stack.log_path.read_text(errors="replace")
    assert "request" in logged  # the gateway did log these requests
    for secret in (DEV_KEY, wrong_key, DEV_S3_SECRET, DEV_WEBHOOK_SECRET):
        assert secret not in logged, secret
        assert secret not in bodies, secret
