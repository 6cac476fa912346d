"""Outbound HTTP on a caller's behalf (photo URLs, webhooks) under the SSRF guard.

Each hop resolves the host, checks every address (``netguard``) and connects to the checked
address itself, sending the original Host header and, for https, the host name for SNI and
certificate checks. Redirects are followed by hand, each one checked again. Time and size are
bounded for the whole exchange, not per read.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from urllib.parse import urljoin

import urllib3

from services.runtime.errors import CodedError
from services.runtime.netguard import AddressPolicy, Target, UrlRefused, target_for

USER_AGENT = "FakeWeb/0.1 (+https://github.com/fakeweb)"
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
CHUNK = 64 * 1024


class FetchFailed(CodedError):
    """The remote exchange failed; ``retryable`` tells the webhook worker whether to try again."""

    def __init__(self, code: str, message: str, status: int = 422, retryable: bool = False) -> None:
        super().__init__(code, message, status)
        self.retryable = retryable


@dataclass(frozen=True)
class Answer:
    """One HTTP answer, its body read up to the size limit."""

    status: int
    headers: dict[str, str]
    body: bytes


def _pool(target: Target, timeout: urllib3.Timeout) -> urllib3.HTTPConnectionPool:
    address = str(target.address)
    if target.scheme == "https":
        return urllib3.HTTPSConnectionPool(
            address,
            target.port,
            timeout=timeout,
            retries=False,
            maxsize=1,
            server_hostname=target.host,
            assert_hostname=target.host,
            cert_reqs="CERT_REQUIRED",
        )
    return urllib3.HTTPConnectionPool(address, target.port, timeout=timeout, retries=False, maxsize=1)


def request_once(
    method: str,
    url: str,
    policy: AddressPolicy,
    *,
    deadline: float,
    max_bytes: int,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> Answer:
    """One request to ``url`` (no redirects followed) within ``deadline`` (monotonic seconds)."""
    target = target_for(url, policy)
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise FetchFailed("url_fetch_timeout", "The remote server took too long.", retryable=True)
    pool = _pool(target, urllib3.Timeout(connect=remaining, read=remaining))
    sent = {"Host": target.host_header, "User-Agent": USER_AGENT, **(headers or {})}
    try:
        response = pool.urlopen(
            method, target.path, body=body, headers=sent, redirect=False, retries=False, preload_content=False
        )
        try:
            declared = response.headers.get("Content-Length", "")
            if declared.isdigit() and int(declared) > max_bytes:
                raise FetchFailed(
                    "payload_too_large", f"The remote file is larger than the {max_bytes} bytes accepted.", 413
                )
            data = bytearray()
            for chunk in response.stream(CHUNK, decode_content=True):
                data += chunk
                if len(data) > max_bytes:
                    raise FetchFailed(
                        "payload_too_large", f"The remote file is larger than the {max_bytes} bytes accepted.", 413
                    )
                if time.monotonic() > deadline:
                    raise FetchFailed("url_fetch_timeout", "The remote server took too long.", retryable=True)
            return Answer(status=response.status, headers=dict(response.headers), body=bytes(data))
        finally:
            response.release_conn()
    except (urllib3.exceptions.TimeoutError, TimeoutError) as exc:
        raise FetchFailed("url_fetch_timeout", "The remote server took too long.", retryable=True) from exc
    except urllib3.exceptions.SSLError as exc:
        raise FetchFailed("url_fetch_failed", "The remote server's TLS certificate was not accepted.") from exc
    except (urllib3.exceptions.HTTPError, OSError) as exc:
        raise FetchFailed("url_fetch_failed", "The remote server could not be reached.", retryable=True) from exc
    finally:
        pool.close()


def fetch_image(url: str, policy: AddressPolicy, *, timeout_s: float, max_bytes: int, max_redirects: int) -> bytes:
    """GET a photo, following at most ``max_redirects`` redirects (each re-checked); raise UrlRefused/FetchFailed."""
    deadline = time.monotonic() + timeout_s
    current = url
    for _hop in range(max_redirects + 1):
        answer = request_once(
            "GET",
            current,
            policy,
            deadline=deadline,
            max_bytes=max_bytes,
            headers={"Accept": "image/*", "Accept-Encoding": "identity"},
        )
        if answer.status in REDIRECT_STATUSES:
            location = answer.headers.get("Location") or answer.headers.get("location")
            if not location:
                raise FetchFailed("url_fetch_failed", f"The remote server answered {answer.status} without a Location.")
            current = urljoin(current, location)
            continue
        if not 200 <= answer.status < 300:
            raise FetchFailed("url_fetch_failed", f"The remote server answered HTTP {answer.status}.")
        return answer.body
    raise FetchFailed("too_many_redirects", f"The URL redirected more than {max_redirects} times.")


__all__ = ["Answer", "FetchFailed", "UrlRefused", "fetch_image", "request_once"]
