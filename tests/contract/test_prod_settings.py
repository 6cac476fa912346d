"""With FAKEWEB_ENV=prod every process refuses the built-in dev credentials, not only the gateway.

The refusal sits on the settings themselves, so each worker module (which reads its settings when
it is imported), the webhook signer and the sweeper stop before they touch Redis or S3.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from services.contract.settings import (
    DEV_API_KEYS,
    DEV_S3_SECRET,
    DEV_WEBHOOK_SECRET,
    Settings,
    UnsafeConfiguration,
    get_settings,
)

ROOT = Path(__file__).resolve().parents[2]
REAL = {
    "FAKEWEB_ENV": "prod",
    "FAKEWEB_API_KEYS": "acme:0123456789abcdef0123",
    "FAKEWEB_S3_SECRET_KEY": "a-real-s3-secret-value",
    "FAKEWEB_WEBHOOK_SECRET": "a-real-webhook-secret",
}
# One dev credential at a time, and the name the refusal gives it.
DEV = {
    "dev S3 secret": ({"FAKEWEB_S3_SECRET_KEY": DEV_S3_SECRET}, "FAKEWEB_S3_SECRET_KEY is the dev secret"),
    "dev API key": ({"FAKEWEB_API_KEYS": DEV_API_KEYS}, "FAKEWEB_API_KEYS contains the documented dev key"),
    "dev webhook secret": ({"FAKEWEB_WEBHOOK_SECRET": DEV_WEBHOOK_SECRET}, "FAKEWEB_WEBHOOK_SECRET is the dev secret"),
}
SECRETS = (
    DEV_S3_SECRET,
    DEV_API_KEYS.split(":", 1)[1],
    DEV_WEBHOOK_SECRET,
    "0123456789abcdef0123",
    REAL["FAKEWEB_S3_SECRET_KEY"],
    REAL["FAKEWEB_WEBHOOK_SECRET"],
)
WORKER_MODULES = (
    "services.detector.worker",
    "services.classifier.worker",
    "services.annotator.worker",
    "services.webhooks.worker",
)


def as_fields(env: dict[str, str]) -> dict[str, str]:
    return {name.removeprefix("FAKEWEB_").lower(): value for name, value in env.items()}


def clean_env(**extra: str) -> dict[str, str]:
    """This process's environment without any FAKEWEB_* setting, plus ``extra``."""
    env = {name: value for name, value in os.environ.items() if not name.startswith("FAKEWEB_")}
    return {**env, **extra}


@pytest.mark.parametrize("case", DEV)
def test_prod_settings_refuse_each_dev_credential_naming_it_but_not_its_value(case):
    override, named = DEV[case]
    with pytest.raises(UnsafeConfiguration) as refused:
        Settings(**as_fields({**REAL, **override}))
    message = str(refused.value)
    assert message.startswith("FAKEWEB_ENV=prod refuses to start: ")
    assert named in message
    for secret in SECRETS:
        assert secret not in message


def test_prod_settings_load_with_real_credentials_and_dev_settings_with_dev_ones():
    assert Settings(**as_fields(REAL)).env == "prod"
    dev = Settings(env="dev")
    assert (dev.s3_secret_key, dev.api_keys, dev.webhook_secret) == (DEV_S3_SECRET, DEV_API_KEYS, DEV_WEBHOOK_SECRET)


def test_prod_from_the_environment_refuses_the_built_in_defaults(monkeypatch):
    for name in list(os.environ):
        if name.startswith("FAKEWEB_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("FAKEWEB_ENV", "prod")
    get_settings.cache_clear()
    try:
        with pytest.raises(UnsafeConfiguration) as refused:
            get_settings()
        for _, named in DEV.values():
            assert named in str(refused.value)
        for name, value in REAL.items():
            monkeypatch.setenv(name, value)
        get_settings.cache_clear()
        assert get_settings().env == "prod"
    finally:
        get_settings.cache_clear()


# Imports a module once per case, in order, in one fresh interpreter: "refused <message>" or "loaded".
IMPORT_EACH_CASE = """
import importlib, json, os, sys

from services.contract.settings import UnsafeConfiguration, get_settings

module, cases = sys.argv[1], json.loads(sys.argv[2])
for env in cases:
    os.environ.update(env)
    get_settings.cache_clear()
    sys.modules.pop(module, None)
    try:
        importlib.import_module(module)
    except UnsafeConfiguration as exc:
        print("refused", exc, flush=True)
    else:
        print("loaded", flush=True)
"""


@pytest.mark.slow
@pytest.mark.parametrize("module", WORKER_MODULES)
def test_worker_modules_refuse_to_load_in_prod_with_a_dev_credential_and_load_with_real_ones(module):
    cases = [{**REAL, **override} for override, _ in DEV.values()] + [REAL]
    done = subprocess.run(
        [sys.executable, "-c", IMPORT_EACH_CASE, module, json.dumps(cases)],
        cwd=ROOT,
        env=clean_env(TF_CPP_MIN_LOG_LEVEL="2"),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    lines = [line for line in done.stdout.splitlines() if line.startswith(("refused", "loaded"))]
    assert len(lines) == len(cases), done.stdout
    for line, (_, named) in zip(lines[:-1], DEV.values(), strict=True):
        assert line.startswith("refused FAKEWEB_ENV=prod refuses to start: ") and named in line, line
    assert lines[-1] == "loaded"


@pytest.mark.slow
def test_the_sweeper_refuses_to_start_in_prod_with_the_dev_webhook_secret():
    override, named = DEV["dev webhook secret"]
    done = subprocess.run(
        [sys.executable, "-m", "services.sweeper"],
        cwd=ROOT,
        env=clean_env(**{**REAL, **override}),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode != 0
    assert "FAKEWEB_ENV=prod refuses to start" in done.stderr and named in done.stderr
    assert DEV_WEBHOOK_SECRET not in done.stdout + done.stderr
