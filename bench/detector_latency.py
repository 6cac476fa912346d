"""Detector latency per photo size (0.5, 2, 12, 24 MP), on a real press photo scaled up.

Usage: .venv/bin/python -m bench.detector_latency [--runs N] [--engine blazeface|haar]
Also times one full-range model call on a 192 px tile through MediaPipe's graph and through LiteRT
(``services/detector/full_range.py``, what the tile pyramid uses). Prints the numbers and writes
bench/results/detector_latency[_haar].json. The machine is shared: compare runs made at the same
time, and read the load average stored with the result.
"""

from __future__ import annotations

import argparse
import json
import os
import time

import cv2
import numpy as np

from bench.detector_recall import REPO, data_dir
from services.contract.imaging import decode_rgb
from services.contract.settings import get_settings
from services.detector import blazeface, full_range
from services.detector.engine import detect_faces

SIZES_MP = (0.5, 2, 12, 24)


def photo_of(megapixels: float, base: np.ndarray) -> np.ndarray:
    """The base photo resized (aspect kept) to about ``megapixels`` million pixels."""
    height, width = base.shape[:2]
    scale = (megapixels * 1e6 / (width * height)) ** 0.5
    size = (round(width * scale), round(height * scale))
    return cv2.resize(base, size, interpolation=cv2.INTER_CUBIC if scale > 1 else cv2.INTER_AREA)


def full_range_call_ms(tile: np.ndarray, calls: int = 100) -> dict[str, float]:
    """Median ms of one full-range BlazeFace call on ``tile``: MediaPipe's graph vs LiteRT directly."""
    import mediapipe as mp

    timings: dict[str, float] = {}
    with mp.solutions.face_detection.FaceDetection(model_selection=1) as graph:
        runners = {"mediapipe": graph.process, "litert": full_range.detect}
        for name, run in runners.items():
            run(tile)
            seconds = []
            for _ in range(calls):
                start = time.perf_counter()
                run(tile)
                seconds.append(time.perf_counter() - start)
            timings[name] = round(1000 * float(np.median(seconds)), 2)
    return timings


def tile_count(image: np.ndarray, tile_px: int) -> int:
    """Full-range tiles of the pyramid below the whole photo."""
    height, width = image.shape[:2]
    tile_px = tile_px or max(blazeface.MODEL_INPUT, round(get_settings().min_face_px / blazeface.SMALLEST_SHARE))
    return sum(len(blazeface.level_tiles(image, side)) for side in blazeface.pyramid_tiles(width, height, tile_px))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--engine", default="blazeface")
    parser.add_argument("--photo", default="wild_press_photos/real/img38.jpg")
    parser.add_argument("--tile-px", type=int, default=0, help="smallest tile side (0: from min_face_px)")
    parser.add_argument("--mp", type=float, nargs="*", default=list(SIZES_MP))
    parser.add_argument("--out", default="", help="file name under bench/results (default from engine and tile)")
    args = parser.parse_args()

    base = decode_rgb((data_dir() / args.photo).read_bytes(), 50_000_000, 12_000)
    detect_faces(base, engine=args.engine)  # load the models
    report: dict[str, object] = {
        "engine": args.engine,
        "photo": args.photo,
        "runs": args.runs,
        "tile_px": args.tile_px,
        "detector_threads": get_settings().detector_threads,
        "by_mp": {},
    }
    if args.engine == "blazeface":
        tile = np.ascontiguousarray(photo_of(0.5, base)[:192, :192])
        report["full_range_call_ms"] = full_range_call_ms(tile)
        print(f"one full-range call on a 192 px tile, median ms: {report['full_range_call_ms']}", flush=True)
    for mp in args.mp:
        image = photo_of(mp, base)
        seconds = []
        for _ in range(args.runs):
            start = time.perf_counter()
            faces = detect_faces(image, engine=args.engine, tile_px=args.tile_px)
            seconds.append(time.perf_counter() - start)
        row = {
            "width": image.shape[1],
            "height": image.shape[0],
            "faces": len(faces),
            "tiles": tile_count(image, args.tile_px) if args.engine == "blazeface" else 0,
            "median_s": round(float(np.median(seconds)), 3),
            "min_s": round(min(seconds), 3),
        }
        report["by_mp"][str(mp)] = row
        print(
            f"{mp:>4} MP {image.shape[1]}x{image.shape[0]}: median {row['median_s']} s, min {row['min_s']} s, "
            f"{len(faces)} faces, {row['tiles']} tiles",
            flush=True,
        )
    report["load_average"] = os.getloadavg()
    name = "detector_latency" + ("" if args.engine == "blazeface" else f"_{args.engine}")
    name += f"_tile{args.tile_px}.json" if args.tile_px else ".json"
    name = args.out or name
    (REPO / "bench" / "results" / name).write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
