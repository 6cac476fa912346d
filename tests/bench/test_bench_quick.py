"""`python -m bench.run --quick` runs every scenario against real servers and writes every field.

Speed is never asserted: only that the results file is complete and consistent.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bench.servers import PIPELINE_WORKERS

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
RUN_FIELDS = ("clients", "requests", "failed", "window_s", "throughput_photos_per_s", "p50_ms", "p95_ms")
HEADLINE = ("throughput_photos_per_s", "p50_ms", "p95_ms")
RATIOS = ("stack_vs_inprocess_throughput", "stack_vs_baseline_throughput", "stack_overhead_p50_ms")
GROWTH = ("faces1_2mp", "faces5_2mp", "faces20_2mp", "px0.5mp_face1", "px2mp_face1", "px12mp_face1")
STACK_STAGES = (
    "submit",
    "provenance_queue",
    "provenance",
    "detect_queue",
    "detect",
    "classify_queue",
    "classify",
    "annotate_queue",
    "annotate",
)


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory, shared_data: Path) -> dict:
    out = tmp_path_factory.mktemp("bench") / "latest.json"
    argv = [sys.executable, "-m", "bench.run", "--quick", "--out", str(out), "--data", str(shared_data)]
    argv += ["--work-dir", str(out.parent / "runs")]
    done = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=1500, check=False)
    assert done.returncode == 0, done.stderr[-4000:]
    assert out.with_suffix(".png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    return json.loads(out.read_text())


def test_every_scenario_has_throughput_and_latency(results):
    scenarios = results["scenarios"]
    for name in ("inprocess", "stack", "baseline", "stack_scaled", "result_cache"):
        for field in HEADLINE:
            assert isinstance(scenarios[name][field], float), (name, field)
    for name in ("stack", "baseline"):
        assert [run["clients"] for run in scenarios[name]["runs"]] == [1, 2]
    for name in ("stack", "baseline", "stack_scaled"):
        for run in scenarios[name]["runs"]:
            assert set(RUN_FIELDS) <= set(run), (name, run)
            assert run["failed"] == 0, run


def test_stack_runs_carry_the_stage_split_from_the_job_records(results):
    for run in results["scenarios"]["stack"]["runs"]:
        assert set(STACK_STAGES) <= set(run["stages_median_ms"])


def test_overhead_comes_from_pairs_of_the_same_photo(results):
    pairs = results["scenarios"]["pairs"]
    assert pairs["pairs"] == 2
    assert pairs["inprocess"]["failed"] == pairs["stack"]["failed"] == 0
    expected = round(pairs["stack"]["p50_ms"] - pairs["inprocess"]["p50_ms"], 1)
    assert results["ratios"]["stack_overhead_p50_ms"] == pytest.approx(expected, abs=0.11)
    assert results["scenarios"]["inprocess"]["p50_ms"] == pairs["inprocess"]["p50_ms"]
    assert results["ratios"]["pairing_consistent"] in (True, False)


def test_scaling_and_cache_scenarios_did_what_they_say(results):
    scenarios = results["scenarios"]
    assert scenarios["stack"]["worker_processes"] == dict.fromkeys(PIPELINE_WORKERS, 1)
    assert scenarios["stack_scaled"]["worker_processes"] == dict.fromkeys(PIPELINE_WORKERS, 2)
    assert {"detector", "classifier", "annotator"} <= set(PIPELINE_WORKERS)
    cache = scenarios["result_cache"]
    assert cache["first_submission_cached"] is False
    answered, total = map(int, cache["answered_from_cache"].split("/"))
    assert answered == total > 0


def test_both_profiles_are_recorded(results):
    assert results["profile_inprocess"]["share_of_time"]
    assert results["profile_inprocess"]["photos"] == 1
    processes = results["profile_stack"]["processes"]
    assert set(processes) == {"gateway", "detector", "classifier", "annotator"}
    for summary in processes.values():  # py-spy may lack ptrace permission; then it says why
        assert summary.get("busy_samples", 0) > 0 or summary["error"]


def test_growth_covers_faces_and_pixels_in_all_three_systems(results):
    growth = results["scenarios"]["growth"]
    assert set(growth) == set(GROWTH)
    for name, row in growth.items():
        for system in ("inprocess", "stack", "baseline"):
            for field in HEADLINE:
                assert isinstance(row[system][field], float), (name, system, field)
    assert growth["faces20_2mp"]["faces_pasted"] == 20
    assert growth["faces20_2mp"]["stack"]["faces_found"] == growth["faces20_2mp"]["inprocess"]["faces_found"]


def test_ratios_targets_machine_and_command_are_recorded(results):
    for name in RATIOS:
        assert isinstance(results["ratios"][name], float), name
        assert results["targets"][name]["met"] in (True, False)
    machine = results["machine"]
    assert machine["cores"] >= 1 and machine["cpu_model"] and machine["python"].startswith("3.11")
    assert machine["versions"]["tensorflow"] and machine["versions"]["mediapipe"]
    assert results["command"].startswith("python -m bench.run --quick")
    assert "load_average_1_5_15" in results["background"]["before"]
    assert results["model"]["description"]
    assert results["mode"] == "quick"
