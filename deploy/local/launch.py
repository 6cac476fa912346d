"""Start one process of the local stack with arguments derived from the FAKEWEB_* settings.

supervisord runs one of these per program (deploy/local/supervisord.conf); each replaces
itself (exec) with the real server, so supervisord watches redis-server, weed, celery and
uvicorn directly.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from services.contract.pipeline import CONSUMERS, PIPELINE  # noqa: E402
from services.contract.settings import Settings  # noqa: E402

# Celery worker processes: program name -> (app module, queue), from the pipeline declaration.
WORKERS = {each.service: (each.worker, each.queue) for each in (*PIPELINE, *CONSUMERS)}


def command(name: str, settings: Settings) -> tuple[list[str], dict[str, str]]:
    """The argv and extra environment that start process ``name``."""
    env: dict[str, str] = {}
    data = settings.data_dir.resolve()
    venv_bin = Path(sys.executable).parent
    if name == "redis":
        url = urlparse(settings.redis_url)
        (data / "redis").mkdir(parents=True, exist_ok=True)
        redis = shutil.which("redis-server") or "/usr/bin/redis-server"
        argv = [redis, "--bind", url.hostname or "127.0.0.1", "--port", str(url.port or 6379)]
        argv += ["--dir", str(data / "redis"), "--appendonly", "yes", "--appendfsync", "everysec"]
        argv += ["--save", "", "--maxmemory-policy", "noeviction", "--protected-mode", "no"]
        return argv, env
    if name == "s3":
        host, port = settings.s3_endpoint.rsplit(":", 1)
        base = int(port)
        (data / "s3").mkdir(parents=True, exist_ok=True)
        env = {"AWS_ACCESS_KEY_ID": settings.s3_access_key, "AWS_SECRET_ACCESS_KEY": settings.s3_secret_key}
        ports = {
            "s3.port": base,
            "s3.port.grpc": base + 1,
            "master.port": base + 2,
            "master.port.grpc": base + 3,
            "volume.port": base + 4,
            "volume.port.grpc": base + 5,
            "filer.port": base + 6,
            "filer.port.grpc": base + 7,
            "admin.port": base + 8,
            "admin.port.grpc": base + 9,
        }
        argv = [str(venv_bin / "weed"), "mini", f"-dir={data / 's3'}", f"-ip={host}", f"-ip.bind={host}"]
        argv += ["-admin.ui=false", "-webdav=false", "-s3.port.iceberg=0", "-s3.port.lance=0"]
        argv += [f"-{flag}={value}" for flag, value in ports.items()]
        return argv, env
    if name == "serving":
        return [sys.executable, "-m", "deploy.local.serving"], env
    if name in WORKERS:
        module, queue = WORKERS[name]
        argv = [str(venv_bin / "celery"), "-A", module, "worker", "-Q", queue, "-P", "solo"]
        argv += ["-n", f"{name}-{os.getpid()}@%h", "--without-gossip", "--without-mingle", "-l", "INFO"]
        return argv, env
    if name == "sweeper":
        return [sys.executable, "-m", "services.sweeper"], env
    if name == "gateway":
        argv = [str(venv_bin / "uvicorn"), "services.gateway.app:app"]
        argv += ["--host", settings.gateway_host, "--port", str(settings.gateway_port), "--no-access-log"]
        return argv, env
    raise SystemExit(
        f"unknown process {name!r}; expected one of redis, s3, serving, gateway, sweeper, {', '.join(WORKERS)}"
    )


def main() -> None:
    """Exec the named process."""
    if len(sys.argv) != 2:
        raise SystemExit("usage: launch.py PROCESS")
    os.chdir(ROOT)
    argv, env = command(sys.argv[1], Settings())
    os.environ.update(env)
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH", "")]))
    os.execvp(argv[0], argv)  # noqa: S606 - argv is built above from settings, not from input


if __name__ == "__main__":
    main()
