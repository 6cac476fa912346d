"""`make bench`: where FakeWeb stands against its own compute bound and the prototype's design, in one run.

Usage: .venv/bin/python -m bench.run [--quick] [--out bench/results/latest.json]

Same photos, same machine, one run:

1. ``inprocess``: FakeWeb's detector, crop policy, SavedModel and annotator called in this process,
   one photo after another (bench/inprocess.py): the compute bound.
2. ``stack``: the whole local stack (supervisord: Redis, SeaweedFS, serving, one process per worker,
   gateway) on free ports, closed-loop clients C = 1, 2, 4, 8 through the job API (bench/clients.py);
   per-stage split from the job records.
3. ``baseline``: the prototype-style synchronous app (bench/baseline/app.py) under uvicorn, same clients.
4. ``growth``: cost per photo at 1, 5, 20 faces (2 MP) and 0.5, 2, 12 MP (one face), for all three.
5. ``stack_scaled`` (2 processes per worker type) and ``result_cache`` (the same photo again).

Every face is scored with threshold 0, so every judgeable face is "manipulated" and gets a mesh
(the most work a photo can cause). Throughput runs send byte-distinct copies of the photo so the
result cache never answers them. Writes the JSON and a PNG plot; ``--quick`` is a smoke run
(short windows, C = 1, 2) whose figures mean little.
"""

from __future__ import annotations

import argparse
import itertools
import json
import shutil
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench import report  # noqa: E402
from bench.bench_model import bench_model, model_repository  # noqa: E402
from bench.clients import BaselineClient, StackClient  # noqa: E402
from bench.load import Sample, closed_loop, latency_stats  # noqa: E402
from bench.profile import profile_pipeline  # noqa: E402
from bench.servers import running_baseline, running_stack  # noqa: E402
from bench.stack_profile import profile_stack  # noqa: E402
from bench.workload import ALL_SPECS, FACE_SERIES, PIXEL_SERIES, REFERENCE, Photo, build_photos, unique_copy  # noqa: E402
from services.contract.pipeline import STAGE_NAMES  # noqa: E402

THRESHOLD = 0.0
RESULTS = ROOT / "bench" / "results"
PROFILE_FILE = "profile_inprocess.txt"
TARGETS = {
    "stack_vs_inprocess_throughput": (">=", 0.8),
    "stack_vs_baseline_throughput": (">=", 5.0),
    "stack_overhead_p50_ms": ("<=", 50.0),
}
MODES = {
    "full": {
        "clients": (1, 2, 4, 8),
        "scaled_clients": (2, 4, 8),
        "window_s": 15.0,
        "inprocess_photos": 15,
        "growth_reps": 2,
        "growth_warm_up": True,
        "cache_window_s": 8.0,
        "profile_photos": 8,
        "profile_stack_s": 20.0,
    },
    "quick": {
        "clients": (1, 2),
        "scaled_clients": (2,),
        "window_s": 2.0,
        "inprocess_photos": 2,
        "growth_reps": 1,
        "growth_warm_up": False,
        "cache_window_s": 1.0,
        "profile_photos": 1,
        "profile_stack_s": 3.0,
    },
}


