"""Start and stop what the benchmark measures: a LocalStack on free ports, extra workers, the baseline app.

Everything runs on 127.0.0.1 under the run's own folder and is stopped by process group at the end.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from deploy.local.launch import command
from deploy.local.servers import make_test_settings, settings_env
from deploy.local.stack import LocalStack, free_port, stop_process_group
from services.contract.pipeline import PIPELINE
from services.contract.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
PIPELINE_WORKERS = tuple(spec.service for spec in PIPELINE)  # the stages' worker programs


@dataclass
class BenchStack:
    """A running LocalStack, its settings, and the extra worker processes started beside it."""

    stack: LocalStack
    settings: Settings
    extra: list[subprocess.Popen[bytes]]

    @property
    def gateway_url(self) -> str:
        """Base URL of the gateway."""
        return self.stack.gateway_url

    def add_workers(self, names: tuple[str, ...] = PIPELINE_WORKERS, timeout_s: float = 240.0) -> None:
        """One more process of each named worker (launch.py's command), returning once each is ready."""
        started = []
        for name in names:
            argv, extra_env = command(name, self.settings)
            node = f"{name}-bench{len(self.extra) + len(started)}@%h"
            argv = [node if arg.startswith(f"{name}-") and "@" in arg else arg for arg in argv]
            log_path = self.stack.data_dir / f"extra-{name}-{len(self.extra) + len(started)}.log"
            env = {**self.stack.process_env(), **extra_env, "TF_CPP_MIN_LOG_LEVEL": "2"}
            env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH", "")]))
            with log_path.open("ab") as log:
                proc = subprocess.Popen(
                    argv, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
                )
            started.append((proc, log_path))
        deadline = time.monotonic() + timeout_s
        for proc, log_path in started:
            self.extra.append(proc)
            while "ready." not in log_path.read_text(errors="replace"):
                if proc.poll() is not None or time.monotonic() > deadline:
                    tail = log_path.read_text(errors="replace")[-2000:]
                    raise RuntimeError(f"extra worker {proc.args[:4]} did not start:\n{tail}")
                time.sleep(0.3)

    def remove_workers(self) -> None:
        """Stop the extra workers together (warm shutdown, then kill)."""
        stoppers = [threading.Thread(target=stop_process_group, args=(proc.pid, 60.0)) for proc in self.extra]
        for thread in stoppers:
            thread.start()
        for thread in stoppers:
            thread.join()
        for proc in self.extra:
            proc.wait(timeout=5)
        self.extra.clear()

    def worker_processes(self) -> dict[str, int]:
        """Processes per pipeline worker type right now (supervised + extra)."""
        counts = {name: 1 if self.stack.pid_of(name) else 0 for name in PIPELINE_WORKERS}
        for proc in self.extra:
            if proc.poll() is None:
                for name in PIPELINE_WORKERS:
                    if any(str(arg).startswith(f"{name}-bench") for arg in proc.args):
                        counts[name] += 1
        return counts


@contextmanager
def running_stack(run_dir: Path, model_base: Path, timeout_s: float = 300.0) -> Iterator[BenchStack]:
    """The whole local stack (supervisord) on free ports, serving ``model_base``; stopped on exit.

    The per-key rate limit is off (closed-loop clients poll faster than 10 requests/s);
    everything else is the default configuration, result cache included.
    """
    settings = make_test_settings(run_dir / "stack", model_base_path=model_base, rate_limit_per_s=0)
    env = settings_env(settings)
    stack = LocalStack(env=env, data_dir=settings.data_dir)
    handle = BenchStack(stack=stack, settings=settings, extra=[])
    try:
        stack.start(timeout_s=timeout_s)
        yield handle
    finally:
        handle.remove_workers()
        stack.stop()


@contextmanager
def running_baseline(run_dir: Path, timeout_s: float = 240.0) -> Iterator[str]:
    """The prototype-style baseline under uvicorn (one process) on a free port; yields its base URL."""
    port = free_port()
    log_path = run_dir / "baseline.log"
    run_dir.mkdir(parents=True, exist_ok=True)
    argv = [str(Path(sys.executable).parent / "uvicorn"), "bench.baseline.app:app"]
    argv += ["--host", "127.0.0.1", "--port", str(port), "--no-access-log", "--workers", "1"]
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONPATH": str(ROOT)}
    with log_path.open("ab") as log:
        proc = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                with urllib.request.urlopen(f"{url}/health", timeout=5):
                    break
            except OSError as exc:
                if proc.poll() is not None or time.monotonic() > deadline:
                    tail = log_path.read_text(errors="replace")[-2000:]
                    raise RuntimeError(f"baseline did not start:\n{tail}") from exc
                time.sleep(0.5)
        yield url
    finally:
        stop_process_group(proc.pid, timeout_s=20)
        proc.wait(timeout=5)
