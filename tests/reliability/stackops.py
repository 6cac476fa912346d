"""Start a disposable local stack, and submit, follow and check jobs on it (reliability tests)."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import redis

from deploy.local.launch import command as launch_command
from deploy.local.stack import ROOT, LocalStack, stop_process_group
from services.contract.jobs import CHUNKS_DONE_KEY, JOB_KEY, SCORES_KEY
from services.contract.pipeline import PIPELINE
from services.contract.settings import Settings
from services.contract.storage import ObjectStore, result_key
from tests.support.servers import make_test_settings, settings_env

API_KEY = "fakeweb-dev-key"
KEY_HEADER = {"X-API-Key": API_KEY}
FINAL = frozenset({"completed", "failed", "no_face"})
WORKER_PROGRAMS = tuple(spec.service for spec in PIPELINE)  # the stages' worker programs
_TINY_MODEL_CACHE: dict[str, Path] = {}
# A worker holding TensorFlow and MediaPipe measured ~760 MB (platform facts); twice that is a leak.
WORKER_RSS_BOUND_KB = 1_500_000


@dataclass
class Stack:
    """A running local stack of a test module, with clients on its Redis and S3."""

    stack: LocalStack
    settings: Settings
    env: dict[str, str]
    redis: redis.Redis = field(init=False)
    store: ObjectStore = field(init=False)

    def __post_init__(self) -> None:
        self.redis = redis.Redis.from_url(self.settings.redis_url, decode_responses=True, socket_timeout=5)
        self.store = ObjectStore(self.settings)

    @property
    def url(self) -> str:
        return self.stack.gateway_url

    def client(self, timeout: float = 30) -> httpx.Client:
        """An HTTP client on the gateway with the dev key."""
        return httpx.Client(base_url=self.url, timeout=timeout, headers=KEY_HEADER)

    def pid(self, program: str) -> int:
        return self.stack.pid_of(program)

    def worker_pids(self) -> dict[str, int]:
        return {program: self.pid(program) for program in WORKER_PROGRAMS}

    def wait_running(self, program: str, timeout_s: float = 120, not_pid: int = 0) -> int:
        """Wait until supervisord reports ``program`` RUNNING (with a pid other than ``not_pid``); return its pid."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            status = self.stack.ctl("status", program)
            if "RUNNING" in status:
                pid = self.pid(program)
                if pid and pid != not_pid:
                    return pid
            time.sleep(0.3)
        raise AssertionError(f"{program} is not running again: {self.stack.ctl('status')}\n{self.stack.log_tail()}")

    def record(self, job_id: str) -> dict[str, str]:
        return self.redis.hgetall(JOB_KEY.format(job_id=job_id))

    def held_by_a_worker(self, job_id: str, task: str) -> bool:
        """True while a message of ``task`` for the job is delivered but not acknowledged (a worker holds it)."""
        for raw in self.redis.hvals("unacked"):
            message = json.loads(raw)[0]
            if message.get("headers", {}).get("task") == task and job_id in json.dumps(message.get("headers", {})):
                return True
        return False

    def wait_held(self, job_id: str, task: str, timeout_s: float = 60) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.held_by_a_worker(job_id, task):
                return
            time.sleep(0.1)
        raise AssertionError(f"no worker took {task} of job {job_id}: {self.record(job_id)}")

    def wait_ready(self, timeout_s: float = 120) -> None:
        self.stack.wait_ready(timeout_s)


@contextlib.contextmanager
def extra_worker(stack: Stack, program: str, name: str, timeout_s: float = 240) -> Iterator[subprocess.Popen[bytes]]:
    """One more process of a worker program beside the supervised one (launch.py's command), while inside."""
    argv, extra_env = launch_command(program, stack.settings)
    argv = [f"{program}-{name}@%h" if arg.startswith(f"{program}-") and "@" in arg else arg for arg in argv]
    env = {**stack.stack.process_env(), **extra_env}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH", "")]))
    log_path = stack.stack.data_dir / f"extra-{program}-{name}.log"
    with log_path.open("ab") as log:
        proc = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + timeout_s
        while "ready." not in log_path.read_text(errors="replace"):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"extra {program} did not start:\n{log_path.read_text(errors='replace')[-2000:]}")
            time.sleep(0.3)
        yield proc
    finally:
        stop_process_group(proc.pid, 60.0)
        proc.wait(timeout=10)


