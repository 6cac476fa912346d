"""HeldModel: made once per process even when threads race for it, warmed up, called, described."""

from __future__ import annotations

import threading
import time

import pytest

from services.contract.held_model import HeldModel, warm_up_all


class Doubler(HeldModel[dict]):
    def __init__(self) -> None:
        super().__init__("doubler")
        self.made = 0
        self.calls: list[object] = []
        self.in_call = 0
        self.overlapped = False

    def _load(self) -> dict:
        self.made += 1
        time.sleep(0.05)  # long enough for racing threads to arrive meanwhile
        self.version = "v1, doubler.bin"
        return {"factor": 2}

    def _warm_up(self, model: dict) -> None:
        self.calls.append("warm-up")

    def _predict(self, model: dict, value: int) -> int:
        self.in_call += 1
        self.overlapped |= self.in_call > 1
        time.sleep(0.001)
        self.in_call -= 1
        self.calls.append(value)
        return value * model["factor"]


class Resource(HeldModel[object]):
    def _load(self) -> object:
        return object()


def test_nothing_is_made_until_first_use_and_describe_says_so():
    model = Doubler()
    assert not model.loaded and model.made == 0
    assert model.describe() == {"name": "doubler", "version": "", "loaded": False, "load_seconds": None}


def test_racing_threads_make_the_model_once_and_never_call_it_at_the_same_time():
    model = Doubler()
    results: list[int] = []
    threads = [threading.Thread(target=lambda v=v: results.append(model.predict(v))) for v in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert model.made == 1
    assert sorted(results) == [2 * v for v in range(16)]
    assert not model.overlapped
    described = model.describe()
    assert described["loaded"] and described["version"] == "v1, doubler.bin"
    assert described["load_seconds"] >= 0.05


def test_warm_up_loads_once_and_makes_one_throw_away_call():
    first, second = Doubler(), Doubler()
    warm_up_all([first, second])
    assert [m.made for m in (first, second)] == [1, 1]
    assert first.calls == ["warm-up"]
    assert first.load() is first.load()
    assert first.made == 1


def test_a_resource_is_loaded_not_called():
    resource = Resource("clients")
    assert resource.load() is resource.load()
    resource.warm_up()  # no warm-up by default
    with pytest.raises(NotImplementedError, match="clients is not called"):
        resource.predict()
