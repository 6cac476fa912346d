"""A real headless Chromium (Debian's ``chromium`` + ``chromedriver``) driven through selenium."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from services.contract.settings import DEV_API_KEYS

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-quic",
    "--no-first-run",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
)


def stack_api_key(settings: object) -> str:
    """The first API key the stack's gateway accepts (the dev key unless the settings name others)."""
    configured = getattr(settings, "api_keys", None) or DEV_API_KEYS
    return configured.split(",")[0].split(":", 1)[1].strip()


def browser_binaries() -> tuple[str, str]:
    """Paths of chromium and chromedriver, installing them with install-browser.sh when missing.

    Skips (with the reason) only when they are missing and cannot be installed (no root, no sudo).
    """
    chromium, driver = shutil.which("chromium"), shutil.which("chromedriver")
    if chromium and driver:
        return chromium, driver
    install = subprocess.run(["bash", str(HERE / "install-browser.sh")], capture_output=True, text=True)
    chromium, driver = shutil.which("chromium"), shutil.which("chromedriver")
    if install.returncode != 0 or not (chromium and driver):
        pytest.skip(f"Chromium cannot be installed here: {install.stderr.strip() or install.stdout.strip()}")
    return chromium, driver


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    """A fresh headless Chromium (own profile) at desktop size."""
    os.environ.setdefault("SE_OFFLINE", "true")  # never let selenium look for a driver online
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    chromium, driver_path = browser_binaries()
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in (*CHROMIUM_FLAGS, f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}"):
        options.add_argument(flag)
    options.add_argument("--window-size=1280,900")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(driver_path), options=options)
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture(scope="session")
def artifacts() -> Path:
    """test-artifacts/ (git-ignored) for screenshots."""
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS
