"""The benchmark's own parts: byte-distinct photo copies, the closed-loop driver, stage split, targets."""

from __future__ import annotations

import threading

import numpy as np

from bench.clients import stage_split
from bench.load import Sample, closed_loop
from bench.run import inprocess_alone_throughput, targets
from bench.workload import unique_copy
from services.contract.imaging import decode_rgb, encode_jpeg


def test_unique_copies_differ_in_bytes_but_not_in_pixels():
    rng = np.random.default_rng(0)
    jpeg = encode_jpeg(rng.integers(0, 256, (64, 80, 3), dtype=np.uint8), 90)
    first, second = unique_copy(jpeg, 1), unique_copy(jpeg, 2)
    assert len({jpeg, first, second}) == 3
    original = decode_rgb(jpeg, 10_000, 1_000)
    assert np.array_equal(decode_rgb(first, 10_000, 1_000), original)
    assert np.array_equal(decode_rgb(second, 10_000, 1_000), original)


def test_closed_loop_counts_only_the_window_and_keeps_every_client_busy():
    calls: dict[int, int] = {}
    lock = threading.Lock()

    def request(client: int, counter: int) -> Sample:
        with lock:
            calls[client] = calls.get(client, 0) + 1
        return Sample(latency_s=0.001, ok=counter % 2 == 0, info={"error": "odd"})

    result = closed_loop(request, clients=3, window_s=0.0, min_per_client=4)
    assert sorted(calls) == [0, 1, 2]
    assert all(n == 5 for n in calls.values())  # one warm-up each, then min_per_client
    assert len(result.samples) == 12
    summary = result.summary()
    assert summary["requests"] == 12
    assert summary["failed"] == 6  # counters 1 and 3 of each client (the warm-up was counter 0)
    assert summary["errors"] == ["odd"]


def test_closed_loop_reports_a_failed_warm_up():
    def request(client: int, counter: int) -> Sample:
        raise ConnectionError("refused")

    try:
        closed_loop(request, clients=2, window_s=0.0)
    except RuntimeError as exc:
        assert "refused" in str(exc)
    else:
        raise AssertionError("a failed warm-up must stop the run")


def test_stage_split_accounts_for_the_whole_latency():
    doc = {
        "created_at": 100.02,
        "updated_at": 100.90,
        "timings": {
            "detect": {"started_at": 100.03, "finished_at": 100.40},
            "classify": {"started_at": 100.45, "finished_at": 100.50},
            "annotate": {"started_at": 100.51, "finished_at": 100.89},
        },
    }
    split = stage_split(doc, sent_wall=100.0)
    assert list(split) == [
        "submit",
        "detect_queue",
        "detect",
        "classify_queue",
        "classify",
        "annotate_queue",
        "annotate",
        "finish",
    ]
    assert abs(split["detect"] - 0.37) < 1e-9
    assert abs(split["classify_queue"] - 0.05) < 1e-9
    assert abs(sum(split.values()) - 0.90) < 1e-9


def test_targets_say_which_are_met():
    found = {"stack_vs_inprocess_throughput": 0.9, "stack_vs_baseline_throughput": 2.0, "stack_overhead_p50_ms": None}
    result = targets(found)
    assert result["stack_vs_inprocess_throughput"]["met"] is True
    assert result["stack_vs_baseline_throughput"]["met"] is False
    assert result["stack_overhead_p50_ms"]["met"] is None


def test_alone_throughput_is_the_mean_of_the_two_alone_p50s():
    assert inprocess_alone_throughput({"p50_ms_before_stack_phase": 400.0, "p50_ms_after_baseline_phase": 600.0}) == 2.0
    assert inprocess_alone_throughput({"p50_ms_before_stack_phase": 250.0}) == 4.0
    assert inprocess_alone_throughput({"p50_ms": 300.0}) is None
