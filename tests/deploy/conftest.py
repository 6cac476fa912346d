"""Shared fixtures for the deployment checks: parsed compose file, rendered k8s overlays, tools."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.deploy.code_scan import REPO

OVERLAYS = ("dev", "production")


def tool(name: str) -> Path:
    """A command-line tool installed into this venv by requirements (kubectl, hadolint, ...)."""
    path = Path(sys.executable).parent / name
    if not path.exists():
        pytest.fail(f"{name} is missing from {path.parent}: install the pinned requirements (requirements.in)")
    return path


def load_compose() -> dict:
    return yaml.safe_load((REPO / "docker-compose.yml").read_text(encoding="utf-8"))


def render_overlay(overlay: str) -> list[dict]:
    """`kubectl kustomize deploy/k8s/overlays/<overlay>`: the manifests a cluster would get."""
    done = subprocess.run(
        [str(tool("kubectl")), "kustomize", str(REPO / "deploy" / "k8s" / "overlays" / overlay)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return [doc for doc in yaml.safe_load_all(done.stdout) if doc]


@pytest.fixture(scope="session")
def compose() -> dict:
    return load_compose()


@pytest.fixture(scope="session")
def rendered() -> dict[str, list[dict]]:
    return {overlay: render_overlay(overlay) for overlay in OVERLAYS}


HASH_SUFFIX_LENGTH = 10  # kustomize's content hash on generated ConfigMaps and Secrets


def find(resources: list[dict], kind: str, name: str | None = None) -> list[dict]:
    """Resources of a kind (and name, ignoring kustomize's hash suffix on generated ones)."""
    out = []
    for res in resources:
        if res.get("kind") != kind:
            continue
        res_name = res["metadata"]["name"]
        stem, _, suffix = res_name.rpartition("-")
        if name is None or res_name == name or (stem == name and len(suffix) == HASH_SUFFIX_LENGTH):
            out.append(res)
    return out
