"""Run one call in a forked child with a deadline and a memory ceiling, so a hostile file cannot hurt the worker.

The child inherits the parent's memory (no import or start-up cost), lowers its own address-space
limit, runs the call and writes the pickled answer to a pipe. A child that overruns the deadline is
killed; one that runs out of memory, crashes or raises reports why, and the worker carries on.
"""

from __future__ import annotations

import os
import pickle
import resource
import selectors
import signal
import time
from collections.abc import Callable
from typing import Any

PAGE = os.sysconf("SC_PAGE_SIZE")
_EXIT_RAISED = 3


class ChildFailed(Exception):
    """The call did not answer: ``reason`` is ``timeout``, ``out_of_memory``, ``crashed`` or ``raised``."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


def _address_space_now() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[0]) * PAGE


def call_bounded(fn: Callable[..., Any], *args: Any, timeout_s: float, memory_bytes: int) -> Any:
    """``fn(*args)`` in a forked child: its answer, or ChildFailed. ``memory_bytes`` is what it may add."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns
        code = 0
        try:
            os.close(read_end)
            ceiling = _address_space_now() + memory_bytes
            resource.setrlimit(resource.RLIMIT_AS, (ceiling, ceiling))
            try:
                payload = pickle.dumps(("ok", fn(*args)))
            except MemoryError:
                payload = pickle.dumps(("out_of_memory", "the call needed more memory than allowed"))
            except Exception as exc:  # noqa: BLE001 - reported to the parent, which decides
                payload = pickle.dumps(("raised", f"{type(exc).__name__}: {str(exc)[:300]}"))
            with os.fdopen(write_end, "wb") as out:
                out.write(payload)
        except BaseException:  # noqa: BLE001 - a child must never fall back into the worker's code
            code = _EXIT_RAISED
        finally:
            os._exit(code)
    os.close(write_end)
    try:
        payload = _read_until(read_end, time.monotonic() + timeout_s)
    finally:
        os.close(read_end)
    if payload is None:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        raise ChildFailed("timeout", f"no answer within {timeout_s:g} s")
    _, status = os.waitpid(pid, 0)
    if not payload:
        if os.WIFSIGNALED(status):
            raise ChildFailed("crashed", f"killed by signal {os.WTERMSIG(status)}")
        raise ChildFailed("crashed", f"exited with status {os.waitstatus_to_exitcode(status)}")
    outcome, value = pickle.loads(payload)  # noqa: S301 - written by our own child
    if outcome != "ok":
        raise ChildFailed(outcome, value)
    return value


def _read_until(fd: int, deadline: float) -> bytes | None:
    """Everything the child writes until it closes the pipe; None at the deadline."""
    chunks: list[bytes] = []
    with selectors.DefaultSelector() as selector:
        selector.register(fd, selectors.EVENT_READ)
        while True:
            left = deadline - time.monotonic()
            if left <= 0 or not selector.select(left):
                return None
            chunk = os.read(fd, 1 << 16)
            if not chunk:
                return b"".join(chunks)
            chunks.append(chunk)
