"""What the results file says besides the figures: the machine, what else ran, and the plot."""

from __future__ import annotations

import os
import platform
import subprocess
from importlib import metadata
from pathlib import Path
from typing import Any

PACKAGES = ("tensorflow", "mediapipe", "opencv-contrib-python", "numpy", "celery", "redis", "fastapi", "uvicorn")


def machine() -> dict[str, Any]:
    """Cores, CPU model, memory, Python and the versions of the packages that do the work."""
    cpu_model = ""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                cpu_model = line.split(":", 1)[1].strip()
                break
    memory_gb = None
    meminfo = Path("/proc/meminfo")
    if meminfo.exists():
        first = meminfo.read_text().splitlines()[0].split()
        memory_gb = round(int(first[1]) / 1024 / 1024, 1)
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    versions["redis-server"] = _redis_server_version()
    return {
        "cores": os.cpu_count(),
        "cpu_model": cpu_model or platform.processor(),
        "memory_gb": memory_gb,
        "os": platform.platform(),
        "python": platform.python_version(),
        "versions": versions,
    }


def _redis_server_version() -> str | None:
    try:
        out = subprocess.run(["redis-server", "--version"], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    for part in out.split():
        if part.startswith("v="):
            return part[2:]
    return out.strip() or None


def background_load() -> dict[str, Any]:
    """Load average and any model training running beside the benchmark (the machine is shared)."""
    load = [round(x, 2) for x in os.getloadavg()]
    try:
        found = subprocess.run(["pgrep", "-af", "training.train"], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        found = ""
    training = [line for line in found.splitlines() if "pgrep" not in line]
    return {"load_average_1_5_15": load, "training_processes": training}


def git_commit(root: Path) -> str | None:
    """The checked-out commit (with ``-dirty`` when files differ)."""
    try:
        out = subprocess.run(
            ["git", "describe", "--always", "--dirty"], cwd=root, capture_output=True, text=True, timeout=10
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None


def plot(results: dict[str, Any], path: Path) -> Path:
    """Throughput and p50/p95 latency against concurrency for the stack, the stack x2 and the baseline."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    series = {
        "FakeWeb stack (1 process/worker)": results["scenarios"]["stack"]["runs"],
        "FakeWeb stack (2 processes/worker)": results["scenarios"]["stack_scaled"]["runs"],
        "prototype-style baseline": results["scenarios"]["baseline"]["runs"],
    }
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
    for label, runs in series.items():
        if not runs:
            continue
        clients = [r["clients"] for r in runs]
        line = left.plot(clients, [r["throughput_photos_per_s"] for r in runs], marker="o", label=label)[0]
        colour = line.get_color()
        right.plot(clients, [r["p50_ms"] for r in runs], marker="o", color=colour, label=f"{label} p50")
        right.plot(clients, [r["p95_ms"] for r in runs], marker="x", linestyle="--", color=colour, label="p95")
    bound = results["scenarios"]["inprocess"]["throughput_photos_per_s"]
    left.axhline(bound, color="grey", linestyle=":", label="in-process bound")
    left.set(xlabel="concurrent clients (closed loop)", ylabel="photos / s", title="Throughput, one-face ~1 MP photo")
    right.set(xlabel="concurrent clients (closed loop)", ylabel="ms", title="End-to-end latency (p50, p95)")
    right.set_yscale("log")
    ticks = sorted({r["clients"] for runs in series.values() for r in runs})
    for axis in (left, right):
        axis.set_xscale("log", base=2)
        axis.set_xticks(ticks, [str(t) for t in ticks])
        axis.grid(True, alpha=0.3)
    left.legend(fontsize=7)
    right.legend(fontsize=6, ncol=2)
    fig.suptitle(f"make bench — {results['machine']['cores']} cores, {results['machine']['cpu_model']}", fontsize=9)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
