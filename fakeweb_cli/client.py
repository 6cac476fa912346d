"""A small HTTP client for the FakeWeb gateway API, and where the CLI finds its server and key."""

from __future__ import annotations

import argparse
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

DEFAULT_SERVER = "http://127.0.0.1:8000"
SERVER_ENV = "FAKEWEB_SERVER"
API_KEY_ENV = "FAKEWEB_API_KEY"
FINAL_STATUSES = frozenset({"completed", "failed", "no_face"})
PAGE_LIMIT = 100  # most jobs GET /v1/jobs returns per page


class ApiError(Exception):
    """The gateway refused a request (its ``{"error": {code, message}}`` body), or could not be reached."""

    def __init__(self, status: int, code: str, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.retry_after = retry_after

    def __str__(self) -> str:
        return f"{self.message} ({self.code}, HTTP {self.status})" if self.status else self.message


@dataclass(frozen=True)
class Connection:
    """Where the gateway is and which key to send."""

    server: str
    api_key: str | None


def add_connection_arguments(parser: argparse.ArgumentParser) -> None:
    """``--server`` and ``--api-key``, defaulting to FAKEWEB_SERVER and FAKEWEB_API_KEY."""
    group = parser.add_argument_group("connection")
    group.add_argument(
        "--server",
        default=None,
        help=f"gateway base URL (default: ${SERVER_ENV} or {DEFAULT_SERVER})",
    )
    group.add_argument("--api-key", default=None, help=f"API key sent as X-API-Key (default: ${API_KEY_ENV})")


def connection_from(args: argparse.Namespace, environ: dict[str, str] | None = None) -> Connection:
    """Flags first, then the environment, then the local default server."""
    env = os.environ if environ is None else environ
    server = getattr(args, "server", None) or env.get(SERVER_ENV) or DEFAULT_SERVER
    api_key = getattr(args, "api_key", None) or env.get(API_KEY_ENV) or None
    return Connection(server=server.rstrip("/"), api_key=api_key)


class FakewebClient:
    """Calls to the gateway's ``/v1/jobs`` API; every refusal raises :class:`ApiError`."""

    def __init__(self, connection: Connection, timeout_s: float = 60.0, transport: httpx.BaseTransport | None = None):
        headers = {"User-Agent": "fakeweb-cli"}
        if connection.api_key:
            headers["X-API-Key"] = connection.api_key
        self.server = connection.server
        self._http = httpx.Client(base_url=connection.server, headers=headers, timeout=timeout_s, transport=transport)

    def __enter__(self) -> FakewebClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Release the connection pool."""
        self._http.close()

    def submit_photo(self, path: Path, threshold: float | None = None, include_landmarks: bool = False) -> dict:
        """Upload a photo file; the gateway's 202 answer (``id``, ``status``, ``links``)."""
        form: dict[str, str] = {}
        if threshold is not None:
            form["threshold"] = str(threshold)
        if include_landmarks:
            form["include_landmarks"] = "true"
        with path.open("rb") as handle:
            files = {"image": (path.name, handle, "application/octet-stream")}
            return self._json("POST", "/v1/jobs", files=files, data=form)

    def submit_url(self, url: str, threshold: float | None = None, include_landmarks: bool = False) -> dict:
        """Ask the gateway to fetch a photo from the web."""
        body: dict[str, Any] = {"url": url}
        if threshold is not None:
            body["threshold"] = threshold
        if include_landmarks:
            body["include_landmarks"] = True
        return self._json("POST", "/v1/jobs", json=body)

    def job(self, job_id: str) -> dict:
        """The job document: status, stage, progress, error or faces."""
        return self._json("GET", f"/v1/jobs/{job_id}")

    def annotated_image(self, job_id: str) -> bytes:
        """The annotated JPEG of an ended job."""
        return self._request("GET", f"/v1/jobs/{job_id}/image").content

    def annotated_video(self, job_id: str) -> bytes:
        """The annotated clip (H.264 MP4) of an ended video job."""
        return self._request("GET", f"/v1/jobs/{job_id}/video").content

    def list_jobs(self, limit: int = 20) -> list[dict]:
        """The caller's most recent jobs, newest first, following ``next_cursor`` pages up to ``limit``."""
        jobs: list[dict] = []
        cursor: str | None = None
        while len(jobs) < limit:
            params: dict[str, Any] = {"limit": min(PAGE_LIMIT, limit - len(jobs))}
            if cursor:
                params["cursor"] = cursor
            body = self._json("GET", "/v1/jobs", params=params)
            if not isinstance(body, dict) or not isinstance(body.get("jobs"), list):
                raise ApiError(0, "unexpected_answer", "GET /v1/jobs did not answer with a job list.")
            jobs += body["jobs"]
            cursor = body.get("next_cursor")
            if not cursor or not body["jobs"]:
                break
        return jobs[:limit]

    def _json(self, method: str, path: str, **kwargs: Any) -> Any:
        return self._request(method, path, **kwargs).json()

    def _request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.TimeoutException as exc:
            raise ApiError(0, "timeout", f"{self.server} did not answer in time ({type(exc).__name__}).") from exc
        except httpx.TransportError as exc:
            raise ApiError(0, "unreachable", f"Cannot reach {self.server}: {exc}") from exc
        if response.is_success:
            return response
        raise error_from(response)


def error_from(response: httpx.Response) -> ApiError:
    """An ApiError carrying the gateway's error code and message (or the bare status when there is none)."""
    code, message = f"http_{response.status_code}", f"{response.reason_phrase or 'error'}"
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        code = str(body["error"].get("code") or code)
        message = str(body["error"].get("message") or message)
    elif isinstance(body, dict) and isinstance(body.get("detail"), str):
        message = body["detail"]
    retry_after = response.headers.get("Retry-After")
    seconds = float(retry_after) if retry_after and retry_after.replace(".", "", 1).isdigit() else None
    return ApiError(response.status_code, code, message, seconds)
