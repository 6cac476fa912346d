"""Deploying model versions under load: a steady stream of jobs through the whole local stack while
version 2 is deployed as canary, promoted, and rolled back. No job may fail, every face names the
version that scored it, and both versions appear in the results.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import numpy as np
import pytest
from PIL import Image

from tests.support.photos import group_photo

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
DEV_KEY_HEADER = {"X-API-Key": "fakeweb-dev-key"}
FINAL = {"completed", "failed", "no_face"}
IN_FLIGHT = 3
BUSY = {429, 503}  # rate limited or briefly unavailable: ask again later


class JobStream:
    """Keeps ``IN_FLIGHT`` jobs running until stopped; remembers every job and its final document."""

    def __init__(self, gateway_url: str, photo: bytes) -> None:
        self.client = httpx.Client(base_url=gateway_url, timeout=30, headers=DEV_KEY_HEADER)
        self.pixels = np.asarray(Image.open(io.BytesIO(photo)).convert("RGB")).copy()
        self._count = 0
        self.jobs: dict[str, dict | None] = {}
        self.submitted_at: dict[str, float] = {}
        self.errors: list[str] = []
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout_s: float = 300) -> None:
        self._stop.set()
        self._thread.join(timeout=30)
        deadline = time.monotonic() + timeout_s
        while self.pending() and time.monotonic() < deadline:
            self._poll()
            time.sleep(1.0)
        self.client.close()

    def pending(self) -> list[str]:
        with self._lock:
            return [job_id for job_id, doc in self.jobs.items() if doc is None]

    def finished_versions(self, since: float = 0.0) -> list[set[int]]:
        """Model versions of each finished job submitted after ``since`` (monotonic time)."""
        with self._lock:
            return [
                {face["model"]["version"] for face in doc.get("faces") or [] if face.get("model")}
                for job_id, doc in self.jobs.items()
                if doc is not None and self.submitted_at[job_id] >= since
            ]

    def _run(self) -> None:
        while not self._stop.is_set():
            if len(self.pending()) < IN_FLIGHT:
                self._submit()
            self._poll()
            time.sleep(1.0)  # stays well under the gateway's per-key rate limit

    def _unique_photo(self) -> bytes:
        """The photo with one corner pixel changed per job, so the gateway's result cache never answers."""
        self._count += 1
        pixels = self.pixels.copy()
        pixels[0, 0] = (self._count % 256, (self._count // 256) % 256, 7)
        buf = io.BytesIO()
        Image.fromarray(pixels).save(buf, format="PNG", compress_level=1)
        return buf.getvalue()

    def _submit(self) -> None:
        try:
            answer = self.client.post("/v1/jobs", files={"image": ("photo.png", self._unique_photo(), "image/png")})
        except httpx.HTTPError as exc:
            self.errors.append(f"submit: {exc}")
            return
        if answer.status_code in BUSY:
            return
        if answer.status_code != 202:
            self.errors.append(f"submit: {answer.status_code} {answer.text}")
            return
        job_id = answer.json()["id"]
        with self._lock:
            self.jobs[job_id] = None
            self.submitted_at[job_id] = time.monotonic()

    def _poll(self) -> None:
        for job_id in self.pending():
            try:
                answer = self.client.get(f"/v1/jobs/{job_id}")
            except httpx.HTTPError as exc:
                self.errors.append(f"poll {job_id}: {exc}")
                continue
            if answer.status_code in BUSY:
                return
            if answer.status_code != 200:
                self.errors.append(f"poll {job_id}: {answer.status_code} {answer.text}")
                continue
            document = answer.json()
            if document["status"] in FINAL:
                with self._lock:
                    self.jobs[job_id] = document


def _wait(what: str, check, stream: JobStream, timeout_s: float = 240) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}; errors: {stream.errors[-5:]}")
        time.sleep(0.5)


def _fakeweb_model(local_stack, *args: str) -> str:
    env = {**os.environ, **local_stack.settings_env, "TF_CPP_MIN_LOG_LEVEL": "2"}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH", "")]))
    result = subprocess.run(
        [sys.executable, "-m", "fakeweb_cli", "model", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, f"fakeweb model {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout


def test_deploy_promote_rollback_under_load_fails_no_job(local_stack, shared_data, tmp_path):
    from tests.support.tiny_model import export_tiny_model

    export = export_tiny_model(tmp_path / "v2-export", bias=3.0)
    stream = JobStream(local_stack.gateway_url, group_photo(shared_data))
    stream.start()
    try:
        _wait("jobs scored by version 1", lambda: sum(v == {1} for v in stream.finished_versions()) >= 2, stream)

        deployed = time.monotonic()
        _fakeweb_model(local_stack, "deploy", str(export), "--label", "canary")
        _wait(
            "jobs scored by version 2",
            lambda: sum(2 in v for v in stream.finished_versions(since=deployed)) >= 2,
            stream,
        )

        promoted = time.monotonic()
        _fakeweb_model(local_stack, "promote")
        _wait("jobs after promote", lambda: len(stream.finished_versions(since=promoted)) >= 2, stream)

        rolled_back = time.monotonic()
        _fakeweb_model(local_stack, "rollback")
        _wait(
            "jobs scored by version 1 again",
            lambda: sum(v == {1} for v in stream.finished_versions(since=rolled_back)) >= 2,
            stream,
        )
        listing = _fakeweb_model(local_stack, "list")
    finally:
        stream.stop()

    documents = list(stream.jobs.values())
    assert stream.errors == []
    assert stream.pending() == [], "every job ended"
    failed = [d for d in documents if d["status"] != "completed"]
    assert failed == [], f"{len(failed)} of {len(documents)} jobs did not complete: {failed[:2]}"
    versions_seen: set[int] = set()
    for document in documents:
        assert document["faces"], document
        for face in document["faces"]:
            if face["verdict"] == "unjudgeable":
                continue
            assert face["model"]["name"] == "fakeweb"
            versions_seen.add(face["model"]["version"])
    assert versions_seen == {1, 2}
    rows = {parts[0]: parts[1:] for parts in map(str.split, listing.splitlines()) if parts and parts[0].isdigit()}
    assert rows["1"][:2] == ["stable", "load"] and rows["2"][:2] == ["-", "-"]
