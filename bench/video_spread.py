"""One clip's detection over one and over two ``detector-frames`` processes, side by side in one stack.

Starts its own LocalStack (bench.video's model and clips), warms it up, then alternates: a 10 s
720p one-face clip with the supervised ``detector-frames`` process alone, then another (new
bytes, so no cache hit) with a second process beside it (``BenchStack.add_workers``), for
``--rounds`` pairs. Records each job's wall time and its ``detect`` stage time (plan to link),
and which processes searched its chunks (``detected_by`` of each ``jobs/{id}/frames/NNNN.json``).
A second process can only help as far as free cores allow: read the ratio with the load average
it was measured under.

Usage: .venv/bin/python -m bench.video_spread [--rounds 2] [--seconds 10] [--out bench/results/video_spread.json]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.bench_model import bench_model, model_repository  # noqa: E402
from bench.servers import BenchStack, running_stack  # noqa: E402
from bench.video import WARM_UP, ClipSpec, build_clip, run_clip  # noqa: E402
from services.contract.pipeline import DETECT_FRAMES  # noqa: E402
from services.contract.storage import ObjectStore, frame_chunk_key  # noqa: E402


def chunk_searchers(stack: BenchStack, job_id: str) -> list[str]:
    """Who searched each chunk of a job (``service@host:pid``)."""
    store = ObjectStore(stack.settings)
    found, chunk = [], 0
    while store.exists(frame_chunk_key(job_id, chunk)):
        found.append(store.get_json(frame_chunk_key(job_id, chunk)).get("detected_by", ""))
        chunk += 1
    return found


def main(argv: list[str] | None = None) -> int:
    """Run the paired comparison and write its JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "video_spread.json")
    parser.add_argument("--data", type=Path, default=ROOT / ".." / "shared" / "data")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args(argv)
    model = bench_model()
    spec = ClipSpec(f"720p_{args.seconds:g}s_1face", args.seconds, 1)
    runs: dict[str, list[dict[str, Any]]] = {"one_process": [], "two_processes": []}
    results: dict[str, Any] = {"model": model.description, "clip": spec.name, "load_before": os.getloadavg()}
    with tempfile.TemporaryDirectory(prefix="fakeweb-bench-spread-") as folder:
        run_dir = Path(folder)
        base = model_repository(model, run_dir / "models")
        with running_stack(run_dir, base) as stack:
            run_clip(stack.gateway_url, build_clip(WARM_UP, args.data, seed=0))
            seed = 100
            for _ in range(args.rounds):
                for name, extra in (("one_process", 0), ("two_processes", 1)):
                    if extra:
                        stack.add_workers((DETECT_FRAMES.service,) * extra)
                    seed += 1
                    outcome = run_clip(stack.gateway_url, build_clip(spec, args.data, seed=seed))
                    outcome["searched_by"] = sorted(set(chunk_searchers(stack, outcome["job_id"])))
                    if extra:
                        stack.remove_workers()
                    runs[name].append(outcome)
                    detect_s = outcome["stages_s"].get("detect")
                    print(f"{name}: {outcome['wall_s']} s wall, detect {detect_s} s", flush=True)
    for name, outcomes in runs.items():
        results[f"{name}_median_wall_s"] = statistics.median(run["wall_s"] for run in outcomes)
        results[f"{name}_median_detect_s"] = statistics.median(run["stages_s"].get("detect", 0.0) for run in outcomes)
    results["detect_ratio_two_over_one"] = round(
        results["two_processes_median_detect_s"] / results["one_process_median_detect_s"], 3
    )
    results["runs"] = runs
    results["load_after"] = os.getloadavg()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps({key: value for key, value in results.items() if key != "runs"}))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
