"""HTTP clients for the load runs: FakeWeb's job API (submit, then poll) and the baseline (one POST).

FakeWeb latency (``latency_s``) runs from sending the upload to the moment the job record says the
job ended (its final ``updated_at``, the instant a GET would return the result; same clock, same
machine). ``observed_s`` is when this client actually saw it, which adds the polling interval
(5 ms doubling to 50 ms, or to a tenth of the time waited so far when that is longer; fast polling
would load the gateway the run is measuring).
"""

from __future__ import annotations

import threading
import time
from typing import Any

import httpx

from bench.load import Sample
from services.contract.pipeline import STAGE_NAMES

API_KEY = "fakeweb-dev-key"
FINAL = {"completed", "failed", "no_face"}
POLL_FIRST_S = 0.005
POLL_MAX_S = 0.05
# A long wait is polled less often (a tenth of the time waited so far), so eight clients do not
# load the gateway they measure with hundreds of GETs per second.
POLL_SHARE = 0.1


class _PerThread(threading.local):
    client: httpx.Client | None = None


class StackClient:
    """Submits photos to the gateway and polls each job until it has ended (one HTTP client per thread)."""

    def __init__(self, base_url: str, threshold: float, timeout_s: float = 300.0) -> None:
        self.base_url = base_url
        self.threshold = threshold
        self.timeout_s = timeout_s
        self._local = _PerThread()

    def _http(self) -> httpx.Client:
        if self._local.client is None:
            self._local.client = httpx.Client(
                base_url=self.base_url, headers={"X-API-Key": API_KEY}, timeout=self.timeout_s
            )
        return self._local.client

    def analyse(self, jpeg: bytes) -> Sample:
        """Submit one photo and wait for its job to end; stage seconds come from the job's timings."""
        http = self._http()
        sent_wall = time.time()
        sent = time.monotonic()
        answer = http.post(
            "/v1/jobs", files={"image": ("photo.jpg", jpeg, "image/jpeg")}, data={"threshold": str(self.threshold)}
        )
        if answer.status_code != 202:
            raise RuntimeError(f"submit answered {answer.status_code}: {answer.text[:200]}")
        job_id = answer.json()["id"]
        delay = POLL_FIRST_S
        while True:
            time.sleep(delay)
            doc = http.get(f"/v1/jobs/{job_id}").json()
            if doc.get("status") in FINAL:
                break
            if time.monotonic() - sent > self.timeout_s:
                raise TimeoutError(f"job {job_id} still {doc.get('status')} after {self.timeout_s} s")
            delay = min(delay * 2, max(POLL_MAX_S, POLL_SHARE * (time.monotonic() - sent)))
        observed = time.monotonic() - sent
        return Sample(
            latency_s=max(0.0, float(doc["updated_at"]) - sent_wall),
            ok=doc["status"] == "completed",
            observed_s=observed,
            stages=stage_split(doc, sent_wall),
            info={
                "job_id": job_id,
                "faces": len(doc.get("faces") or []),
                "cached": bool(doc.get("cached")),
                "error": doc.get("error"),
            },
        )

    def close(self) -> None:
        """Close this thread's HTTP client."""
        if self._local.client is not None:
            self._local.client.close()
            self._local.client = None


def stage_split(doc: dict[str, Any], sent_wall: float) -> dict[str, float]:
    """Where a job's time went: submission, each stage's queue wait and run time (seconds)."""
    timings = doc.get("timings") or {}
    points = [("submit", float(doc["created_at"]))]
    for stage in STAGE_NAMES:
        timing = timings.get(stage)
        if not timing or timing.get("started_at") is None or timing.get("finished_at") is None:
            continue
        points.append((f"{stage}_queue", float(timing["started_at"])))
        points.append((stage, float(timing["finished_at"])))
    points.append(("finish", float(doc["updated_at"])))
    split: dict[str, float] = {}
    previous = sent_wall
    for name, at in points:
        split[name] = max(0.0, at - previous)
        previous = at
    return split


class BaselineClient:
    """Posts photos to the prototype-style baseline, which answers with the result in the same request."""

    def __init__(self, base_url: str, timeout_s: float = 600.0) -> None:
        self.base_url = base_url
        self.timeout_s = timeout_s
        self._local = _PerThread()

    def _http(self) -> httpx.Client:
        if self._local.client is None:
            self._local.client = httpx.Client(base_url=self.base_url, timeout=self.timeout_s)
        return self._local.client

    def analyse(self, jpeg: bytes) -> Sample:
        """One synchronous request; latency is the whole request."""
        sent = time.monotonic()
        answer = self._http().post("/analyze", files={"image": ("photo.jpg", jpeg, "image/jpeg")})
        latency = time.monotonic() - sent
        if answer.status_code != 200:
            return Sample(latency_s=latency, ok=False, info={"error": f"{answer.status_code}: {answer.text[:200]}"})
        body = answer.json()
        return Sample(
            latency_s=latency,
            observed_s=latency,
            stages=body.get("seconds", {}),
            info={"faces": len(body["faces"]), "meshes": body.get("meshes")},
        )