def log(message: str) -> None:
    """Progress on stderr (the JSON is the result)."""
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Command-line options."""
    p = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="smoke run: short windows, C = 1, 2 (figures mean little)")
    p.add_argument("--out", type=Path, default=RESULTS / "latest.json", help="results JSON (the plot goes beside it)")
    p.add_argument("--data", type=Path, default=None, help="the shared data (default: FAKEWEB_SHARED_DATA_DIR)")
    p.add_argument("--work-dir", type=Path, default=ROOT / ".fakeweb" / "bench" / "runs", help="state of the run")
    p.add_argument("--model", type=Path, default=None, help="a SavedModel version folder (default: see bench_model)")
    p.add_argument("--keep", action="store_true", help="keep the run's state folder (logs, Redis, S3)")
    args = p.parse_args(argv)
    if args.data is None:
        from services.contract.settings import get_settings

        args.data = ROOT / get_settings().shared_data_dir
    return args


def summarise(samples: list[Sample]) -> dict[str, Any]:
    """p50/p95/mean latency, sequential throughput (1 / mean) and median stage split of one-at-a-time samples."""
    good = [s for s in samples if s.ok]
    stats = latency_stats([s.latency_s for s in good])
    mean_s = statistics.fmean(s.latency_s for s in good) if good else 0.0
    out: dict[str, Any] = {
        "requests": len(samples),
        "failed": len(samples) - len(good),
        "throughput_photos_per_s": round(1.0 / mean_s, 4) if mean_s else 0.0,
        **stats,
    }
    names = list(dict.fromkeys(name for s in good for name in s.stages))
    if names:
        out["stages_median_ms"] = {
            name: round(statistics.median(s.stages[name] for s in good if name in s.stages) * 1000, 1) for name in names
        }
    faces = sorted({s.info.get("faces") for s in good if s.info.get("faces") is not None})
    if faces:
        out["faces_found"] = faces
    return out


def saturation(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The run with the highest throughput: the scenario's headline throughput, p50 and p95."""
    if not runs:
        return {"throughput_photos_per_s": 0.0, "p50_ms": None, "p95_ms": None, "at_clients": None}
    best = max(runs, key=lambda r: r["throughput_photos_per_s"])
    return {
        "throughput_photos_per_s": best["throughput_photos_per_s"],
        "p50_ms": best["p50_ms"],
        "p95_ms": best["p95_ms"],
        "at_clients": best["clients"],
    }


def sequential(run_one: Any, photo: Photo, reps: int, counter: itertools.count, warm_up: bool = True) -> list[Sample]:
    """``reps`` requests of ``photo`` one after another (byte-distinct copies), after one warm-up."""
    if warm_up:
        run_one(unique_copy(photo.jpeg, next(counter)))
    return [run_one(unique_copy(photo.jpeg, next(counter))) for _ in range(reps)]


def inprocess_runner(pipeline: Any) -> Any:
    """One photo through the in-process pipeline as a Sample."""

    def run_one(data: bytes) -> Sample:
        run = pipeline.run(data, THRESHOLD)
        info = {"faces": run.faces, "meshes": run.meshes}
        return Sample(latency_s=run.total, observed_s=run.total, stages=run.steps, info=info)

    return run_one


def inprocess_phase(pipeline: Any, photos: dict[str, Photo], mode: dict[str, Any]) -> dict[str, Any]:
    """The compute bound: the reference photo repeatedly (first half), then each growth photo."""
    run_one = inprocess_runner(pipeline)
    counter = itertools.count()
    reference = photos[REFERENCE.name]
    run_one(reference.jpeg)
    log("in-process: reference photo (before the stack phase)")
    samples = sequential(run_one, reference, mode["inprocess_photos"], counter)
    growth = {}
    for spec in (*FACE_SERIES, *PIXEL_SERIES):
        log(f"in-process: {spec.name}")
        growth[spec.name] = summarise(
            sequential(run_one, photos[spec.name], mode["growth_reps"], counter, mode["growth_warm_up"])
        )
    return {"reference_samples": samples, "growth": growth}


def inprocess_again(pipeline: Any, photos: dict[str, Photo], mode: dict[str, Any]) -> list[Sample]:
    """The reference runs once more at the end of the run: shows how much the machine's load drifted."""
    log("in-process: reference photo (after the baseline phase)")
    return sequential(
        inprocess_runner(pipeline), photos[REFERENCE.name], mode["inprocess_photos"], itertools.count(10_000)
    )


