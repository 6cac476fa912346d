"""The gateway's job API against a real Redis and a real SeaweedFS (serving is not running)."""

from __future__ import annotations

import hashlib
import json

import pytest

from services.contract.pipeline import PIPELINE
from services.contract.storage import original_key
from tests.gateway.conftest import ALPHA, submit
from tests.support.images import jpeg_bytes, png_header_claiming


def test_submit_stores_original_creates_record_and_queues_the_first_stage(client, backends):
    photo = jpeg_bytes(80, 60)
    first = PIPELINE[0]
    queued_before = backends.redis.llen(first.queue)

    answer = submit(client, photo, threshold="0.7")

    assert answer.status_code == 202
    body = answer.json()
    assert body["status"] == "queued"
    assert answer.headers["location"] == body["links"]["self"]
    assert body["links"]["self"].endswith(f"/v1/jobs/{body['id']}")
    assert backends.store.get_bytes(original_key(body["id"])) == photo
    record = backends.redis.hgetall(f"fakeweb:job:{body['id']}")
    assert record["status"] == "queued"
    assert float(record["threshold"]) == 0.7
    assert record["sha256"] == hashlib.sha256(photo).hexdigest()
    assert (record["width"], record["height"]) == ("80", "60")
    assert backends.redis.llen(first.queue) == queued_before + 1
    message = json.loads(backends.redis.lindex(first.queue, 0))
    assert record["tenant"] == "alpha"
    assert message["headers"]["task"] == first.task
    assert body["id"] in message["headers"]["argsrepr"]


def test_job_ids_are_unguessable_and_distinct(client):
    ids = {submit(client, jpeg_bytes(seed=i)).json()["id"] for i in range(3)}
    assert len(ids) == 3
    assert all(len(job_id) == 32 for job_id in ids)


def test_get_job_reports_queued_document(client):
    job_id = submit(client, jpeg_bytes()).json()["id"]

    document = client.get(f"/v1/jobs/{job_id}", headers=ALPHA).json()

    assert document["id"] == job_id
    assert document["status"] == "queued"
    assert document["threshold"] == 0.5
    assert document["faces"] is None
    assert document["error"] is None


def test_image_of_unfinished_job_is_409(client):
    job_id = submit(client, jpeg_bytes()).json()["id"]
    answer = client.get(f"/v1/jobs/{job_id}/image", headers=ALPHA)
    assert answer.status_code == 409
    assert answer.json()["error"]["code"] == "not_ready"


@pytest.mark.parametrize("path", ["/v1/jobs/0123456789abcdef0123456789abcdef", "/v1/jobs/../etc", "/v1/jobs/x/image"])
def test_unknown_job_is_404_with_error_body(client, path):
    answer = client.get(path, headers=ALPHA)
    assert answer.status_code == 404
    assert answer.json()["error"]["code"] == "not_found"


@pytest.mark.parametrize(
    ("data", "status", "code"),
    [
        (b"", 400, "empty_file"),
        (b"<html><body>not a photo</body></html>", 415, "unsupported_media_type"),
        (jpeg_bytes(300, 200)[:400], 422, "corrupt_image"),
        (png_header_claiming(30_000, 30_000), 413, "image_too_large"),
        (jpeg_bytes(1200, 900, quality=100, seed=3), 413, "payload_too_large"),
    ],
    ids=["empty", "html", "truncated-jpeg", "bomb-header", "over-byte-limit"],
)
def test_bad_uploads_get_clear_4xx_and_create_no_job(client, backends, data, status, code):
    jobs_before = backends.redis.zcard("fakeweb:jobs")

    answer = submit(client, data)

    assert answer.status_code == status, answer.text
    assert answer.json()["error"]["code"] == code
    assert backends.redis.zcard("fakeweb:jobs") == jobs_before


def test_threshold_out_of_range_is_422(client):
    answer = submit(client, jpeg_bytes(), threshold="1.5")
    assert answer.status_code == 422
    assert answer.json()["error"]["code"] == "invalid_request"


def test_missing_image_field_is_422(client):
    answer = client.post("/v1/jobs", files={"other": ("x", b"y")}, data={"threshold": "0.5"}, headers=ALPHA)
    assert answer.status_code == 422


def test_healthz_and_readyz_name_the_missing_dependency(client):
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 503
    checks = ready.json()["checks"]
    assert checks["redis"] == "ok"
    assert checks["s3"] == "ok"
    assert checks["serving"] == "unreachable"
