"""Classify-stage benchmark: the serving hop vs the same SavedModel in-process, and the stage itself.

Usage: .venv/bin/python -m bench.classify [--model-dir DIR] [--jobs 12] [--faces 32] [--repeat 30]

Part 1 (hop): for batch sizes 1, 4, 16, 32, times Predict through the TF Serving stand-in
(gRPC, uint8 tensors) and a direct call of the same SavedModel's signature in this process;
reports p50/p95 per call, faces/s and the serving/in-process ratio of the medians (one run).
Part 2 (stage): real Redis, SeaweedFS, the serving stand-in and 1 or 2 Celery classify workers
(``-P solo``); ``--jobs`` jobs of ``--faces`` crops each, one chunk per job, sent at once.
Latency per task = classify_finished - classify_started of the job record; faces/s over the run.
The model is the newest version under ``--model-dir`` (default deploy/models/fakeweb), else a
tiny test model. Writes bench/results/classify.json. Numbers depend on the machine's load.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from deploy.local.servers import (  # noqa: E402
    make_test_settings,
    running,
    serving_stand_in,
    settings_env,
    wait_for_redis,
    wait_for_s3,
)
from deploy.local.stack import stop_process_group  # noqa: E402
from services.classifier.serving_client import ModelRoute, ServingClient  # noqa: E402
from services.contract.crop_policy import CROP_POLICY  # noqa: E402
from services.contract.imaging import encode_png  # noqa: E402
from services.contract.jobs import JobStore  # noqa: E402
from services.contract.pipeline import send, stage  # noqa: E402
from services.contract.record import JobRecord  # noqa: E402
from services.contract.schemas import DetectedFace, DetectionResult  # noqa: E402
from services.contract.settings import Settings  # noqa: E402
from services.contract.storage import ObjectStore, crop_key, faces_key  # noqa: E402
from services.contract.tasks import make_celery  # noqa: E402

BATCH_SIZES = (1, 4, 16, 32)


def percentiles(values: list[float]) -> dict[str, float]:
    array = np.asarray(values) * 1000.0
    return {"p50_ms": float(np.percentile(array, 50)), "p95_ms": float(np.percentile(array, 95))}


def model_repository(model_dir: Path, work: Path) -> tuple[Path, str]:
    """A repository with one version of the model under test; returns (base, description)."""
    from fakeweb_cli.repository_layout import version_dirs

    base = work / "models"
    versions = version_dirs(model_dir) if model_dir.is_dir() else {}
    if versions:
        newest = max(versions)
        (base / "fakeweb").mkdir(parents=True)
        (base / "fakeweb" / "1").symlink_to(versions[newest].resolve(), target_is_directory=True)
        return base, f"{model_dir}/{newest}"
    from deploy.local.tiny_model import export_tiny_model

    export_tiny_model(base / "fakeweb" / "1")
    return base, "tiny test model (deploy/local/tiny_model.py)"


def crops(count: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (count, 224, 224, 3), dtype=np.uint8)


def bench_hop(base: Path, address: str, repeat: int) -> dict[str, dict]:
    import tensorflow as tf

    client = ServingClient(address, 30.0)
    signature = client.metadata(ModelRoute("fakeweb"))
    model = tf.saved_model.load(str(base / "fakeweb" / "1"))
    function = model.signatures[signature.signature_name]
    results = {}
    for size in BATCH_SIZES:
        batch = crops(size)
        if signature.height != 224 or signature.width != 224:
            from services.classifier.scoring import prepare_batch

            batch = prepare_batch(list(batch), signature)
        for _ in range(3):  # warm-up
            client.predict(signature, batch)
            function(**{signature.input_name: tf.constant(batch)})
        served, local = [], []
        for _ in range(repeat):
            start = time.perf_counter()
            client.predict(signature, batch)
            served.append(time.perf_counter() - start)
            start = time.perf_counter()
            outputs = function(**{signature.input_name: tf.constant(batch)})
            np.asarray(outputs[signature.output_name])
            local.append(time.perf_counter() - start)
        results[str(size)] = {
            "serving": {**percentiles(served), "faces_per_s": size / float(np.median(served))},
            "in_process": {**percentiles(local), "faces_per_s": size / float(np.median(local))},
            "ratio_serving_over_in_process": float(np.median(served) / np.median(local)),
        }
        served_row, local_row, row = results[str(size)]["serving"], results[str(size)]["in_process"], results[str(size)]
        print(
            f"hop  batch {size:>2}: serving p50 {served_row['p50_ms']:7.1f} ms p95 {served_row['p95_ms']:7.1f} ms"
            f" | in-process p50 {local_row['p50_ms']:7.1f} ms p95 {local_row['p95_ms']:7.1f} ms"
            f" | ratio {row['ratio_serving_over_in_process']:.2f}",
            flush=True,
        )
    client.close()
    return results


def start_workers(count: int, env: dict[str, str], log_dir: Path) -> list[subprocess.Popen]:
    procs = []
    for index in range(count):
        log_path = log_dir / f"worker-{index}-{uuid.uuid4().hex[:6]}.log"
        argv = [str(Path(sys.executable).parent / "celery"), "-A", "services.classifier.worker", "worker"]
        argv += ["-Q", "classify", "-P", "solo", "-n", f"bench-{index}-{uuid.uuid4().hex[:6]}@%h"]
        argv += ["--without-gossip", "--without-mingle", "-l", "INFO"]
        full_env = {**os.environ, **env, "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONPATH": str(REPO)}
        with log_path.open("ab") as log:
            proc = subprocess.Popen(
                argv, cwd=REPO, env=full_env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        proc.log_path = log_path  # type: ignore[attr-defined]
        procs.append(proc)
    deadline = time.monotonic() + 180
    for proc in procs:
        while "ready." not in proc.log_path.read_text(errors="replace"):  # type: ignore[attr-defined]
            if time.monotonic() > deadline or proc.poll() is not None:
                raise RuntimeError(f"worker did not start: {proc.log_path.read_text(errors='replace')[-2000:]}")  # type: ignore[attr-defined]
            time.sleep(0.3)
    return procs


def make_jobs(store: ObjectStore, jobs: JobStore, count: int, faces: int) -> list[str]:
    pngs = [encode_png(crop) for crop in crops(faces, seed=1)]
    ids = []
    for _ in range(count):
        job_id = uuid.uuid4().hex
        detected = []
        for index, png in enumerate(pngs):
            store.put_bytes(crop_key(job_id, index), png, "image/png")
            detected.append(
                DetectedFace(
                    index=index, box=[0, 0, 50, 50], detector_score=0.9, crop_key=crop_key(job_id, index), chunk=0
                )
            )
        detection = DetectionResult(
            width=640, height=480, engine="bench", crop_policy=CROP_POLICY.name, faces=detected, chunks=1
        )
        store.put_json(faces_key(job_id), detection.model_dump(mode="json"))
        jobs.create_for_tenant(job_id, "bench", JobRecord(threshold=0.5, faces_total=faces, chunks_total=1))
        ids.append(job_id)
    return ids


def bench_stage(
    env: dict[str, str], redis_url: str, workers: int, batch: int, jobs_count: int, faces: int, log_dir: Path
) -> dict:
    settings = Settings(**{k[len("FAKEWEB_") :].lower(): v for k, v in env.items()})
    store, jobs = ObjectStore(settings), JobStore.from_url(redis_url)
    procs = start_workers(workers, {**env, "FAKEWEB_CLASSIFY_MAX_BATCH": str(batch)}, log_dir)
    try:
        warm = make_jobs(store, jobs, workers, faces)  # first task per worker opens the channel
        ids = make_jobs(store, jobs, jobs_count, faces)
        app = make_celery("bench-sender", Settings(redis_url=redis_url))
        for job_id in warm:
            send(app, stage("classify"), job_id, 0)
        _wait_done(jobs, warm)
        for job_id in ids:
            send(app, stage("classify"), job_id, 0)
        records = _wait_done(jobs, ids)
    finally:
        for proc in procs:
            stop_process_group(proc.pid, timeout_s=20)
    starts = [r.started["classify"] for r in records]
    ends = [r.finished["classify"] for r in records]
    latencies = [e - s for s, e in zip(starts, ends, strict=True)]
    result = {**percentiles(latencies), "faces_per_s": jobs_count * faces / (max(ends) - min(starts))}
    print(
        f"stage workers {workers} batch {batch:>2}: task p50 {result['p50_ms']:7.1f} ms p95 {result['p95_ms']:7.1f} ms"
        f" | {result['faces_per_s']:6.1f} faces/s",
        flush=True,
    )
    return result


def _wait_done(jobs: JobStore, ids: list[str], timeout_s: float = 900) -> list[JobRecord]:
    deadline = time.monotonic() + timeout_s
    while True:
        records = [jobs.get(job_id) for job_id in ids]
        failed = [r for r in records if r.status == "failed"]
        if failed:
            raise RuntimeError(f"a bench job failed: {failed[0]}")
        if all("classify" in r.finished for r in records):
            return records
        if time.monotonic() > deadline:
            raise RuntimeError("bench jobs did not finish")
        time.sleep(0.2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model-dir", type=Path, default=REPO / "deploy" / "models" / "fakeweb")
    parser.add_argument("--jobs", type=int, default=12)
    parser.add_argument("--faces", type=int, default=32)
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--skip-stage", action="store_true")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="fakeweb-bench-") as tmp:
        work = Path(tmp)
        base, model = model_repository(args.model_dir, work)
        print(f"model: {model}; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores", flush=True)
        report: dict = {"model": model, "cpu_count": os.cpu_count(), "machine": platform.machine()}
        report["load_average_at_start"] = os.getloadavg()[0]
        with serving_stand_in(base, poll_s=5.0) as (address, _):
            report["hop"] = bench_hop(base, address, args.repeat)
            if not args.skip_stage:
                report["stage"] = {"jobs": args.jobs, "faces_per_job": args.faces, "runs": {}}
                servers_dir = work / "servers"
                settings = make_test_settings(servers_dir, serving_address=address, model_name="fakeweb")
                with running("redis", settings, servers_dir), running("s3", settings, servers_dir):
                    wait_for_redis(settings.redis_url)
                    wait_for_s3(settings)
                    env = settings_env(settings)
                    for workers in (1, 2):
                        for batch in BATCH_SIZES:
                            result = bench_stage(env, settings.redis_url, workers, batch, args.jobs, args.faces, work)
                            report["stage"]["runs"][f"workers={workers},batch={batch}"] = result
        report["load_average_at_end"] = os.getloadavg()[0]
    out = REPO / "bench" / "results" / "classify.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
