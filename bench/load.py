"""Closed-loop load: C client threads, each sending its next photo as soon as the previous answer is in.

A run is a warm-up (one request per client, not counted), then a timed window: every client keeps
sending until ``window_s`` has passed since the window opened (and has made at least
``min_per_client`` requests). Throughput is the requests completed in the window divided by the
time from the window's opening to its last completion.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

# One request: (client index, request counter) -> a sample (latency and details).
RequestFn = Callable[[int, int], "Sample"]


@dataclass
class Sample:
    """One request's outcome: seconds from sending to the result, and anything the client measured."""

    latency_s: float
    ok: bool = True
    observed_s: float | None = None
    stages: dict[str, float] = field(default_factory=dict)
    info: dict[str, Any] = field(default_factory=dict)


@dataclass
class RunResult:
    """Samples of one closed-loop run and its window length."""

    clients: int
    samples: list[Sample]
    elapsed_s: float

    def summary(self) -> dict[str, Any]:
        """Throughput, latency percentiles (ms), failures and median per-stage seconds."""
        good = [s for s in self.samples if s.ok]
        out: dict[str, Any] = {
            "clients": self.clients,
            "requests": len(self.samples),
            "failed": len(self.samples) - len(good),
            "window_s": round(self.elapsed_s, 3),
            "throughput_photos_per_s": round(len(good) / self.elapsed_s, 4) if self.elapsed_s > 0 else 0.0,
            **latency_stats([s.latency_s for s in good]),
        }
        observed = [s.observed_s for s in good if s.observed_s is not None]
        if observed:
            stats = latency_stats(observed)
            out["observed_p50_ms"], out["observed_p95_ms"] = stats["p50_ms"], stats["p95_ms"]
        names = list(dict.fromkeys(name for s in good for name in s.stages))
        if names:
            out["stages_median_ms"] = {
                name: round(float(np.median([s.stages[name] for s in good if name in s.stages])) * 1000, 1)
                for name in names
            }
        errors = sorted({str(s.info.get("error")) for s in self.samples if not s.ok})
        if errors:
            out["errors"] = errors[:5]
        return out


def latency_stats(seconds: list[float]) -> dict[str, float | None]:
    """p50, p95 and mean in milliseconds (None without samples)."""
    if not seconds:
        return {"p50_ms": None, "p95_ms": None, "mean_ms": None}
    ms = np.asarray(seconds) * 1000.0
    return {
        "p50_ms": round(float(np.percentile(ms, 50)), 1),
        "p95_ms": round(float(np.percentile(ms, 95)), 1),
        "mean_ms": round(float(ms.mean()), 1),
    }


def closed_loop(request: RequestFn, clients: int, window_s: float, min_per_client: int = 1) -> RunResult:
    """Run ``clients`` closed-loop clients for a window of ``window_s`` seconds after one warm-up each."""
    warmed = threading.Barrier(clients + 1)
    opened = threading.Event()
    samples: list[list[Sample]] = [[] for _ in range(clients)]
    ends: list[float] = [0.0] * clients
    window = {"start": 0.0, "abort": False}
    failures: list[BaseException] = []

    def client(index: int) -> None:
        counter = 0
        try:
            request(index, counter)
            counter += 1
        except BaseException as exc:  # a failed warm-up still joins the barrier; the run reports it
            failures.append(exc)
        warmed.wait()
        opened.wait()
        while not window["abort"]:
            now = time.monotonic()
            if now - window["start"] >= window_s and len(samples[index]) >= min_per_client:
                break
            try:
                sample = request(index, counter)
            except Exception as exc:
                sample = Sample(latency_s=time.monotonic() - now, ok=False, info={"error": repr(exc)[:300]})
            counter += 1
            samples[index].append(sample)
            ends[index] = time.monotonic()

    threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(clients)]
    for thread in threads:
        thread.start()
    warmed.wait()
    if failures:
        window["abort"] = True
        opened.set()
        for thread in threads:
            thread.join()
        raise RuntimeError(f"warm-up request failed: {failures[0]!r}") from failures[0]
    window["start"] = time.monotonic()
    opened.set()
    for thread in threads:
        thread.join()
    elapsed = max(ends) - window["start"]
    return RunResult(clients=clients, samples=[s for per in samples for s in per], elapsed_s=elapsed)
