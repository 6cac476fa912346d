"""The pipeline declaration: its shape, what ``send_next`` queues, and the Celery queues derived from it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from celery.exceptions import QueueNotFound

from services.contract import pipeline
from services.contract.pipeline import PIPELINE, Per, next_stage, send_first, send_next, stage
from services.contract.settings import Settings
from services.contract.tasks import make_celery

ROOT = Path(__file__).resolve().parents[2]
UNREACHABLE = Settings(redis_url="redis://127.0.0.1:1/0")  # nothing here connects


class Recorder:
    """Stands in for a Celery app: keeps what would have been sent."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, list, dict | None, str]] = []

    def send_task(self, name: str, args: list, kwargs: dict | None, queue: str) -> None:
        self.sent.append((name, args, kwargs, queue))


def test_names_tasks_queues_and_services_are_unique():
    assert len(set(pipeline.STAGE_NAMES)) == len(PIPELINE)
    for attribute in ("task", "queue", "service", "deployed_as", "worker"):
        # A consumer that shares out a stage's work runs in that stage's worker (detect_frames: the detector's).
        values = [getattr(each, attribute, each.service) for each in (*PIPELINE, *pipeline.CONSUMERS)]
        if attribute == "worker":
            values = [each.worker for each in (*PIPELINE, *pipeline.CONSUMERS) if not getattr(each, "part_of", "")]
        assert len(values) == len(set(values)), attribute
    for consumer in pipeline.CONSUMERS:
        if consumer.part_of:
            assert consumer.worker == pipeline.stage(consumer.part_of).worker


def test_the_stages_are_provenance_detect_classify_annotate_and_each_worker_lives_in_its_service():
    assert pipeline.STAGE_NAMES == ("provenance", "detect", "classify", "annotate")
    assert PIPELINE[0].per is Per.JOB, "the gateway queues one task per job"
    for spec in PIPELINE:
        assert spec.package == f"services.{spec.service}"
        assert spec.worker == f"{spec.package}.worker"
    assert [next_stage(spec.name) for spec in PIPELINE] == [*PIPELINE[1:], None]


def test_an_unknown_stage_names_the_declared_ones():
    with pytest.raises(KeyError, match="declared: provenance, detect, classify, annotate"):
        stage("detct")


def test_a_new_job_goes_to_the_first_stage():
    app = Recorder()
    assert send_first(app, "j1") is PIPELINE[0]
    assert app.sent == [("fakeweb.provenance", ["j1"], None, "provenance")]


def test_after_the_provenance_stage_the_detector_gets_the_job():
    app = Recorder()
    assert send_next(app, stage("provenance"), "j1") is stage("detect")
    assert app.sent == [("fakeweb.detect", ["j1"], None, "detect")]


def test_chunks_fan_out_one_task_each_with_the_chunk_count():
    app = Recorder()
    assert send_next(app, stage("detect"), "j1", chunks=[{"faces": [0, 1]}, {"faces": [2]}]) is stage("classify")
    assert app.sent == [
        ("fakeweb.classify", ["j1", 0], {"chunks": 2, "faces": [0, 1]}, "classify"),
        ("fakeweb.classify", ["j1", 1], {"chunks": 2, "faces": [2]}, "classify"),
    ]


def test_no_chunks_skips_the_per_chunk_stage():
    app = Recorder()
    assert send_next(app, stage("detect"), "j1", chunks=[]) is stage("annotate")
    assert app.sent == [("fakeweb.annotate", ["j1"], None, "annotate")]


def test_after_the_fan_in_one_task_per_job_and_after_the_last_stage_nothing():
    app = Recorder()
    assert send_next(app, stage("classify"), "j1") is stage("annotate")
    assert send_next(app, stage("annotate"), "j1") is None
    assert app.sent == [("fakeweb.annotate", ["j1"], None, "annotate")]


def test_a_stage_that_hands_no_chunks_to_a_per_chunk_stage_is_a_programming_error():
    with pytest.raises(TypeError, match="must hand chunks"):
        send_next(Recorder(), stage("detect"), "j1")


def test_celery_routes_and_queues_come_from_the_declaration():
    app = make_celery("test", UNREACHABLE)
    assert app.conf.task_create_missing_queues is False
    declared = {"provenance", "detect", "detect_frames", "classify", "annotate", "webhook"}
    assert set(app.amqp.queues) == set(pipeline.queue_names()) == declared
    for spec in (*PIPELINE, *pipeline.CONSUMERS):
        assert app.amqp.router.route({}, spec.task)["queue"].name == spec.queue
        queue = app.amqp.queues[spec.queue]
        # What Celery made for a missing queue before: the Redis list keeps its name.
        assert (queue.exchange.name, queue.routing_key) == (spec.queue, spec.queue)


def test_sending_to_an_undeclared_queue_raises_instead_of_creating_it():
    app = make_celery("test", UNREACHABLE)
    with pytest.raises(QueueNotFound):
        app.send_task("fakeweb.detect", args=["j1"], queue="detct")
    with pytest.raises(QueueNotFound):
        app.send_task("fakeweb.not_declared", args=["j1"])  # unrouted: the default queue is not declared either


def test_a_worker_on_an_undeclared_queue_refuses_to_start():
    env = {**os.environ, "FAKEWEB_REDIS_URL": UNREACHABLE.redis_url, "PYTHONPATH": str(ROOT)}
    argv = [sys.executable, "-m", "celery", "-A", "services.webhooks.worker", "worker", "-Q", "webhok"]
    argv += ["-P", "solo", "--without-gossip", "--without-mingle"]
    done = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode != 0
    assert "ImproperlyConfigured" in done.stderr and "`task_queues`" in done.stderr, done.stderr


def test_a_worker_on_a_declared_queue_selects_it():
    app = make_celery("test", UNREACHABLE)
    app.amqp.queues.select(["classify"])
    assert list(app.amqp.queues.consume_from) == ["classify"]
