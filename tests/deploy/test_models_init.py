"""deploy/compose/models-init.sh, run with /bin/sh on temporary directories as the image runs it."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.deploy.code_scan import REPO

SCRIPT = REPO / "deploy" / "compose" / "models-init.sh"


@pytest.fixture
def bundle(tmp_path) -> Path:
    root = tmp_path / "bundle"
    for version in ("1", "2"):
        saved = root / "models" / "fakeweb" / version
        (saved / "variables").mkdir(parents=True)
        (saved / "saved_model.pb").write_bytes(f"model {version}".encode())
        (saved / "variables" / "variables.index").write_text(version)
    (root / "models" / "fakeweb" / "README").write_text("not a version")
    (root / "models" / "fakeweb" / "tmp-3").mkdir()
    (root / "tfserving").mkdir(parents=True)
    (root / "tfserving" / "models.config").write_text("model_config_list {}\n")
    (root / "tfserving" / "batching_parameters.txt").write_text("max_batch_size { value: 32 }\n")
    return root


def run_init(bundle: Path, dest: Path) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "SRC_MODELS": str(bundle / "models"),
        "SRC_CONFIG": str(bundle / "tfserving"),
        "DEST": str(dest),
    }
    return subprocess.run(["/bin/sh", str(SCRIPT)], env=env, capture_output=True, text=True, timeout=30, check=False)


def test_copies_numbered_versions_and_the_config(bundle, tmp_path):
    dest = tmp_path / "models"
    done = run_init(bundle, dest)
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in (dest / "fakeweb").iterdir()) == ["1", "2"]
    assert (dest / "fakeweb" / "2" / "saved_model.pb").read_bytes() == b"model 2"
    assert (dest / "fakeweb" / "1" / "variables" / "variables.index").read_text() == "1"
    assert (dest / "models.config").read_text() == "model_config_list {}\n"
    assert (dest / "batching_parameters.txt").exists()
    assert "2 new version(s)" in done.stdout


def test_rerun_adds_only_new_versions_and_keeps_served_ones(bundle, tmp_path):
    dest = tmp_path / "models"
    assert run_init(bundle, dest).returncode == 0
    (dest / "fakeweb" / "1" / "saved_model.pb").write_bytes(b"served, untouched")
    new = bundle / "models" / "fakeweb" / "3"
    new.mkdir()
    (new / "saved_model.pb").write_bytes(b"model 3")
    done = run_init(bundle, dest)
    assert done.returncode == 0, done.stderr
    assert "added fakeweb/3" in done.stdout and "1 new version(s)" in done.stdout
    assert (dest / "fakeweb" / "1" / "saved_model.pb").read_bytes() == b"served, untouched"
    assert (dest / "fakeweb" / "3" / "saved_model.pb").read_bytes() == b"model 3"
    assert not [p for p in (dest / "fakeweb").iterdir() if p.name.startswith(".")], "no temp dirs left"


def test_models_config_belongs_to_the_model_cli_after_the_first_start(bundle, tmp_path):
    dest = tmp_path / "models"
    assert run_init(bundle, dest).returncode == 0
    (dest / "models.config").write_text("labels written by fakeweb model promote\n")
    (bundle / "tfserving" / "models.config").write_text("a newer bundled config\n")
    (bundle / "tfserving" / "batching_parameters.txt").write_text("max_batch_size { value: 16 }\n")
    done = run_init(bundle, dest)
    assert done.returncode == 0, done.stderr
    assert (dest / "models.config").read_text() == "labels written by fakeweb model promote\n"
    assert (dest / "batching_parameters.txt").read_text() == "max_batch_size { value: 16 }\n"
    assert not [p.name for p in dest.iterdir() if p.name.startswith(".")], "no temp files left"


def test_a_version_that_appears_meanwhile_is_not_overwritten(bundle, tmp_path):
    dest = tmp_path / "models"
    (dest / "fakeweb" / "2").mkdir(parents=True)
    (dest / "fakeweb" / "2" / "saved_model.pb").write_bytes(b"deployed by the CLI")
    assert run_init(bundle, dest).returncode == 0
    assert (dest / "fakeweb" / "2" / "saved_model.pb").read_bytes() == b"deployed by the CLI"
    assert sorted(p.name for p in (dest / "fakeweb").iterdir()) == ["1", "2"]


def test_missing_config_fails_loudly(bundle, tmp_path):
    (bundle / "tfserving" / "batching_parameters.txt").unlink()
    done = run_init(bundle, tmp_path / "models")
    assert done.returncode != 0
    assert "batching_parameters.txt is missing" in done.stderr
