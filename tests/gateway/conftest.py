"""Gateway fixtures: the app over the session's real Redis and SeaweedFS, with two tenants' keys."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from services.gateway.app import create_app

ALPHA_KEY = "alpha-key-0123456789abcdef"
BETA_KEY = "beta-key-0123456789abcdef"
API_KEYS = f"alpha:{ALPHA_KEY},beta:{BETA_KEY}"
ALPHA = {"X-API-Key": ALPHA_KEY}
BETA = {"X-API-Key": BETA_KEY}


def gateway_settings(backends, **overrides):
    """The session's backend settings with gateway limits small enough for tests."""
    values = {
        "api_keys": API_KEYS,
        "max_upload_bytes": 200_000,
        "max_pixels": 4_000_000,
        "rate_limit_per_s": 1000.0,
        "rate_limit_burst": 1000,
        "ssrf_allowlist": "127.0.0.1/32",
        "url_fetch_timeout_s": 3.0,
        # No serving runs for these API tests: the pinned version is what would score a job now
        # (test_cache_versions.py follows a moving label through a real serving).
        "model_version": 1,
        # Jobs of these tests never end (no workers): admission control is off but in its own tests.
        "max_active_jobs_per_tenant": 0,
        "max_queue_depth": 0,
    }
    values.update(overrides)
    return backends.settings.model_copy(update=values)


@pytest.fixture(scope="module")
def client(backends):
    with TestClient(create_app(gateway_settings(backends))) as test_client:
        yield test_client


def submit(client, data: bytes, name: str = "photo.jpg", headers=None, **form):
    """POST a multipart upload as tenant alpha unless other headers are given."""
    headers = ALPHA if headers is None else headers
    return client.post("/v1/jobs", files={"image": (name, data, "image/jpeg")}, data=form, headers=headers)
