"""Running the ``fakeweb`` command against the real local stack."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from services.contract.settings import DEV_API_KEYS

ROOT = Path(__file__).resolve().parents[2]


def stack_api_key(settings: object) -> str:
    """The first API key the stack's gateway accepts (the dev key unless the settings name others)."""
    configured = getattr(settings, "api_keys", None) or DEV_API_KEYS
    return configured.split(",")[0].split(":", 1)[1].strip()


@dataclass
class Cli:
    """Runs ``python -m fakeweb_cli ...`` (the console script's code) with the stack's server and key."""

    env: dict[str, str]

    def __call__(self, *args: str | Path, cwd: Path | None = None, timeout: float = 180) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "fakeweb_cli", *map(str, args)],
            cwd=cwd or ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )


@pytest.fixture(scope="session")
def cli(local_stack) -> Cli:
    """The CLI pointed at the local stack through FAKEWEB_SERVER and FAKEWEB_API_KEY."""
    env = {name: value for name, value in os.environ.items() if not name.startswith("FAKEWEB_")}
    env.update(
        FAKEWEB_SERVER=local_stack.gateway_url,
        FAKEWEB_API_KEY=stack_api_key(local_stack.settings),
        PYTHONPATH=str(ROOT),
        COLUMNS="120",
    )
    return Cli(env=env)