def tiny_model_copy(target: Path) -> None:
    """Put the tiny test model as version 1 under ``target`` (exported once per test process)."""
    if "dir" not in _TINY_MODEL_CACHE:
        from tests.support.tiny_model import export_tiny_model

        source = target.parent / "tiny-model-export"
        export_tiny_model(source)
        _TINY_MODEL_CACHE["dir"] = source
    shutil.copytree(_TINY_MODEL_CACHE["dir"], target)


def start_stack(data_dir: Path, extra_env: dict[str, str] | None = None, **overrides: object) -> Stack:
    """A whole local stack on free ports: no rate limit, no result cache, the tiny model as version 1."""
    model_base = data_dir / "models"
    tiny_model_copy(model_base / "fakeweb" / "1")
    values: dict[str, object] = {
        "model_base_path": model_base,
        "model_config_poll_s": 1.0,
        "rate_limit_per_s": 0.0,
        "result_cache_ttl_s": 0,
    }
    values.update(overrides)
    settings = make_test_settings(data_dir, **values)
    env = {**settings_env(settings), **(extra_env or {})}
    stack = LocalStack(env=env, data_dir=data_dir)
    try:
        stack.start(timeout_s=300)
    except BaseException:
        stack.stop()
        raise
    return Stack(stack=stack, settings=settings, env=env)


def submit(client: httpx.Client, photo: bytes, name: str = "photo.jpg", **form: object) -> str:
    """Upload a photo; return the job id (the answer must be 202)."""
    answer = client.post("/v1/jobs", files={"image": (name, photo, "image/jpeg")}, data=form)
    assert answer.status_code == 202, answer.text
    return answer.json()["id"]


def wait_final(client: httpx.Client, job_id: str, timeout_s: float = 180, poll_s: float = 0.3) -> dict:
    """Poll a job until it ends; return its document. Every answer on the way must be a 200 or a 503."""
    deadline = time.monotonic() + timeout_s
    last: object = None
    while time.monotonic() < deadline:
        try:
            answer = client.get(f"/v1/jobs/{job_id}")
        except httpx.TransportError as exc:  # the gateway itself may be restarting
            last = repr(exc)
            time.sleep(poll_s)
            continue
        assert answer.status_code in (200, 503), answer.text
        if answer.status_code == 200:
            last = answer.json()
            if last["status"] in FINAL:
                return last
        time.sleep(poll_s)
    raise AssertionError(f"job {job_id} did not end within {timeout_s} s; last: {last}")


def check_one_result_per_face(stack: Stack, job_id: str, document: dict) -> None:
    """The result has one entry per detected face, no index twice, one score per judgeable face."""
    record = stack.record(job_id)
    faces = document["faces"]
    indexes = [face["index"] for face in faces]
    assert len(indexes) == len(set(indexes)), f"duplicate face indexes {indexes}"
    assert sorted(indexes) == list(range(int(record["faces_total"]))), (indexes, record)
    stored = stack.store.get_json(result_key(job_id))
    assert [face["index"] for face in stored["faces"]] == indexes
    judged = [face for face in faces if face["verdict"] in ("genuine", "manipulated")]
    assert len(judged) == int(record.get("faces_judgeable") or 0)
    scores = stack.redis.hkeys(SCORES_KEY.format(job_id=job_id))
    assert sorted(int(index) for index in scores) == sorted(face["index"] for face in judged)
    chunks = stack.redis.scard(CHUNKS_DONE_KEY.format(job_id=job_id))
    assert chunks == int(record.get("chunks_total") or 0)


def rss_kb(pid: int) -> int:
    """Resident memory of a process in KiB (VmRSS of /proc/<pid>/status)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError(f"no VmRSS for pid {pid}")


def gateway_statuses(stack: Stack, offset: int = 0) -> list[int]:
    """HTTP statuses of every request the gateway logged (JSON lines with a route) after byte ``offset``."""
    statuses = []
    for line in stack.stack.log_path.read_bytes()[offset:].decode(errors="replace").splitlines():
        if not line.startswith("{") or '"route"' not in line:
            continue
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if "status" in entry and "route" in entry:
            statuses.append(int(entry["status"]))
    return statuses


class RssSampler(threading.Thread):
    """Samples VmRSS of the given pids every second; keeps the peak per program."""

    def __init__(self, pids: dict[str, int]) -> None:
        super().__init__(daemon=True)
        self.pids = pids
        self.peak_kb = {program: 0 for program in pids}
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            self.sample()
            self.stop.wait(1.0)

    def sample(self) -> None:
        for program, pid in self.pids.items():
            with contextlib.suppress(OSError, AssertionError):  # a process that is gone has no RSS
                self.peak_kb[program] = max(self.peak_kb[program], rss_kb(pid))
