"""Cross-origin access for the browser extension: only the origins FAKEWEB_CORS_ORIGINS names."""

from __future__ import annotations

import re

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from services.contract.settings import Settings, UnsafeConfiguration

# scheme://host[:port] with nothing after it; chrome-extension ids are 32 letters a-p.
_ORIGIN = re.compile(
    r"^(chrome-extension://[a-p]{32}|moz-extension://[0-9a-f-]{36}|https?://[A-Za-z0-9.-]+(:\d{1,5})?)$"
)
REQUEST_HEADERS = ["X-API-Key", "Idempotency-Key", "Content-Type"]
EXPOSED_HEADERS = ["Retry-After", "Location", "X-Request-ID", "Idempotent-Replayed"]


def parse_cors_origins(value: str) -> list[str]:
    """The configured origins; raise UnsafeConfiguration for `*` or anything that is not an origin."""
    origins = [entry.strip().rstrip("/") for entry in value.split(",") if entry.strip()]
    for position, origin in enumerate(origins, start=1):
        if not _ORIGIN.match(origin):
            raise UnsafeConfiguration(
                f"FAKEWEB_CORS_ORIGINS entry {position} is not an origin like chrome-extension://<id> or "
                "https://host[:port] (a wildcard would let every web page spend your API keys)."
            )
    return origins


def install_cors(app: FastAPI, settings: Settings) -> None:
    """Answer preflights and add CORS headers for the configured origins; with none, add nothing."""
    origins = parse_cors_origins(settings.cors_origins)
    if not origins:
        return
    app.add_middleware(
        CORSMiddleware,
        allow_origins=origins,
        allow_methods=["GET", "POST", "DELETE"],
        allow_headers=REQUEST_HEADERS,
        expose_headers=EXPOSED_HEADERS,
        allow_credentials=False,
        max_age=600,
    )
