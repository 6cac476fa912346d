"""Every setting the code reads reaches the containers: .env.example, compose, Kubernetes.

The list of settings is not written down here: it is ``Settings.model_fields`` at test time, so
a field added to services/contract/settings.py fails these tests until the deployment files
carry it. Settings whose default is ``None`` ("unset") cannot be given an empty value (pydantic
would reject ``""`` as an int or a path), so .env.example documents them as commented-out lines.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from pydantic.fields import FieldInfo

from services.contract.settings import Settings
from tests.deploy.code_scan import PACKAGES, REPO, SERVICES, attribute_names
from tests.deploy.conftest import OVERLAYS, find

ENV_LINE = re.compile(r"^(?P<comment>#\s*)?(?P<key>[A-Z][A-Z0-9_]*)=(?P<value>.*)$")
PREFIX = "FAKEWEB_"


def env_name(field: str) -> str:
    return PREFIX + field.upper()


def fields() -> dict[str, FieldInfo]:
    return dict(Settings.model_fields)


def unset_by_default(field: str) -> bool:
    return fields()[field].default is None


def parse_env_file(path: Path) -> tuple[dict[str, str], dict[str, str]]:
    """(active KEY=VALUE pairs, commented-out ``# KEY=VALUE`` examples) of an env file."""
    active: dict[str, str] = {}
    commented: dict[str, str] = {}
    for raw in path.read_text(encoding="utf-8").splitlines():
        match = ENV_LINE.match(raw.strip())
        if not match:
            continue
        target = commented if match["comment"] else active
        target[match["key"]] = match["value"].strip()
    return active, commented


def example_line(field: str) -> str:
    info = fields()[field]
    default = "" if info.default is None else info.default
    if isinstance(default, bool):
        default = str(default).lower()
    prefix = "# " if info.default is None else ""
    return f"{prefix}{env_name(field)}={default}    # {info.description}"


def test_parser_reads_active_and_commented_lines(tmp_path):
    env = tmp_path / "x.env"
    env.write_text("# a comment\nFAKEWEB_A=1\n# FAKEWEB_B=2\nFAKEWEB_C=\n\nnot a line\n")
    assert parse_env_file(env) == ({"FAKEWEB_A": "1", "FAKEWEB_C": ""}, {"FAKEWEB_B": "2"})


def test_env_example_lists_every_setting():
    active, commented = parse_env_file(REPO / ".env.example")
    missing = [
        example_line(field)
        for field in fields()
        if env_name(field) not in active and not (unset_by_default(field) and env_name(field) in commented)
    ]
    assert not missing, "add to .env.example (and deploy/k8s/base/settings.env):\n" + "\n".join(missing)


def test_env_example_names_only_real_settings():
    active, commented = parse_env_file(REPO / ".env.example")
    known = {env_name(field) for field in fields()}
    unknown = sorted(key for key in {*active, *commented} if key.startswith(PREFIX) and key not in known)
    assert not unknown, f"not fields of Settings (typo or removed field?): {unknown}"


def test_env_example_values_are_valid_settings(monkeypatch):
    active, commented = parse_env_file(REPO / ".env.example")
    for key in list(os.environ):
        if key.startswith(PREFIX):
            monkeypatch.delenv(key)
    for key, value in {**commented, **active}.items():  # the commented examples must parse too
        monkeypatch.setenv(key, value)
    settings = Settings()
    assert settings.redis_url == active[env_name("redis_url")]
    assert settings.serving_address == active[env_name("serving_address")]
    assert settings.env == "dev"


def settings_read_by(service: str) -> set[str]:
    """Settings fields the service's reachable code reads as ``<something>.<field>``."""
    return set(fields()) & attribute_names(service)


def test_settings_scan_finds_what_every_service_reads():
    for service in SERVICES:
        assert "redis_url" in settings_read_by(service), service  # via the contract's Celery app
    assert {"s3_endpoint", "s3_bucket"} <= settings_read_by("gateway")
    assert "serving_address" in settings_read_by("classifier")


def compose_environment(service: dict) -> set[str]:
    """Variable names a compose service receives from its env_file entries and `environment`."""
    names: set[str] = set()
    entries = service.get("env_file", [])
    for entry in [entries] if isinstance(entries, str | dict) else entries:
        path, required = (entry, True) if isinstance(entry, str) else (entry["path"], entry.get("required", True))
        file = REPO / path
        if not file.exists():
            assert not required, f"required env_file {path} does not exist"
            continue
        names.update(parse_env_file(file)[0])
    environment = service.get("environment", {})
    if isinstance(environment, list):
        environment = dict(item.split("=", 1) if "=" in item else (item, None) for item in environment)
    names.update(environment)
    return names


# (dockerfile, SERVICE build arg) -> the image a compose build section makes.
IMAGE_DOCKERFILES = {
    **{("services/Dockerfile", service): service for service in SERVICES},
    ("deploy/compose/modelctl.Dockerfile", None): "modelctl",
}


def code_package(service: dict) -> str | None:
    """The program a compose service runs: from its command when that names one, else its image's."""
    if "services.sweeper" in service.get("command", []):
        return "sweeper"
    build = service.get("build", {})
    return IMAGE_DOCKERFILES.get((build.get("dockerfile", ""), build.get("args", {}).get("SERVICE")))


def test_every_image_runs_in_compose(compose):
    packages = {code_package(service) for service in compose["services"].values()}
    assert set(PACKAGES) <= packages


@pytest.mark.parametrize("service", PACKAGES)
def test_compose_services_get_every_setting_their_code_reads(compose, service):
    needed = {field for field in settings_read_by(service) if not unset_by_default(field)}
    runs = [name for name, spec in compose["services"].items() if code_package(spec) == service]
    assert runs
    for name in runs:
        provided = compose_environment(compose["services"][name])
        missing = sorted(env_name(field) for field in needed if env_name(field) not in provided)
        assert not missing, f"compose service {name} lacks {missing}"


def test_compose_fakeweb_variables_are_real_settings(compose):
    known = {env_name(field) for field in fields()}
    for name, service in compose["services"].items():
        unknown = {key for key in compose_environment(service) if key.startswith(PREFIX)} - known
        assert not unknown, f"{name}: {sorted(unknown)}"


def k8s_environment(resources: list[dict], secret_keys: set[str]) -> set[str]:
    configmaps = find(resources, "ConfigMap", "fakeweb-settings")
    assert len(configmaps) == 1
    return set(configmaps[0].get("data", {})) | secret_keys


def dev_secret_keys(rendered) -> set[str]:
    secrets = find(rendered["dev"], "Secret", "fakeweb-secrets")
    assert len(secrets) == 1
    return set(secrets[0]["data"])


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_k8s_pods_get_every_setting_their_code_reads(rendered, overlay):
    # Production creates the Secret itself, with the keys the dev overlay generates (README, Deploy on Kubernetes).
    provided = k8s_environment(rendered[overlay], dev_secret_keys(rendered))
    known = {env_name(field) for field in fields()}
    assert not {k for k in provided if k.startswith(PREFIX)} - known, "unknown FAKEWEB_ keys"
    for service in SERVICES:
        deployment = find(rendered[overlay], "Deployment", service)[0]
        (container,) = deployment["spec"]["template"]["spec"]["containers"]
        refs = [next(iter(ref.values()))["name"] for ref in container["envFrom"]]
        assert any(r.startswith("fakeweb-settings") for r in refs), refs
        assert any(r.startswith("fakeweb-secrets") for r in refs), refs
        needed = {field for field in settings_read_by(service) if not unset_by_default(field)}
        missing = sorted(env_name(field) for field in needed if env_name(field) not in provided)
        assert not missing, f"{overlay}: {service} lacks {missing}"