def stack_phase(
    run_dir: Path,
    model_base: Path,
    photos: dict[str, Photo],
    mode: dict[str, Any],
    run_inprocess: Any,
    raw_dir: Path,
) -> dict[str, Any]:
    """The full stack: in-process/stack pairs, concurrency runs, growth, result cache, then 2 processes per worker."""
    reference = photos[REFERENCE.name]
    counter = itertools.count(1_000_000)
    log("stack: starting (supervisord)")
    started = time.monotonic()
    with running_stack(run_dir, model_base) as bench_stack:
        log(f"stack: ready in {time.monotonic() - started:.0f} s at {bench_stack.gateway_url}")
        client = StackClient(bench_stack.gateway_url, THRESHOLD)

        def distinct(_client: int, _n: int) -> Sample:
            return client.analyse(unique_copy(reference.jpeg, next(counter)))

        log("pairs: in-process and stack (C = 1) in turn, same photo")
        distinct(0, 0)  # warm the workers
        local, served = [], []
        for _ in range(mode["inprocess_photos"]):
            local.append(run_inprocess(unique_copy(reference.jpeg, next(counter))))
            served.append(distinct(0, 0))
        pairs = {
            "photo": REFERENCE.name,
            "pairs": len(local),
            "inprocess": summarise(local),
            "stack": summarise(served),
            "median_difference_ms": round(
                statistics.median(b.latency_s - a.latency_s for a, b in zip(local, served, strict=True)) * 1000, 1
            ),
        }

        runs = []
        for clients in mode["clients"]:
            log(f"stack: C={clients}")
            runs.append(closed_loop(distinct, clients, mode["window_s"]).summary())
            log(f"stack: C={clients}: {runs[-1]['throughput_photos_per_s']} photos/s, p50 {runs[-1]['p50_ms']} ms")
        log("stack: py-spy samples of the gateway and workers at C = 1 (not part of the figures)")
        stack_profile = profile_stack(bench_stack, distinct, mode["profile_stack_s"], 200, raw_dir)
        growth = {}
        for spec in (*FACE_SERIES, *PIXEL_SERIES):
            log(f"stack: {spec.name}")
            growth[spec.name] = summarise(
                sequential(client.analyse, photos[spec.name], mode["growth_reps"], counter, mode["growth_warm_up"])
            )

        log("stack: result cache")
        repeated = unique_copy(reference.jpeg, next(counter))
        first = client.analyse(repeated)
        cached_flags: list[bool] = []

        def again(_client: int, _n: int) -> Sample:
            sample = client.analyse(repeated)
            cached_flags.append(bool(sample.info.get("cached")))
            return sample

        cache_run = closed_loop(again, 1, mode["cache_window_s"]).summary()
        cache = {
            "photo": REFERENCE.name,
            "first_submission_ms": round(first.latency_s * 1000, 1),
            "first_submission_cached": bool(first.info.get("cached")),
            "answered_from_cache": f"{sum(cached_flags)}/{len(cached_flags)}",
            **cache_run,
        }

        single = bench_stack.worker_processes()
        log("stack: adding a second process per worker type")
        bench_stack.add_workers()
        processes = bench_stack.worker_processes()
        log("stack x2: warming the new processes (models load on first use; not counted)")
        closed_loop(distinct, 6, 0.0, min_per_client=1)
        scaled_runs = []
        for clients in mode["scaled_clients"]:
            log(f"stack x2: C={clients}")
            scaled_runs.append(closed_loop(distinct, clients, mode["window_s"]).summary())
            row = scaled_runs[-1]
            log(f"stack x2: C={clients}: {row['throughput_photos_per_s']} photos/s, p50 {row['p50_ms']} ms")
        client.close()
    return {
        "profile_stack": stack_profile,
        "pairs": pairs,
        "inprocess_samples": local,
        "stack": {
            "photo": REFERENCE.name,
            "worker_processes": single,
            "runs": runs,
        },
        "stack_scaled": {"photo": REFERENCE.name, "worker_processes": processes, "runs": scaled_runs},
        "result_cache": cache,
        "growth": growth,
    }


