"""The classify task against real TF Serving (stand-in), real Redis and real SeaweedFS."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from deploy.local.stack import free_port, stop_process_group
from services.contract import pipeline
from services.contract.crop_policy import CROP_POLICY
from services.contract.imaging import encode_png
from services.contract.jobs import JobStatus
from services.contract.schemas import DetectedFace, DetectionResult
from services.contract.settings import Settings, get_settings
from services.contract.storage import crop_key, faces_key
from services.contract.tasks import make_celery
from tests.serving.harness import ServingHarness
from tests.support.records import create_job, stored
from tests.support.stages import StageContext, point_stage_at

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def model_name(serving: ServingHarness) -> str:
    name = serving.new_model_name("w")
    serving.add_version(name, 1)
    serving.set_model(name, labels={"stable": 1})
    serving.wait_available(name, {1})
    return name


@pytest.fixture
def stage(backends, serving, model_name, monkeypatch) -> Iterator[StageContext]:
    """The classifier worker module pointed at the session's Redis and S3 and at the test serving."""
    from services.classifier import worker

    monkeypatch.setattr(worker, "CLASSIFIER", worker.HeldClassifier())
    extra = {"FAKEWEB_SERVING_ADDRESS": serving.address, "FAKEWEB_MODEL_NAME": model_name}
    yield point_stage_at(backends, monkeypatch, worker, {**extra, "FAKEWEB_CLASSIFY_MAX_BATCH": "2"})
    get_settings.cache_clear()


def _job(stage: StageContext, faces_per_chunk: list[int]) -> str:
    """A job as the detector leaves it: crops, faces.json and chunk counts, in status running."""
    job_id = uuid.uuid4().hex
    faces = []
    for chunk, count in enumerate(faces_per_chunk):
        for _ in range(count):
            index = len(faces)
            crop = np.zeros((224, 224, 3), np.uint8)
            crop[..., 0] = 255 if index % 2 else 0
            stage.store.put_bytes(crop_key(job_id, index), encode_png(crop), "image/png")
            faces.append(
                DetectedFace(
                    index=index, box=[10, 10, 50, 50], detector_score=0.9, crop_key=crop_key(job_id, index), chunk=chunk
                )
            )
    detection = DetectionResult(
        width=640, height=480, engine="test", crop_policy=CROP_POLICY.name, faces=faces, chunks=len(faces_per_chunk)
    )
    stage.store.put_json(faces_key(job_id), detection.model_dump(mode="json"))
    create_job(stage.jobs, job_id, faces_total=len(faces), chunks_total=len(faces_per_chunk))
    return job_id


def _annotate_messages(stage: StageContext) -> int:
    return int(stage.jobs.redis.llen("annotate"))


def test_each_chunk_is_scored_and_the_last_one_sends_annotate(stage, model_name):
    from services.classifier import worker

    job_id = _job(stage, [3, 2])
    worker.classify(job_id, 1)
    record = stored(stage.jobs, job_id)
    assert (record["status"], record["stage"], record["chunks_done"]) == ("running", "classify", "1")
    assert "classify_finished" not in record
    assert _annotate_messages(stage) == 0

    worker.classify(job_id, 0)
    record = stored(stage.jobs, job_id)
    assert record["chunks_done"] == "2" and record["faces_scored"] == "5"
    assert "classify_finished" in record
    assert _annotate_messages(stage) == 1
    scores = stage.jobs.scores(job_id)
    assert sorted(scores) == [0, 1, 2, 3, 4]
    assert all(score["model"] == {"name": model_name, "version": 1} for score in scores.values())
    assert scores[0]["p"] == pytest.approx(0.5, rel=1e-5)
    assert scores[1]["p"] == pytest.approx(1 / (1 + np.exp(-4.0)), rel=1e-5)


def test_a_redelivered_chunk_does_not_count_twice(stage):
    from services.classifier import worker

    job_id = _job(stage, [2, 1])
    worker.classify(job_id, 0)
    worker.classify(job_id, 0)
    record = stored(stage.jobs, job_id)
    assert record["chunks_done"] == "1" and "classify_finished" not in record
    assert _annotate_messages(stage) == 0


