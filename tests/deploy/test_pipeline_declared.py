"""Every list of stages that cannot be derived from ``services.contract.pipeline`` agrees with it.

Compose, Kubernetes, supervisord, the import-linter contracts, the web page, the CLI and
docs/architecture.md each name the stages, queues or workers again; these checks read each of
them and compare with the declaration, so adding a stage fails here until every place has it.
"""

from __future__ import annotations

import configparser
import importlib
import re
import tomllib

import pytest

from deploy.local.launch import command as launch_command
from services.contract.pipeline import CONSUMERS, PIPELINE, STAGE_NAMES, markdown_table
from services.contract.record import record_table_markdown
from services.contract.settings import Settings
from tests.deploy.code_scan import REPO
from tests.deploy.conftest import OVERLAYS, find
from tests.deploy.test_compose import celery_queue

WORKERS = (*PIPELINE, *CONSUMERS)
# Compose and Kubernetes may name a consumer's worker otherwise than the local program (`webhooks`, `webhook`).
DEPLOYED_AS = {consumer.service: consumer.deployed_as for consumer in CONSUMERS}


def celery_worker_args(worker: str, queue: str) -> list[str]:
    return ["celery", "-A", worker, "worker", "-Q", queue]


def workers_by_queue(commands: dict[str, list[str]]) -> dict[str, list[str]]:
    """Queue -> names of the Compose services / Deployments whose Celery worker consumes it."""
    found: dict[str, list[str]] = {}
    for name, argv in commands.items():
        queue = celery_queue(argv)
        if queue is not None:
            found.setdefault(queue, []).append(name)
    return found


@pytest.mark.parametrize("spec", WORKERS, ids=lambda spec: spec.service)
def test_compose_runs_one_worker_per_stage_on_its_queue(compose, spec):
    commands = {name: service.get("command", []) for name, service in compose["services"].items()}
    name = DEPLOYED_AS.get(spec.service, spec.service)
    assert workers_by_queue(commands).get(spec.queue) == [name]
    assert commands[name][:6] == celery_worker_args(spec.worker, spec.queue)


def test_compose_workers_consume_only_declared_queues(compose):
    commands = {name: service.get("command", []) for name, service in compose["services"].items()}
    assert set(workers_by_queue(commands)) == {spec.queue for spec in WORKERS}


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_kubernetes_runs_and_scales_one_deployment_per_stage(rendered, overlay):
    resources = rendered[overlay]
    deployments = {d["metadata"]["name"]: d for d in find(resources, "Deployment")}
    args = {name: d["spec"]["template"]["spec"]["containers"][0].get("args", []) for name, d in deployments.items()}
    consumers = workers_by_queue(args)
    assert set(consumers) == {spec.queue for spec in WORKERS}
    scaled = {s["spec"]["scaleTargetRef"]["name"]: s for s in find(resources, "ScaledObject")}
    for spec in WORKERS:
        name = DEPLOYED_AS.get(spec.service, spec.service)
        assert consumers[spec.queue] == [name]
        assert args[name][:6] == celery_worker_args(spec.worker, spec.queue)
        assert scaled[name]["spec"]["triggers"][0]["metadata"]["listName"] == spec.queue


def test_kustomization_lists_a_manifest_per_stage():
    kustomization = (REPO / "deploy/k8s/base/kustomization.yaml").read_text()
    for spec in WORKERS:
        assert f"- {DEPLOYED_AS.get(spec.service, spec.service)}.yaml" in kustomization


def test_the_local_stack_runs_a_program_per_stage():
    conf = configparser.RawConfigParser()
    conf.read(REPO / "deploy/local/supervisord.conf")
    programs = {
        section.split(":", 1)[1]: conf[section] for section in conf.sections() if section.startswith("program:")
    }
    settings = Settings()
    for spec in WORKERS:
        assert programs[spec.service]["command"] == f"python deploy/local/launch.py {spec.service}"
        argv, _ = launch_command(spec.service, settings)
        assert [part.rsplit("/", 1)[-1] for part in argv[:6]] == celery_worker_args(spec.worker, spec.queue)
    celery_programs = [name for name in programs if launch_command(name, settings)[0][0].endswith("/celery")]
    assert sorted(celery_programs) == sorted(spec.service for spec in WORKERS), "one program per worker, none over"


@pytest.mark.parametrize("spec", PIPELINE, ids=lambda spec: spec.name)
def test_each_worker_module_registers_its_stage_task(spec):
    module = importlib.import_module(spec.worker)
    assert spec.task in module.app.tasks
    assert module.app.main == spec.service


def test_import_linter_keeps_every_stage_package_independent():
    contracts = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["importlinter"]["contracts"]
    by_name = {contract["name"]: contract for contract in contracts}
    independent = by_name["Services never import each other; they share only services.contract"]["modules"]
    contract_free = by_name["The contract depends on no service and not on training"]["forbidden_modules"]
    no_training = by_name["Services never import training code"]["source_modules"]
    for spec in PIPELINE:
        assert spec.package in independent and spec.package in contract_free and spec.package in no_training


def test_the_web_page_follows_the_declared_stages():
    script = (REPO / "services/gateway/static/app.js").read_text()
    stages = re.search(r"const STAGES = \[([^\]]*)\];", script)
    assert stages, "app.js: const STAGES = [...] not found"
    assert tuple(re.findall(r'"(\w+)"', stages.group(1))) == STAGE_NAMES
    text = re.search(r"const STAGE_TEXT = \{([^}]*)\};", script)
    assert text and tuple(re.findall(r"(\w+):", text.group(1))) == STAGE_NAMES
    page = (REPO / "services/gateway/static/index.html").read_text()
    shown = [name for name in re.findall(r'<li data-stage="(\w+)"', page) if name != "upload"]
    assert tuple(shown) == STAGE_NAMES


def test_the_cli_follows_the_declared_stages():
    from fakeweb_cli.scan import STAGE_LABELS, stage_fraction

    assert tuple(STAGE_LABELS) == STAGE_NAMES
    fractions = [stage_fraction({"status": "running", "stage": name, "progress": {}}) for name in STAGE_NAMES]
    assert fractions == sorted(fractions) and len(set(fractions)) == len(fractions), "each stage moves the bar on"
    unknown = stage_fraction({"status": "running", "stage": "not-a-stage", "progress": {}})
    assert unknown not in fractions, "every declared stage has its own place on the bar"


def test_the_architecture_doc_shows_the_declaration_and_the_record():
    doc = (REPO / "docs/architecture.md").read_text()
    for marker, table in (("pipeline-table", markdown_table()), ("record-table", record_table_markdown())):
        match = re.search(rf"<!-- {marker}:start -->\n(.*?)\n<!-- {marker}:end -->", doc, re.S)
        assert match, f"docs/architecture.md lacks the {marker} markers"
        assert match.group(1) == table, "regenerate: python deploy/local/update_readme.py"
