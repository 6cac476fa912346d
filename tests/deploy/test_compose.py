"""docker-compose.yml: valid against the Compose Specification, scalable workers, ordered start-up.

Schema validation uses check-jsonschema (pinned in requirements.in) with the Compose
Specification JSON schema it vendors (``--builtin-schema vendor.compose-spec``, taken from the
compose-spec repository's ``schema/compose-spec.json``), so it runs offline.
"""

from __future__ import annotations

import re
import subprocess
import sys

import pytest
import yaml

from services.contract import tasks
from tests.deploy.code_scan import REPO
from tests.deploy.dockerfiles import SERVICE_DOCKERFILE, compose_dockerfile, service_dockerfile

WORKERS = {"provenance": "provenance", "detector": "detect", "classifier": "classify", "annotator": "annotate"}
APP_SERVICES = ("gateway", *WORKERS, "detector-frames", "webhooks", "sweeper")  # built from services/Dockerfile
# The image (the SERVICE build arg of services/Dockerfile) each app service runs: its own, but the
# detector on video frame chunks runs the detector's.
APP_IMAGES = {name: name for name in APP_SERVICES} | {"detector-frames": "detector"}
# Long-running services without a healthcheck, each with the reason in docker-compose.yml.
UNPROBED = {"sweeper"}