def baseline_phase(run_dir: Path, photos: dict[str, Photo], mode: dict[str, Any]) -> dict[str, Any]:
    """The prototype-style app: the same concurrency runs and growth photos."""
    reference = photos[REFERENCE.name]
    counter = itertools.count(2_000_000)
    log("baseline: starting (uvicorn)")
    with running_baseline(run_dir) as url:
        client = BaselineClient(url)

        def distinct(_client: int, _n: int) -> Sample:
            return client.analyse(unique_copy(reference.jpeg, next(counter)))

        runs = []
        for clients in mode["clients"]:
            log(f"baseline: C={clients}")
            runs.append(closed_loop(distinct, clients, mode["window_s"]).summary())
            log(f"baseline: C={clients}: {runs[-1]['throughput_photos_per_s']} photos/s, p50 {runs[-1]['p50_ms']} ms")
        growth = {}
        for spec in (*FACE_SERIES, *PIXEL_SERIES):
            log(f"baseline: {spec.name}")
            growth[spec.name] = summarise(
                sequential(client.analyse, photos[spec.name], mode["growth_reps"], counter, mode["growth_warm_up"])
            )
    return {"baseline": {"photo": REFERENCE.name, "runs": runs}, "growth": growth}


def ratios(scenarios: dict[str, Any]) -> dict[str, Any]:
    """The three headline ratios (stack at saturation, one process per worker), and the same for the scaled stack."""
    inprocess = scenarios["inprocess"]
    stack = scenarios["stack"]
    baseline = scenarios["baseline"]
    c1 = next((r for r in stack["runs"] if r["clients"] == 1), None)
    pairs = scenarios["pairs"]
    # Both p50s from the pairs: the same photo through each, in turn, so background load hits both alike.
    overhead = (
        round(pairs["stack"]["p50_ms"] - pairs["inprocess"]["p50_ms"], 1)
        if pairs["stack"]["p50_ms"] is not None and pairs["inprocess"]["p50_ms"] is not None
        else None
    )
    out: dict[str, Any] = {
        "stack_vs_inprocess_throughput": _ratio(stack["throughput_photos_per_s"], inprocess["throughput_photos_per_s"]),
        "stack_vs_baseline_throughput": _ratio(stack["throughput_photos_per_s"], baseline["throughput_photos_per_s"]),
        "stack_overhead_p50_ms": overhead,
        "stack_scaled_vs_inprocess_throughput": _ratio(
            scenarios["stack_scaled"]["throughput_photos_per_s"], inprocess["throughput_photos_per_s"]
        ),
        "stack_scaled_vs_baseline_throughput": _ratio(
            scenarios["stack_scaled"]["throughput_photos_per_s"], baseline["throughput_photos_per_s"]
        ),
        "inprocess_vs_baseline_throughput": _ratio(
            inprocess["throughput_photos_per_s"], baseline["throughput_photos_per_s"]
        ),
    }
    # The same throughput ratios against the in-process loop measured alone (before the stack phase and
    # after the baseline phase): a slow paired run inflates every ratio above, these show it.
    alone = inprocess_alone_throughput(inprocess)
    if alone is not None:
        out["inprocess_alone_throughput"] = round(alone, 3)
        out["stack_vs_inprocess_alone_throughput"] = _ratio(stack["throughput_photos_per_s"], alone)
        out["stack_scaled_vs_inprocess_alone_throughput"] = _ratio(
            scenarios["stack_scaled"]["throughput_photos_per_s"], alone
        )
    out["stack_overhead_breakdown_ms"] = overhead_breakdown(pairs["inprocess"], pairs["stack"])
    out["stack_overhead_p50_ms_unpaired_c1_run"] = (
        round(c1["p50_ms"] - inprocess["p50_ms"], 1) if c1 and c1["p50_ms"] is not None else None
    )
    return out


