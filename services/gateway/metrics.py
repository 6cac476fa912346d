"""Prometheus metrics: request and upload counters of this process, plus job and queue figures read from Redis.

Job counts and stage latencies are computed at scrape time from the newest ``metrics_window_jobs``
job records, so every gateway process reports the same figures and nothing lives only in memory.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

import redis
from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector

from services.contract.jobs import JOBS_INDEX_KEY, JobStatus, JobStore
from services.contract.pipeline import STAGE_NAMES, queue_names

log = logging.getLogger("fakeweb.gateway.metrics")

UPLOAD_BUCKETS = (10e3, 50e3, 100e3, 250e3, 500e3, 1e6, 2e6, 5e6, 10e6, 20e6, 50e6)
LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0)
QUEUE_NAMES = queue_names()


class GatewayMetrics:
    """One registry per app: this process's counters and the Redis-backed job collector."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "fakeweb_http_requests", "HTTP requests answered.", ["method", "route", "status"], registry=self.registry
        )
        self.upload_bytes = Histogram(
            "fakeweb_upload_bytes",
            "Size of accepted photos (uploads and URL fetches).",
            buckets=UPLOAD_BUCKETS,
            registry=self.registry,
        )
        self.submissions = Counter(
            "fakeweb_submissions",
            "Jobs created, by photo source and cache use.",
            ["source", "cached"],
            registry=self.registry,
        )

    def watch_jobs(self, jobs: JobStore, window: int) -> None:
        """Report job counts, stage latencies and queue depths from Redis at each scrape."""
        self.registry.register(JobsCollector(jobs, window))


class JobsCollector(Collector):
    """Gauges and histograms computed from job records and Celery queue lengths."""

    def __init__(self, jobs: JobStore, window: int) -> None:
        self.jobs = jobs
        self.window = window

    def describe(self) -> list[Metric]:
        return []

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily("fakeweb_redis_up", "1 if Redis answered this scrape.")
        try:
            families = list(self._families())
        except redis.RedisError as exc:
            log.warning("metrics: Redis unavailable (%s)", type(exc).__name__)
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield from families

    def _families(self) -> Iterator[Metric]:
        client = self.jobs.redis
        depth = GaugeMetricFamily("fakeweb_queue_depth", "Tasks waiting in each Celery queue.", labels=["queue"])
        pipe = client.pipeline(transaction=False)
        for queue in QUEUE_NAMES:
            pipe.llen(queue)
        for queue, length in zip(QUEUE_NAMES, pipe.execute(), strict=True):
            depth.add_metric([queue], length)
        yield depth

        ids = client.zrevrange(JOBS_INDEX_KEY, 0, self.window - 1)
        records = self.jobs.peek_many(ids, ["created_at", "updated_at", "cached", "started", "finished"])

        by_status = dict.fromkeys((s.value for s in JobStatus), 0)
        stage_seconds: dict[str, list[float]] = {stage: [] for stage in STAGE_NAMES}
        job_seconds: list[float] = []
        for record in records:
            if record is None:
                continue
            by_status[record.status.value] += 1
            for stage in STAGE_NAMES:
                started, finished = record.started.get(stage), record.finished.get(stage)
                if started and finished:
                    stage_seconds[stage].append(max(0.0, finished - started))
            if record.is_final and not record.cached and record.created_at and record.updated_at:
                job_seconds.append(max(0.0, record.updated_at - record.created_at))

        jobs = GaugeMetricFamily(
            "fakeweb_jobs", "Jobs by status among the newest metrics_window_jobs records.", labels=["status"]
        )
        for status, count in sorted(by_status.items()):
            jobs.add_metric([status], count)
        yield jobs

        stages = HistogramMetricFamily(
            "fakeweb_stage_seconds", "Stage durations (first start to finish) of recent jobs.", labels=["stage"]
        )
        for stage, values in stage_seconds.items():
            stages.add_metric([stage], _buckets(values), sum_value=sum(values))
        yield stages

        total = HistogramMetricFamily(
            "fakeweb_job_seconds", "Submission to final state of recent jobs (cache hits excluded)."
        )
        total.add_metric([], _buckets(job_seconds), sum_value=sum(job_seconds))
        yield total


def _buckets(values: list[float]) -> list[tuple[str, int]]:
    counts = [(str(bound), sum(1 for v in values if v <= bound)) for bound in LATENCY_BUCKETS]
    return [*counts, ("+Inf", len(values))]
