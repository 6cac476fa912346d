"""CORS for the browser extension: only the origins FAKEWEB_CORS_ORIGINS names, nothing by default."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from services.contract.settings import UnsafeConfiguration
from services.gateway.app import create_app
from services.gateway.cors import parse_cors_origins
from tests.gateway.conftest import ALPHA, gateway_settings

EXTENSION = "chrome-extension://gpheafcppaooeociacoepbihodlgnmfk"
PREFLIGHT = {"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "x-api-key,idempotency-key"}


def test_nothing_is_open_by_default(backends):
    with TestClient(create_app(gateway_settings(backends))) as client:
        preflight = client.options("/v1/jobs", headers={"Origin": EXTENSION, **PREFLIGHT})
        listed = client.get("/v1/jobs", headers={"Origin": EXTENSION, **ALPHA})
    assert "access-control-allow-origin" not in preflight.headers
    assert listed.status_code == 200 and "access-control-allow-origin" not in listed.headers


def test_a_configured_origin_gets_preflights_errors_and_the_retry_header(backends):
    settings = gateway_settings(backends, cors_origins=f"{EXTENSION}, http://localhost:5173/")
    with TestClient(create_app(settings)) as client:
        preflight = client.options("/v1/jobs", headers={"Origin": EXTENSION, **PREFLIGHT})
        refused = client.get("/v1/jobs", headers={"Origin": EXTENSION, "X-API-Key": "wrong"})
        listed = client.get("/v1/jobs", headers={"Origin": "http://localhost:5173", **ALPHA})
        stranger = client.options("/v1/jobs", headers={"Origin": "https://evil.example", **PREFLIGHT})
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == EXTENSION
    assert {"x-api-key", "idempotency-key"} <= set(
        preflight.headers["access-control-allow-headers"].lower().split(", ")
    )
    # A refusal is readable by the extension, so it can say "wrong key" instead of "unreachable".
    assert refused.status_code == 401 and refused.headers["access-control-allow-origin"] == EXTENSION
    assert "retry-after" in refused.headers["access-control-expose-headers"].lower()
    assert listed.headers["access-control-allow-origin"] == "http://localhost:5173"
    assert stranger.status_code == 400 and "access-control-allow-origin" not in stranger.headers


@pytest.mark.parametrize("value", ["*", "chrome-extension://*", "https://ok.example/path", "ftp://x.example"])
def test_wildcards_and_non_origins_are_refused(value):
    with pytest.raises(UnsafeConfiguration, match="FAKEWEB_CORS_ORIGINS entry"):
        parse_cors_origins(f"{EXTENSION},{value}")


def test_an_empty_setting_is_no_origin():
    assert parse_cors_origins("") == [] and parse_cors_origins(" , ") == []