def inprocess_alone_throughput(inprocess: dict[str, Any]) -> float | None:
    """Photos per second of the in-process loop run alone: 1000 / the mean of its two alone p50s (ms)."""
    p50s = [inprocess.get(k) for k in ("p50_ms_before_stack_phase", "p50_ms_after_baseline_phase")]
    p50s = [v for v in p50s if v]
    return 1000.0 / (sum(p50s) / len(p50s)) if p50s else None


def overhead_breakdown(inprocess: dict[str, Any], stack_c1: dict[str, Any] | None) -> dict[str, float] | None:
    """Where the stack's extra time at C = 1 goes: stack part (median) minus the same work in-process (median).

    The detector and annotator stages each decode the photo, so each is compared with decode + its step.
    Medians of parts do not add up exactly to the difference of the medians.
    """
    if not stack_c1 or "stages_median_ms" not in stack_c1 or "stages_median_ms" not in inprocess:
        return None
    stack, local = stack_c1["stages_median_ms"], inprocess["stages_median_ms"]
    decode = local.get("decode", 0.0)
    parts = {
        "submit (upload, S3 put, record)": stack.get("submit", 0.0),
        "queue waits (one hop per stage)": sum(stack.get(f"{name}_queue", 0.0) for name in STAGE_NAMES),
        "detect stage minus in-process decode+detect": stack.get("detect", 0.0) - decode - local.get("detect", 0.0),
        "classify stage minus in-process classify": stack.get("classify", 0.0) - local.get("classify", 0.0),
        "annotate stage minus in-process decode+annotate": stack.get("annotate", 0.0)
        - decode
        - local.get("annotate", 0.0),
        "finish (record to final)": stack.get("finish", 0.0),
    }
    return {name: round(value, 1) for name, value in parts.items()}


def pairing_consistent(inprocess: dict[str, Any], tolerance: float = 0.25) -> bool | None:
    """Whether the in-process p50 measured in turn with the stack is within ``tolerance`` of the p50 measured alone.

    When it is not, something slowed the in-process runs next to the stack (or the machine's load moved)
    and ``stack_overhead_p50_ms`` should not be trusted from this run.
    """
    paired, alone = inprocess.get("p50_ms"), inprocess.get("p50_ms_before_stack_phase")
    if not paired or not alone:
        return None
    return abs(paired - alone) <= tolerance * alone


def _ratio(a: float, b: float) -> float | None:
    return round(a / b, 3) if b else None


def targets(found: dict[str, Any]) -> dict[str, Any]:
    """Each target, the measured value and whether it was met (information only, never asserted)."""
    out = {}
    for name, (op, goal) in TARGETS.items():
        value = found.get(name)
        met = None if value is None else (value >= goal if op == ">=" else value <= goal)
        out[name] = {"target": f"{op} {goal}", "value": value, "met": met}
    return out


def growth_table(phases: dict[str, dict[str, Any]], photos: dict[str, Photo]) -> dict[str, Any]:
    """Per growth photo: its size and faces, and the p50 cost in each system."""
    table = {}
    for spec in (*FACE_SERIES, *PIXEL_SERIES):
        row: dict[str, Any] = {
            "width": spec.width,
            "height": spec.height,
            "megapixels": round(spec.megapixels, 2),
            "faces_pasted": photos[spec.name].faces_pasted,
            "face_px": spec.face_px,
        }
        for system, growth in phases.items():
            row[system] = growth[spec.name]
        table[spec.name] = row
    return table


