"""The README's deployment sections name only services, profiles and Kubernetes objects that exist."""

from __future__ import annotations

import re

from tests.deploy.code_scan import REPO
from tests.deploy.conftest import find

DOC = (REPO / "README.md").read_text(encoding="utf-8")


def test_scaled_compose_services_are_scalable_workers(compose):
    scaled = set(re.findall(r"--scale (\w+)=\d+", DOC))
    assert {"detector", "classifier", "annotator", "webhooks"} <= scaled
    for name in scaled:
        service = compose["services"][name]
        assert "container_name" not in service and "ports" not in service, name


def test_compose_commands_name_real_services_and_profiles(compose):
    for profile, name in re.findall(r"docker compose --profile (\w+) (?:run --rm|up -d|build) (\w[\w-]*)", DOC):
        assert profile in compose["services"][name].get("profiles", []), (profile, name)
    pushed = re.search(r"docker compose --profile tools push ([\w -]+)", DOC).group(1).split()
    built = {n for n, s in compose["services"].items() if "build" in s}
    assert set(pushed) <= built
    assert {compose["services"][n]["image"] for n in pushed} == {compose["services"][n]["image"] for n in built}


def test_kubernetes_commands_name_real_objects(rendered):
    resources = rendered["dev"]
    kinds = {"deploy": "Deployment", "scaledobject": "ScaledObject", "hpa": "HorizontalPodAutoscaler", "svc": "Service"}
    kubectl_lines = [line for line in DOC.splitlines() if line.lstrip().startswith("kubectl ")]
    named = [
        m
        for line in kubectl_lines
        for m in re.findall(r"(?<![\w/-])(deploy|scaledobject|hpa|svc)[/ ](\w[\w-]*)(?![\w/-])", line)
    ]
    assert len(named) >= 5
    for short, name in named:
        assert find(resources, kinds[short], name), f"{short}/{name} is not in deploy/k8s/overlays/dev"


def test_model_cli_commands_exist():
    from fakeweb_cli import model  # the CLI the docs drive

    for action in set(re.findall(r"fakeweb_cli model (\w+)", DOC)) | set(re.findall(r"modelctl model (\w+)", DOC)):
        assert hasattr(model, f"run_{action}"), action
