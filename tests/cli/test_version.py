"""One version everywhere: the CLI, the gateway's OpenAPI document and the package metadata source."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from fakeweb_cli.main import main
from services.runtime.version import VERSION

ROOT = Path(__file__).resolve().parents[2]


def test_cli_prints_the_project_version(capsys):
    with pytest.raises(SystemExit) as stopped:
        main(["--version"])
    assert stopped.value.code == 0
    assert capsys.readouterr().out.strip() == f"fakeweb {VERSION}"


def test_pyproject_reads_the_version_from_the_one_constant():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert "version" not in project["project"] and "version" in project["project"]["dynamic"]
    assert project["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "services.runtime.version.VERSION"}


def test_the_gateway_announces_the_project_version():
    from services.gateway.app import create_app

    assert create_app().version == VERSION