def main(argv: list[str] | None = None) -> int:
    """Run every scenario and write the results JSON and plot."""
    args = parse_args(argv)
    mode_name = "quick" if args.quick else "full"
    mode = MODES[mode_name]
    began = time.time()
    load_before = report.background_load()
    log(f"mode {mode_name}; load average {load_before['load_average_1_5_15']}")
    run_dir = args.work_dir / time.strftime("%Y%m%d-%H%M%S")
    run_dir.mkdir(parents=True, exist_ok=True)

    log("building photos from the shared data")
    photos = build_photos(args.data, ALL_SPECS)
    model = bench_model(chosen=args.model)
    log(f"model: {model.description}")
    model_base = model_repository(model, run_dir / "models")

    from bench.inprocess import InProcessPipeline
    from services.contract.settings import Settings

    pipeline = InProcessPipeline(model.path, Settings())
    inprocess = inprocess_phase(pipeline, photos, mode)
    raw_dir = args.work_dir.parent / "py-spy-latest"
    stack = stack_phase(run_dir, model_base, photos, mode, inprocess_runner(pipeline), raw_dir)
    baseline = baseline_phase(run_dir, photos, mode)
    before = inprocess["reference_samples"]
    after = inprocess_again(pipeline, photos, mode)
    paired = stack["inprocess_samples"]

    scenarios: dict[str, Any] = {
        "inprocess": {
            "photo": REFERENCE.name,
            "measured": "in turn with the stack's C = 1 requests (see pairs); before/after: alone",
            **summarise(paired),
            "p50_ms_before_stack_phase": latency_stats([s.latency_s for s in before])["p50_ms"],
            "p50_ms_after_baseline_phase": latency_stats([s.latency_s for s in after])["p50_ms"],
        },
        "pairs": stack["pairs"],
        "stack": {**stack["stack"], **saturation(stack["stack"]["runs"])},
        "baseline": {**baseline["baseline"], **saturation(baseline["baseline"]["runs"])},
        "stack_scaled": {**stack["stack_scaled"], **saturation(stack["stack_scaled"]["runs"])},
        "result_cache": stack["result_cache"],
        "growth": growth_table(
            {"inprocess": inprocess["growth"], "stack": stack["growth"], "baseline": baseline["growth"]}, photos
        ),
    }
    found = ratios(scenarios)
    found["pairing_consistent"] = pairing_consistent(scenarios["inprocess"])
    log("profiling the in-process pipeline (reference photo)")
    profile = profile_pipeline(
        pipeline, photos[REFERENCE.name].jpeg, mode["profile_photos"], THRESHOLD, args.out.with_name(PROFILE_FILE)
    )
    command = "python -m bench.run" + ("".join(f" {a}" for a in (argv if argv is not None else sys.argv[1:])))
    results = {
        "generated_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "mode": mode_name,
        "command": command,
        "duration_s": None,
        "git_commit": report.git_commit(ROOT),
        "machine": report.machine(),
        "background": {"before": load_before, "after": report.background_load()},
        "model": {
            "path": str(model.path.relative_to(ROOT)) if model.path.is_relative_to(ROOT) else str(model.path),
            "description": model.description,
        },
        "settings": {
            "threshold": THRESHOLD,
            "reference_photo": {
                "name": REFERENCE.name,
                "width": REFERENCE.width,
                "height": REFERENCE.height,
                "faces": REFERENCE.faces,
                "face_px": REFERENCE.face_px,
            },
            **mode,
            "stack_changes_from_defaults": {"FAKEWEB_RATE_LIMIT_PER_S": "0 (closed-loop clients poll)"},
            "latency": "stack: upload sent -> job record's final updated_at; observed_*: when the polling client "
            "saw it; baseline: the whole request; in-process: the whole pipeline call",
        },
        "ratios": found,
        "targets": targets(found),
        "scenarios": scenarios,
        "profile_inprocess": profile,
        "profile_stack": stack["profile_stack"],
    }
    results["duration_s"] = round(time.time() - began, 1)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    tmp = args.out.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(results, indent=2) + "\n")
    tmp.replace(args.out)
    plot_path = report.plot(results, args.out.with_suffix(".png"))
    log(f"wrote {args.out} and {plot_path} in {results['duration_s']:.0f} s")
    print(json.dumps({"ratios": found, "targets": results["targets"]}, indent=2))
    if not args.keep:
        shutil.rmtree(run_dir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