def compose_schema_check(path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.compose-spec", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_compose_file_is_valid_against_the_compose_specification():
    done = compose_schema_check(REPO / "docker-compose.yml")
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize(
    ("mutate", "complaint"),
    [
        (lambda c: c["services"]["detector"].update(container_nam="x"), "container_nam"),
        (lambda c: c["services"]["redis"].update(volumes="redis-data:/data"), "redis-data:/data"),
        (lambda c: c["services"]["classifier"]["depends_on"]["redis"].update(condition="service_up"), "service_up"),
    ],
)
def test_the_schema_check_rejects_broken_files(compose, tmp_path, mutate, complaint):
    broken = yaml.safe_load(yaml.safe_dump(compose))
    mutate(broken)
    path = tmp_path / "docker-compose.yml"
    path.write_text(yaml.safe_dump(broken))
    done = compose_schema_check(path)
    assert done.returncode != 0
    assert complaint in done.stdout + done.stderr


def all_queues() -> set[str]:
    """Every Celery queue the contract names: the pipeline stages and any other *_QUEUE."""
    queues = set(tasks.QUEUES.values())
    queues.update(value for name, value in vars(tasks).items() if name.endswith("_QUEUE") and isinstance(value, str))
    return queues


def celery_queue(command: list[str]) -> str | None:
    if "celery" not in command[:1] or "worker" not in command:
        return None
    return command[command.index("-Q") + 1]


def service_command(compose: dict, name: str) -> list[str]:
    service = compose["services"][name]
    if "command" in service:
        return service["command"]
    if "build" in service:
        dockerfile = compose_dockerfile(service["build"])
        return dockerfile.json_form("CMD") if dockerfile.has("CMD") else []
    return []


def test_every_contract_queue_has_a_compose_worker(compose):
    consumed = {celery_queue(service_command(compose, name)) for name in compose["services"]}
    missing = all_queues() - consumed
    assert not missing, f"no compose service consumes {sorted(missing)}"


@pytest.mark.parametrize(("name", "queue"), WORKERS.items())
def test_workers_run_one_solo_celery_process_on_their_queue(compose, name, queue):
    command = compose["services"][name]["command"]
    assert command[:4] == ["celery", "-A", f"services.{name}.worker", "worker"]
    assert celery_queue(command) == queue
    assert command[command.index("-P") + 1] == "solo"
    assert queue in tasks.QUEUES.values()
    assert command == service_dockerfile(name).json_form("CMD")


def test_workers_can_be_scaled(compose):
    for name, service in compose["services"].items():
        if celery_queue(service_command(compose, name)) is None:
            continue
        fixed = {"container_name", "ports", "hostname"} & set(service)
        assert not fixed, f"{name} has {sorted(fixed)}: `docker compose up --scale {name}=3` would clash"


def test_no_service_has_a_fixed_container_name(compose):
    assert not [name for name, service in compose["services"].items() if "container_name" in service]


def healthchecked(compose: dict, name: str) -> bool:
    service = compose["services"][name]
    if "healthcheck" in service:
        return not service["healthcheck"].get("disable", False)
    if "build" in service:
        return compose_dockerfile(service["build"]).has("HEALTHCHECK")
    return False


def test_dependencies_wait_for_health_or_completion(compose):
    services = compose["services"]
    for name, service in services.items():
        depends = service.get("depends_on", {})
        assert isinstance(depends, dict), f"{name}: depends_on needs conditions"
        for target, spec in depends.items():
            condition = spec["condition"]
            if condition == "service_healthy":
                assert healthchecked(compose, target), f"{name} waits for {target}, which has no healthcheck"
            elif condition == "service_completed_successfully":
                assert services[target].get("restart") == "no", f"{target} is one-shot: restart must be 'no'"
            else:
                pytest.fail(f"{name} -> {target}: {condition} does not wait for readiness")


def test_app_services_start_after_their_neighbours(compose):
    services = compose["services"]
    for name in APP_SERVICES:
        depends = services[name]["depends_on"]
        assert depends["redis"]["condition"] == "service_healthy"
        if name != "sweeper":  # the sweeper touches only Redis
            assert depends["minio-init"]["condition"] == "service_completed_successfully"
    assert services["classifier"]["depends_on"]["tfserving"]["condition"] == "service_healthy"
    assert services["tfserving"]["depends_on"]["models-init"]["condition"] == "service_completed_successfully"
    assert services["minio-init"]["depends_on"]["minio"]["condition"] == "service_healthy"


def test_every_service_that_runs_for_good_is_healthchecked(compose):
    for name, service in compose["services"].items():
        if service.get("restart") == "no" or "profiles" in service:
            continue
        assert healthchecked(compose, name) == (name not in UNPROBED), name


def test_redis_keeps_jobs_appendonly_and_never_evicts(compose):
    command = " ".join(compose["services"]["redis"]["command"])
    assert "--appendonly yes" in command
    assert "--maxmemory-policy noeviction" in command
    assert any(volume.endswith(":/data") for volume in compose["services"]["redis"]["volumes"])


def test_minio_bucket_is_created_by_a_one_shot_mc(compose):
    init = compose["services"]["minio-init"]
    assert init["image"].startswith("minio/mc:RELEASE.")
    script = " ".join(init["command"])
    assert "mc mb --ignore-existing" in script
    assert init["environment"]["BUCKET"] == "${FAKEWEB_S3_BUCKET:-fakeweb}"


def test_tfserving_runs_the_real_image_on_the_model_config(compose):
    serving = compose["services"]["tfserving"]
    assert re.fullmatch(r"tensorflow/serving:2\.19\.\d+", serving["image"])
    flags = dict(flag.split("=", 1) for flag in serving["command"])
    assert flags["--model_config_file"] == "/models/models.config"
    assert int(flags["--model_config_file_poll_wait_seconds"]) > 0
    assert flags["--enable_batching"] == "true"
    assert flags["--batching_parameters_file"] == "/models/batching_parameters.txt"
    assert "models:/models:ro" in serving["volumes"]
    assert "models:/models" in compose["services"]["models-init"]["volumes"]


def test_flower_is_optional(compose):
    assert compose["services"]["flower"]["profiles"] == ["monitoring"]


def test_images_are_pinned(compose):
    for name, service in compose["services"].items():
        if "build" in service:
            assert service["image"].startswith("${IMAGE_PREFIX:-fakeweb}/"), name
            continue
        image = service["image"]
        tag = image.rpartition(":")[2]
        assert ":" in image and tag not in ("latest", "") and re.search(r"\d", tag), f"{name}: {image} is not pinned"


def test_webhook_worker_runs_in_its_own_image_and_pings_like_the_workers(compose):
    webhooks = compose["services"]["webhooks"]
    assert webhooks["build"]["args"] == {"SERVICE": "webhooks"}
    assert celery_queue(webhooks["command"]) == tasks.WEBHOOK_QUEUE
    ping = service_dockerfile("detector").all("HEALTHCHECK")[0]
    worker_check = ping[ping.index("CMD ") + 4 :]
    assert ["CMD", *yaml.safe_load(worker_check)] == [
        part.replace("$$", "$") for part in webhooks["healthcheck"]["test"]
    ]


def test_app_services_are_built_from_the_service_dockerfiles(compose):
    built = {name for name, service in compose["services"].items() if "build" in service} - {"models-init", "modelctl"}
    assert built == set(APP_SERVICES)


def test_app_images_are_built_from_the_one_service_dockerfile_with_their_service_arg(compose):
    for name in APP_SERVICES:
        build = compose["services"][name]["build"]
        assert (REPO / build["context"] / build["dockerfile"]) == SERVICE_DOCKERFILE, name
        assert build["args"] == {"SERVICE": APP_IMAGES[name]}, name
        assert compose["services"][name]["image"].endswith(f"/{APP_IMAGES[name]}:${{IMAGE_TAG:-latest}}"), name


def test_settings_come_from_env_example_then_env(compose):
    for name in APP_SERVICES:
        assert compose["services"][name]["env_file"] == [
            {"path": ".env.example", "required": True},
            {"path": ".env", "required": False},
        ]


def test_interpolation_defaults_match_env_example():
    """${FAKEWEB_X:-default} in the compose file (MinIO's root user, Flower's broker, ...) must
    default to what the app services get from .env.example, or they disagree without a .env."""
    from tests.deploy.test_settings_env import parse_env_file

    text = (REPO / "docker-compose.yml").read_text()
    defaults = re.findall(r"\$\{(FAKEWEB_\w+):-([^}]*)\}", text)
    assert len(defaults) >= 4
    example, _ = parse_env_file(REPO / ".env.example")
    for name, default in defaults:
        assert example[name] == default, f"${{{name}:-{default}}} but .env.example has {example[name]!r}"
