"""Where the stack's time goes at C = 1: py-spy samples of the gateway and each worker during a load run.

Starts its own LocalStack (as ``make bench`` does), warms it, then runs one closed-loop client on
the reference photo while ``py-spy record`` samples the gateway, detector, classifier and annotator
processes (``--nonblocking``, active threads only). Writes a summary (the raw collapsed stacks stay in
the work folder, ``.fakeweb/bench/profile-stack/py-spy/``):
per process, the share of its busy samples inside each FakeWeb function (inclusive), and the share
with no FakeWeb frame at all (Celery, kombu, uvicorn, asyncio machinery).

Usage: .venv/bin/python -m bench.stack_profile [--seconds 30] [--out bench/results/profile_stack.json]
"""

from __future__ import annotations

import argparse
import collections
import itertools
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.bench_model import bench_model, model_repository  # noqa: E402
from bench.clients import StackClient  # noqa: E402
from bench.load import closed_loop  # noqa: E402
from bench.servers import BenchStack, running_stack  # noqa: E402
from bench.workload import REFERENCE, build_photos, unique_copy  # noqa: E402

PROCESSES = ("gateway", "detector", "classifier", "annotator")
PROJECT_MARK = "services/"


def parse_frame(frame: str) -> tuple[str, str]:
    """``function (file:line)`` -> (function, file)."""
    if frame.endswith(")") and " (" in frame:
        function, where = frame[:-1].rsplit(" (", 1)
        return function, where.rsplit(":", 1)[0]
    return frame, ""


def summarise_collapsed(text: str, top: int = 12) -> dict[str, Any]:
    """Busy samples, the top FakeWeb functions by inclusive share, and the share outside FakeWeb code."""
    inclusive: collections.Counter[str] = collections.Counter()
    total = outside = 0
    for line in text.splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        total += count
        seen = set()
        for frame in stack.split(";"):
            function, path = parse_frame(frame)
            if PROJECT_MARK not in path:
                continue
            name = f"{function} ({path[path.index(PROJECT_MARK) :]})"
            if name not in seen:
                seen.add(name)
                inclusive[name] += count
        if not seen:
            outside += count
    return {
        "busy_samples": total,
        "outside_fakeweb_code": round(outside / total, 3) if total else None,
        "top_fakeweb_functions": {name: round(n / total, 3) for name, n in inclusive.most_common(top)} if total else {},
    }


def profile_stack(bench_stack: BenchStack, request: Any, seconds: float, rate: int, raw_dir: Path) -> dict[str, Any]:
    """Sample the gateway and workers with py-spy while one closed-loop client calls ``request`` for ``seconds``.

    A py-spy that cannot attach (no ptrace permission) is reported in the summary, never raised.
    """
    py_spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    if not Path(py_spy).is_file():
        return {
            "tool": "py-spy",
            "error": "py-spy is not installed (pip install -r requirements.lock)",
            "processes": {},
        }
    raw_dir.mkdir(parents=True, exist_ok=True)
    pids = {name: bench_stack.stack.pid_of(name) for name in PROCESSES}
    spy_args = ["record", "--rate", str(rate), "--duration", str(max(1, round(seconds))), "--format", "raw"]
    spy_args.append("--nonblocking")
    spies = {
        name: subprocess.Popen(
            [py_spy, *spy_args, "--pid", str(pid), "--output", str(raw_dir / f"{name}.txt")],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name, pid in pids.items()
    }
    time.sleep(0.5)
    run = closed_loop(request, 1, max(0.5, seconds - 1.5)).summary()
    errors = {name: spy.communicate(timeout=120)[1][-500:] for name, spy in spies.items()}
    summary: dict[str, Any] = {
        "tool": f"py-spy record --nonblocking --rate {rate} (active threads only), one closed-loop client",
        "collapsed_stacks": str(raw_dir.relative_to(ROOT)) if raw_dir.is_relative_to(ROOT) else str(raw_dir),
        "load_run": {k: run.get(k) for k in ("requests", "throughput_photos_per_s", "p50_ms", "stages_median_ms")},
        "processes": {},
    }
    for name in PROCESSES:
        path = raw_dir / f"{name}.txt"
        if path.exists():
            summary["processes"][name] = summarise_collapsed(path.read_text())
        else:
            summary["processes"][name] = {"error": errors[name] or "py-spy wrote nothing"}
    return summary


def main(argv: list[str] | None = None) -> int:
    """Profile the stack under one closed-loop client."""
    from services.contract.settings import Settings

    p = argparse.ArgumentParser(prog="python -m bench.stack_profile", description=__doc__.split("\n\n")[0])
    p.add_argument("--seconds", type=float, default=30.0)
    p.add_argument("--rate", type=int, default=200, help="py-spy samples per second")
    p.add_argument("--data", type=Path, default=ROOT / Settings().shared_data_dir)
    p.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "profile_stack.json")
    p.add_argument("--work-dir", type=Path, default=ROOT / ".fakeweb" / "bench" / "profile-stack")
    args = p.parse_args(argv)
    photo = build_photos(args.data, (REFERENCE,))[REFERENCE.name]
    shutil.rmtree(args.work_dir, ignore_errors=True)
    model = bench_model()
    base = model_repository(model, args.work_dir / "models")
    counter = itertools.count()
    with running_stack(args.work_dir, base) as bench_stack:
        client = StackClient(bench_stack.gateway_url, 0.0)
        for _ in range(3):  # warm every stage
            client.analyse(unique_copy(photo.jpeg, next(counter)))
        summary = profile_stack(
            bench_stack,
            lambda _c, _n: client.analyse(unique_copy(photo.jpeg, next(counter))),
            args.seconds,
            args.rate,
            args.work_dir / "py-spy",
        )
        client.close()
    summary = {"model": model.description, "photo": REFERENCE.name, **summary}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(summary, indent=2) + "\n")
    print(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
