"""Detection time with the tiles one model call each against batched, and with 1 or 2 threads, side by side.

Usage: .venv/bin/python -m bench.detector_batching [--rounds N] [--mp 1 12 24]
One process, the configurations interleaved round by round on the same photos (the benchmark's
1 MP reference photo, and 12 / 24 MP collages with one face), so background load falls on all
alike; the process's CPU time is recorded beside wall time. The detector's defaults are "per tile"
on one thread and "batches of 4" on more (``full_range.TILES_PER_CALL``).
Also checks that every configuration finds the same faces. Writes bench/results/detector_batching.json.
"""

from __future__ import annotations

import argparse
import json
import os
import time

import numpy as np

from bench.collage import load_sources, make_collage
from bench.detector_recall import REPO, data_dir
from bench.workload import REFERENCE
from services.detector import full_range
from services.detector.engine import detect_faces

# name: (tiles per model call, threads per call)
CONFIGS = {"per tile, 1 thread": (1, 1), "batches of 4, 1 thread": (4, 1), "batches of 16, 1 thread": (16, 1)}
CONFIGS_2 = {"per tile, 2 threads": (1, 2), "batches of 4, 2 threads": (4, 2)}
CANVASES = {1: (REFERENCE.width, REFERENCE.height, REFERENCE.face_px), 12: (4000, 3000, 160), 24: (6000, 4000, 160)}


def _ms(by_mp: dict[int, list[float]], statistic) -> dict[int, float]:
    return {mp: round(1000 * float(statistic(v)), 1) for mp, v in by_mp.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--mp", type=int, nargs="*", default=sorted(CANVASES))
    parser.add_argument("--no-threads", action="store_true", help="skip the 2-thread configurations")
    parser.add_argument("--only", nargs="*", default=[], help="run only these configurations (names as printed)")
    parser.add_argument("--out", default="detector_batching.json", help="file name under bench/results")
    args = parser.parse_args()

    configs = dict(CONFIGS) if args.no_threads else {**CONFIGS, **CONFIGS_2}
    configs = {name: config for name, config in configs.items() if not args.only or name in args.only}
    sources = load_sources(data_dir(), count=8, seed=10)
    models = {threads: full_range.LiteRtFullRange(threads) for _, threads in configs.values()}
    for model in models.values():
        model.warm_up()
    images = {}
    for mp in args.mp:
        width, height, face_px = CANVASES[mp]
        images[mp] = make_collage(sources, width, height, [face_px], np.random.default_rng([10, mp])).image
    seconds: dict[str, dict[int, list[float]]] = {name: {mp: [] for mp in images} for name in configs}
    cpu_seconds: dict[str, dict[int, list[float]]] = {name: {mp: [] for mp in images} for name in configs}
    faces: dict[str, dict[int, list]] = {name: {} for name in configs}
    for round_index in range(args.rounds + 1):  # round 0 warms up every configuration
        for name, (batch, threads) in configs.items():
            full_range.MODEL, full_range.MAX_BATCH = models[threads], batch
            for mp, image in images.items():
                start, cpu_start = time.perf_counter(), time.process_time()
                found = detect_faces(image)
                if round_index:
                    seconds[name][mp].append(time.perf_counter() - start)
                    cpu_seconds[name][mp].append(time.process_time() - cpu_start)
                faces[name][mp] = [(f.box, f.score) for f in found]
        print(f"round {round_index} done, load average {os.getloadavg()[0]:.1f}", flush=True)
    first = next(iter(configs))
    report = {
        "photos": {mp: f"{CANVASES[mp][0]}x{CANVASES[mp][1]}, one {CANVASES[mp][2]} px face" for mp in images},
        "rounds": args.rounds,
        "median_ms": {name: _ms(by_mp, np.median) for name, by_mp in seconds.items()},
        "min_ms": {name: _ms(by_mp, np.min) for name, by_mp in seconds.items()},
        # CPU time of the process (all its threads): the work, less exposed than wall time to other processes.
        "median_cpu_ms": {name: _ms(by_mp, np.median) for name, by_mp in cpu_seconds.items()},
        "same_faces": all(faces[name] == faces[first] for name in configs),
        "load_average": os.getloadavg(),
        "cpus": len(os.sched_getaffinity(0)),
    }
    for name in configs:
        cells = ", ".join(
            f"{mp} MP {report['median_ms'][name][mp]:.0f} ms (CPU {report['median_cpu_ms'][name][mp]:.0f} ms)"
            for mp in images
        )
        print(f"{name:>20}: {cells}")
    print(f"same faces in every configuration: {report['same_faces']}")
    (REPO / "bench" / "results" / args.out).write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
