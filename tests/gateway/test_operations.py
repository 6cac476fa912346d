"""Start-up refusal of default credentials in prod, /metrics, and the OpenAPI document's error schemas."""

from __future__ import annotations

import pytest

from services.contract.settings import DEV_API_KEYS, Settings
from services.gateway.app import create_app
from services.gateway.auth import UnsafeConfiguration, parse_api_keys
from tests.gateway.conftest import ALPHA, submit
from tests.gateway.pipeline_double import finish_job
from tests.support.images import jpeg_bytes

SAFE_PROD = {
    "env": "prod",
    "api_keys": "acme:0123456789abcdef0123",
    "s3_secret_key": "a-real-s3-secret-value",
    "webhook_secret": "a-real-webhook-secret",
}


@pytest.mark.parametrize(
    ("override", "named"),
    [
        ({"api_keys": DEV_API_KEYS}, "dev key"),
        ({"api_keys": "acme:short"}, "shorter than"),
        ({"s3_secret_key": Settings.model_fields["s3_secret_key"].default}, "S3_SECRET_KEY"),
        ({"webhook_secret": Settings.model_fields["webhook_secret"].default}, "WEBHOOK_SECRET"),
        ({"ssrf_allowlist": "127.0.0.1"}, "SSRF_ALLOWLIST"),
    ],
)
def test_prod_refuses_to_start_with_default_credentials(override, named):
    with pytest.raises(UnsafeConfiguration) as refused:
        create_app(Settings(**{**SAFE_PROD, **override}))
    assert named in str(refused.value)
    assert "0123456789abcdef0123" not in str(refused.value)


def test_prod_starts_with_real_credentials_and_dev_accepts_the_dev_key():
    create_app(Settings(**SAFE_PROD))
    create_app(Settings(env="dev"))


@pytest.mark.parametrize("keys", ["", "no-colon", "bad tenant:key", "t:"])
def test_malformed_key_lists_are_refused_without_echoing_them(keys):
    with pytest.raises(UnsafeConfiguration):
        create_app(Settings(api_keys=keys))
    assert parse_api_keys("a:k1, b:k2,") == [("a", "k1"), ("b", "k2")]


def test_metrics_report_jobs_by_status_stage_latency_queue_depth_and_uploads(client, backends):
    photo = jpeg_bytes(seed=300)
    job_id = submit(client, photo).json()["id"]
    finish_job(backends.settings, job_id)
    text = client.get("/metrics").text
    samples = {
        line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line and not line.startswith("#")
    }
    assert samples["fakeweb_redis_up"] == 1
    assert samples['fakeweb_queue_depth{queue="detect"}'] == backends.redis.llen("detect")
    assert samples['fakeweb_jobs{status="completed"}'] >= 1
    assert samples['fakeweb_stage_seconds_count{stage="annotate"}'] >= 1
    assert samples['fakeweb_stage_seconds_bucket{le="0.5",stage="annotate"}'] >= 1  # finish_job: 0.5 s
    assert samples["fakeweb_upload_bytes_count"] >= 1
    assert samples["fakeweb_upload_bytes_sum"] >= len(photo)
    assert any(key.startswith("fakeweb_http_requests_total{") for key in samples)


def test_readyz_and_healthz_need_no_key(client):
    assert client.get("/healthz").status_code == 200
    assert client.get("/readyz").status_code in (200, 503)


def test_openapi_documents_the_key_and_an_error_schema_with_example_on_every_v1_route(client):
    schema = client.get("/openapi.json").json()
    assert schema["components"]["securitySchemes"]["APIKeyHeader"] == {
        "type": "apiKey",
        "in": "header",
        "name": "X-API-Key",
        "description": schema["components"]["securitySchemes"]["APIKeyHeader"]["description"],
    }
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            if not path.startswith("/v1"):
                continue
            assert operation["security"] == [{"APIKeyHeader": []}], (method, path)
            for status in ("401", "429", "503"):
                answer = operation["responses"][status]["content"]["application/json"]
                assert answer["schema"] == {"$ref": "#/components/schemas/ErrorResponse"}
                examples = (
                    [answer["example"]] if "example" in answer else [e["value"] for e in answer["examples"].values()]
                )
                assert examples and all("error" in example for example in examples), (method, path, status)
    assert client.get("/v1/jobs", headers=ALPHA).status_code == 200
