"""Markdown tables of a `make bench` results file, for the README.

Usage: .venv/bin/python -m bench.table [bench/results/latest.json]
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def _num(value: Any, digits: int = 2) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:.{digits}f}" if abs(value) < 100 else f"{value:.0f}"
    return str(value)


def tables(results: dict[str, Any]) -> str:
    """Headline ratios, concurrency, growth and scale tables as Markdown."""
    s = results["scenarios"]
    m = results["machine"]
    lines = [
        f"Measured {results['generated_at']} with `{results['command']}` ({results['mode']} mode, "
        f"{results['duration_s']:.0f} s) on {m['cores']} cores ({m['cpu_model']}), {m['memory_gb']} GB, "
        f"Python {m['python']}, TensorFlow {m['versions']['tensorflow']}, MediaPipe {m['versions']['mediapipe']}. "
        f"Load average before/after: {results['background']['before']['load_average_1_5_15']} / "
        f"{results['background']['after']['load_average_1_5_15']}. Model: {results['model']['description']}.",
        "",
        "| ratio | measured | target | met |",
        "|---|---|---|---|",
    ]
    for name, row in results["targets"].items():
        met = {True: "yes", False: "**no**", None: "n/a"}[row["met"]]
        lines.append(f"| `{name}` | {_num(row['value'])} | {row['target']} | {met} |")
    lines += ["", "| system | clients | photos/s | p50 ms | p95 ms |", "|---|---|---|---|---|"]
    inproc = s["inprocess"]
    lines.append(
        f"| in-process bound (one photo after another) | 1 | {_num(inproc['throughput_photos_per_s'])} | "
        f"{_num(inproc['p50_ms'])} | {_num(inproc['p95_ms'])} |"
    )
    for key, label in (
        ("stack", "FakeWeb stack, 1 process per worker"),
        ("stack_scaled", "FakeWeb stack, 2 processes per worker"),
        ("baseline", "prototype-style baseline"),
    ):
        for run in s[key]["runs"]:
            lines.append(
                f"| {label} | {run['clients']} | {_num(run['throughput_photos_per_s'])} | {_num(run['p50_ms'])} | "
                f"{_num(run['p95_ms'])} |"
            )
    cache = s["result_cache"]
    lines.append(
        f"| FakeWeb stack, same photo again (result cache, {cache['answered_from_cache']} hits) | 1 | "
        f"{_num(cache['throughput_photos_per_s'])} | {_num(cache['p50_ms'])} | {_num(cache['p95_ms'])} |"
    )
    pairs = s["pairs"]
    lines += [
        "",
        f"Overhead: {pairs['pairs']} pairs of the same photo, in-process then stack (C = 1), in turn: "
        f"p50 {_num(pairs['inprocess']['p50_ms'])} ms vs {_num(pairs['stack']['p50_ms'])} ms "
        f"(median per-pair difference {_num(pairs['median_difference_ms'])} ms). In-process p50 alone before the "
        f"stack phase {_num(inproc['p50_ms_before_stack_phase'])} ms, after the baseline phase "
        f"{_num(inproc['p50_ms_after_baseline_phase'])} ms (background drift).",
    ]
    if results["ratios"].get("pairing_consistent") is False:
        lines += [
            "",
            "**Warning:** the paired in-process p50 differs from the alone p50 by more than 25%; "
            "do not trust `stack_overhead_p50_ms` from this run.",
        ]
    stages = pairs["stack"].get("stages_median_ms", {})
    if stages:
        parts = ", ".join(f"{name} {value:.0f}" for name, value in stages.items())
        lines += ["", f"Stack at C = 1, median ms per part of a job (from the job records): {parts}."]
    breakdown = results["ratios"].get("stack_overhead_breakdown_ms")
    if breakdown:
        parts = ", ".join(f"{name} {value:+.0f}" for name, value in breakdown.items())
        lines += ["", f"Stack minus in-process, per part (ms): {parts}."]
    lines += [
        "",
        "| photo | MP | faces (FakeWeb / baseline) | in-process p50 ms | stack p50 ms (C = 1) | baseline p50 ms |",
        "|---|---|---|---|---|---|",
    ]
    for name, row in s["growth"].items():
        found = "/".join(
            ",".join(map(str, row[system].get("faces_found", []))) or "0" for system in ("stack", "baseline")
        )
        lines.append(
            f"| {name} | {row['megapixels']} | {found} | {_num(row['inprocess']['p50_ms'])} | "
            f"{_num(row['stack']['p50_ms'])} | {_num(row['baseline']['p50_ms'])} |"
        )
    profile = results.get("profile_inprocess")
    if profile and "share_of_time" in profile:
        top = list(profile["share_of_time"].items())[:4]
        parts = ", ".join(f"{name} {share:.0%}" for name, share in top)
        lines += ["", f"Profile of the in-process pipeline ({profile['tool']}, {profile['photos']} photos): {parts}."]
    stack_profile = results.get("profile_stack")
    if stack_profile and stack_profile.get("processes"):
        lines += ["", f"Stack profile ({stack_profile['tool']}), share of each process's busy samples:", ""]
        for name, summary in stack_profile["processes"].items():
            if "error" in summary:
                lines.append(f"- {name}: no samples ({summary['error'].strip()[:120]})")
                continue
            # The task function itself holds nearly every sample; show what is inside it.
            top = [(fn, share) for fn, share in summary["top_fakeweb_functions"].items() if share < 0.85][:6]
            parts = ", ".join(f"`{fn.split(' (')[0]}` {share:.0%}" for fn, share in top)
            lines.append(f"- {name}: outside FakeWeb code {summary['outside_fakeweb_code']:.0%}; {parts}")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Print the tables of a results file."""
    args = sys.argv[1:] if argv is None else argv
    path = Path(args[0]) if args else ROOT / "bench" / "results" / "latest.json"
    print(tables(json.loads(path.read_text())), end="")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
