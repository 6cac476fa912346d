"""Run the local stack (deploy/local/supervisord.conf) under supervisord, and stop it.

Used by ``make run`` / ``make up`` / ``make down`` and by the end-to-end test fixtures, so
the tests start exactly what a user starts.

    python deploy/local/stack.py run     # in the foreground; Ctrl-C stops everything
    python deploy/local/stack.py up      # in the background; returns once /readyz answers 200
    python deploy/local/stack.py down    # stop every process the stack started
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SUPERVISORD_CONF = ROOT / "deploy" / "local" / "supervisord.conf"


@dataclass
class LocalStack:
    """A supervisord process group running Redis, SeaweedFS, serving, the workers and the gateway."""

    env: dict[str, str]
    data_dir: Path
    log_path: Path = field(init=False)
    process: subprocess.Popen[bytes] | None = None

    def __post_init__(self) -> None:
        self.log_path = self.data_dir / "stack.log"

    @property
    def gateway_url(self) -> str:
        """Base URL of the gateway."""
        return (
            f"http://{self.env.get('FAKEWEB_GATEWAY_HOST', '127.0.0.1')}:{self.env.get('FAKEWEB_GATEWAY_PORT', '8000')}"
        )

    def process_env(self) -> dict[str, str]:
        """Environment for supervisord and its programs."""
        env = {**os.environ, **self.env, "FAKEWEB_STACK_DIR": str(self.data_dir)}
        env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
        env.setdefault("PYTHONUNBUFFERED", "1")
        return env

    def supervisord_argv(self) -> list[str]:
        """The supervisord command line."""
        return [str(Path(sys.executable).parent / "supervisord"), "-n", "-c", str(SUPERVISORD_CONF)]

    def start(self, timeout_s: float = 180.0) -> None:
        """Start supervisord in its own session and wait until /readyz answers 200."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                self.supervisord_argv(),
                cwd=ROOT,
                env=self.process_env(),
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        (self.data_dir / "stack.pid").write_text(str(self.process.pid))
        self.wait_ready(timeout_s)

    def ctl(self, *args: str) -> str:
        """Run ``supervisorctl`` against this stack (e.g. ``ctl("stop", "redis")``); return its output."""
        argv = [str(Path(sys.executable).parent / "supervisorctl"), "-c", str(SUPERVISORD_CONF), *args]
        done = subprocess.run(argv, env=self.process_env(), capture_output=True, text=True, timeout=90, check=False)
        return done.stdout + done.stderr

    def pid_of(self, program: str) -> int:
        """The pid of a running program (0 when it is not running)."""
        return int(self.ctl("pid", program).strip() or 0)

    def wait_ready(self, timeout_s: float) -> dict[str, object]:
        """Poll /readyz until 200; raise with the last answer and the log tail on timeout."""
        deadline = time.monotonic() + timeout_s
        last: object = None
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(f"the stack exited with {self.process.returncode}:\n{self.log_tail()}")
            try:
                with urllib.request.urlopen(f"{self.gateway_url}/readyz", timeout=5) as answer:  # noqa: S310
                    return json.loads(answer.read())
            except urllib.error.HTTPError as exc:
                last = exc.read().decode(errors="replace")
            except (urllib.error.URLError, OSError) as exc:
                last = repr(exc)
            time.sleep(0.5)
        raise TimeoutError(f"the stack was not ready within {timeout_s:.0f} s (last: {last}):\n{self.log_tail()}")

    def stop(self, timeout_s: float = 90.0) -> None:
        """SIGTERM supervisord (it stops every program in order), then SIGKILL what is left."""
        pid = self.process.pid if self.process else _read_pid(self.data_dir)
        if pid is None:
            return
        stop_process_group(pid, timeout_s, leader_only=True)
        (self.data_dir / "stack.pid").unlink(missing_ok=True)

    def log_tail(self, lines: int = 60) -> str:
        """The last lines of the combined log."""
        if not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])


def stop_process_group(pid: int, timeout_s: float, leader_only: bool = False) -> None:
    """SIGTERM the group led by ``pid`` (or only its leader, which then stops the rest itself),
    and SIGKILL whatever of the group is left after ``timeout_s``."""
    try:
        if leader_only:
            os.kill(pid, signal.SIGTERM)
        else:
            os.killpg(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        _reap(pid)
        try:
            os.killpg(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.2)
    try:
        os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:
        return
    _reap(pid)


def _reap(pid: int) -> None:
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


def _read_pid(data_dir: Path) -> int | None:
    """The pid of a running stack, or None (a stale pid file from a crash is removed)."""
    pid_file = data_dir / "stack.pid"
    if not pid_file.exists():
        return None
    pid = int(pid_file.read_text())
    try:
        os.killpg(pid, 0)
    except ProcessLookupError:
        pid_file.unlink(missing_ok=True)
        return None
    return pid


def free_port_range(count: int, start: int = 20000, end: int = 60000) -> int:
    """First port of ``count`` consecutive free loopback ports (SeaweedFS needs ten)."""
    for base in range(start + (os.getpid() * 37) % 1000 * 10, end, count + 3):
        if all(_port_free(base + i) for i in range(count)):
            return base
    raise RuntimeError("no free port range")


def free_port() -> int:
    """One free loopback port."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _port_free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def main() -> None:
    """``up`` or ``down`` for the stack configured by the FAKEWEB_* environment."""
    sys.path.insert(0, str(ROOT))
    from services.contract.settings import Settings

    settings = Settings()
    data_dir = (ROOT / settings.data_dir).resolve()
    stack = LocalStack(env={}, data_dir=data_dir)
    stack.env = {"FAKEWEB_GATEWAY_HOST": settings.gateway_host, "FAKEWEB_GATEWAY_PORT": str(settings.gateway_port)}
    command = sys.argv[1] if len(sys.argv) > 1 else ""
    if command == "run":
        data_dir.mkdir(parents=True, exist_ok=True)
        print(f"FakeWeb starting on {stack.gateway_url} (Ctrl-C stops everything) ...", flush=True)
        os.chdir(ROOT)
        argv = stack.supervisord_argv()
        os.execve(argv[0], argv, stack.process_env())  # noqa: S606 - fixed argv, no shell
    elif command == "up":
        if _read_pid(data_dir) is not None:
            raise SystemExit(f"the stack seems to be running already ({data_dir / 'stack.pid'}); run `make down` first")
        stack.start()
        print(f"FakeWeb is up on {stack.gateway_url} (logs: {stack.log_path}); stop it with `make down`.")
    elif command == "down":
        stack.stop()
        print("FakeWeb stopped.")
    else:
        raise SystemExit("usage: stack.py run|up|down")


if __name__ == "__main__":
    main()
