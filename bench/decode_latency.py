"""Decode cost per photo size, with glibc's default allocator and with freed memory kept for reuse.

Each allocator setting runs in its own process (``mallopt`` cannot be undone): ``decode_rgb`` as the
workers call it, and ``check_pixels`` as the gateway calls it, on a press photo re-encoded at
0.5, 1, 2 and 12 MP (JPEG quality 90).

Usage: .venv/bin/python -m bench.decode_latency [--runs N]
Prints the numbers and writes bench/results/decode_latency.json.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable

import numpy as np
from PIL import Image

from bench.detector_recall import REPO, data_dir
from services.contract.imaging import check_pixels, decode_rgb
from services.runtime.memory import keep_freed_memory

MEGAPIXELS = (0.5, 1.0, 2.0, 12.0)
ALLOCATORS = ("default", "kept")
LIMITS = (50_000_000, 12_000)


def photo(base: Image.Image, megapixels: float) -> bytes:
    """``base`` scaled to about ``megapixels`` and encoded as a quality-90 JPEG."""
    scale = (megapixels * 1e6 / (base.width * base.height)) ** 0.5
    buf = io.BytesIO()
    base.resize((round(base.width * scale), round(base.height * scale))).save(buf, format="JPEG", quality=90)
    return buf.getvalue()


def median_ms(decode: Callable[[bytes, int, int], object], data: bytes, runs: int) -> float:
    """Median wall time of ``decode(data, *LIMITS)`` in ms, after one warm-up call."""
    decode(data, *LIMITS)
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        decode(data, *LIMITS)
        times.append(time.perf_counter() - start)
    return round(1000 * float(np.median(times)), 2)


def measure(allocator: str, runs: int, source: str) -> dict[str, dict[str, float]]:
    """Decode and check timings in this process with ``allocator`` (run once per process)."""
    if allocator == "kept":
        keep_freed_memory(128)
    with Image.open(data_dir() / source) as img:
        base = img.convert("RGB")
    rows = {}
    for mp in MEGAPIXELS:
        data = photo(base, mp)
        rows[str(mp)] = {
            "decode_rgb_ms": median_ms(decode_rgb, data, runs),
            "check_pixels_ms": median_ms(check_pixels, data, runs),
        }
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--photo", default="wild_press_photos/real/img21.jpg")
    parser.add_argument("--allocator", choices=ALLOCATORS, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.allocator:  # child: one allocator setting, JSON on stdout
        print(json.dumps(measure(args.allocator, args.runs, args.photo)))
        return
    report: dict[str, object] = {"photo": args.photo, "runs": args.runs, "by_allocator": {}}
    for allocator in ALLOCATORS:
        child = [sys.executable, "-m", "bench.decode_latency", "--runs", str(args.runs), "--photo", args.photo]
        out = subprocess.run([*child, "--allocator", allocator], cwd=REPO, check=True, capture_output=True, text=True)
        rows = json.loads(out.stdout.strip().splitlines()[-1])
        report["by_allocator"][allocator] = rows
        for mp, row in rows.items():
            print(
                f"{allocator:>7} allocator, {mp:>4} MP: decode_rgb {row['decode_rgb_ms']} ms, "
                f"check_pixels {row['check_pixels_ms']} ms",
                flush=True,
            )
    report["load_average"] = os.getloadavg()
    (REPO / "bench" / "results" / "decode_latency.json").write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