def test_a_finished_job_is_left_alone(stage):
    from services.classifier import worker

    job_id = _job(stage, [1])
    stage.jobs.complete(job_id, JobStatus.FAILED)
    worker.classify(job_id, 0)
    assert stage.jobs.scores(job_id) == {}


def test_missing_faces_json_fails_the_job_with_a_reason(stage):
    from services.classifier import worker

    job_id = _job(stage, [1])
    stage.store.delete_prefix(f"jobs/{job_id}/faces.json")
    worker.classify.apply(args=[job_id, 0])
    record = stored(stage.jobs, job_id)
    assert (record["status"], record["reason"]) == ("failed", "internal_error")


def _celery_worker(env: dict[str, str], log_path: Path) -> subprocess.Popen:
    argv = [str(Path(sys.executable).parent / "celery"), "-A", "services.classifier.worker", "worker"]
    argv += ["-Q", "classify", "-P", "solo", "-n", f"classify-test-{uuid.uuid4().hex[:6]}@%h", "--without-gossip"]
    argv += ["--without-mingle", "-l", "INFO"]
    full_env = {**os.environ, **env, "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONUNBUFFERED": "1"}
    full_env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), full_env.get("PYTHONPATH", "")]))
    with log_path.open("ab") as log:
        return subprocess.Popen(
            argv, cwd=ROOT, env=full_env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )


def _wait_final(stage: StageContext, job_id: str, timeout_s: float = 180.0) -> dict[str, str]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        record = stored(stage.jobs, job_id)
        if record["status"] in ("completed", "failed", "no_face"):
            return record
        if record.get("classify_finished"):
            return record
        time.sleep(0.3)
    raise AssertionError(f"job {job_id} did not settle within {timeout_s} s: {stored(stage.jobs, job_id)}")


def test_the_worker_process_scores_a_job_end_to_end(stage, tmp_path, model_name):
    env = {**stage.env, "FAKEWEB_MODEL_LABEL": "stable"}
    proc = _celery_worker(env, tmp_path / "worker.log")
    try:
        job_id = _job(stage, [2, 2])
        app = make_celery("test-sender", Settings(redis_url=stage.settings.redis_url))
        pipeline.send(app, pipeline.stage("classify"), job_id, 0)
        pipeline.send(app, pipeline.stage("classify"), job_id, 1)
        record = _wait_final(stage, job_id)
    finally:
        stop_process_group(proc.pid, timeout_s=20)
    assert record.get("classify_finished"), (tmp_path / "worker.log").read_text()
    assert {s["model"]["version"] for s in stage.jobs.scores(job_id).values()} == {1}
    assert _annotate_messages(stage) == 1


def test_serving_down_retries_then_fails_the_job_with_a_clear_reason(stage, tmp_path):
    env = {
        **stage.env,
        "FAKEWEB_SERVING_ADDRESS": f"127.0.0.1:{free_port()}",
        "FAKEWEB_SERVING_TIMEOUT_S": "1",
        "FAKEWEB_TASK_MAX_RETRIES": "2",
        "FAKEWEB_TASK_RETRY_BACKOFF_MAX_S": "1",
    }
    proc = _celery_worker(env, tmp_path / "worker.log")
    try:
        job_id = _job(stage, [1])
        app = make_celery("test-sender", Settings(redis_url=stage.settings.redis_url))
        pipeline.send(app, pipeline.stage("classify"), job_id, 0)
        record = _wait_final(stage, job_id)
    finally:
        stop_process_group(proc.pid, timeout_s=20)
    log = (tmp_path / "worker.log").read_text(errors="replace")
    assert (record["status"], record["reason"]) == ("failed", "serving_unavailable"), log
    assert "gave up after 2 retries" in record["message"]
    assert log.count("Retry in") == 2


def test_an_unknown_label_stops_the_worker_at_start_up(stage, tmp_path):
    env = {**stage.env, "FAKEWEB_MODEL_LABEL": "nope"}
    proc = _celery_worker(env, tmp_path / "worker.log")
    try:
        code = proc.wait(timeout=120)
    finally:
        stop_process_group(proc.pid, timeout_s=10)
    log = (tmp_path / "worker.log").read_text(errors="replace")
    assert code != 0, log
    assert "configuration error" in log and "no version label 'nope'" in log
