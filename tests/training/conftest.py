"""Small data folders for the training tests, made from a few images of ../shared/data."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from services.contract.settings import get_settings
from training.dataset import list_items

REPO_ROOT = Path(__file__).resolve().parents[2]


def shared_data_dir() -> Path:
    """The shared data folder (FAKEWEB_SHARED_DATA_DIR, relative to the repo root by default)."""
    path = get_settings().shared_data_dir
    return path if path.is_absolute() else (REPO_ROOT / path).resolve()


@pytest.fixture(scope="session")
def shared_data() -> Path:
    path = shared_data_dir()
    if not (path / "MANIFEST.tsv").is_file():
        pytest.skip(f"shared data not found at {path}")
    return path


@pytest.fixture(scope="session")
def small_folder(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder <source>/<label>/<image> without MANIFEST.tsv: 3 images per source and label."""
    root = tmp_path_factory.mktemp("small")
    picked: dict[tuple[str, str], int] = {}
    for item in list_items(shared_data):
        key = (item.source, item.label)
        if picked.get(key, 0) >= 3:
            continue
        picked[key] = picked.get(key, 0) + 1
        target = root / item.path
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(shared_data / item.path, target)
    return root
