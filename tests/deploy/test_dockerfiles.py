"""The service images: linted by hadolint, pinned, multi-stage, non-root, healthchecked, minimal."""

from __future__ import annotations

import re
import subprocess

import pytest

from tests.deploy.code_scan import IMAGE_OF, PACKAGES, REPO, SERVICES, reachable_files
from tests.deploy.conftest import tool
from tests.deploy.dockerfiles import parse_dockerfile

IMAGE_DOCKERFILES = {
    **{service: REPO / "services" / service / "Dockerfile" for service in SERVICES},
    "modelctl": REPO / "deploy/compose/modelctl.Dockerfile",
}
DOCKERFILES = [*IMAGE_DOCKERFILES.values(), REPO / "deploy/compose/models.Dockerfile"]
NEEDS_LIBGL = {"detector", "annotator", "classifier"}  # opencv (contrib via mediapipe, or the locked opencv-python)


@pytest.mark.parametrize("path", DOCKERFILES, ids=lambda p: str(p.relative_to(REPO)))
def test_hadolint_passes(path):
    done = subprocess.run(
        [str(tool("hadolint")), "--no-color", str(path)], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_hadolint_is_live(tmp_path):
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python:latest\nRUN cd /app && pip install flask\n")
    done = subprocess.run([str(tool("hadolint")), "--no-color", str(bad)], capture_output=True, text=True, check=False)
    assert done.returncode != 0
    assert "DL3007" in done.stdout  # "Using latest is prone to errors"


def base_images(path) -> list[str]:
    dockerfile = parse_dockerfile(path)
    args = {}
    for arg in dockerfile.all("ARG"):
        name, _, default = arg.partition("=")
        args[name] = default
    images = []
    for source in dockerfile.all("FROM"):
        image = source.split()[0]
        images.append(re.sub(r"\$\{(\w+)\}", lambda m: args[m.group(1)], image))
    return images


@pytest.mark.parametrize("service", SERVICES)
def test_service_image_is_multi_stage_on_a_pinned_python_311(service):
    path = REPO / "services" / service / "Dockerfile"
    images = base_images(path)
    assert len(images) >= 2, "build stage + runtime stage"
    for image in images:
        assert re.fullmatch(r"python:3\.11\.\d+-slim-bookworm", image), image
    runtime = parse_dockerfile(path).stages()[-1]
    assert any(i.keyword == "COPY" and i.args.startswith("--from=build /opt/venv") for i in runtime)


@pytest.mark.parametrize("service", SERVICES)
def test_service_image_installs_its_own_locked_requirements(service):
    dockerfile = parse_dockerfile(REPO / "services" / service / "Dockerfile")
    copies = dockerfile.all("COPY")
    assert f"services/{service}/requirements.txt /tmp/requirements.txt" in copies
    assert "requirements.lock /tmp/requirements.lock" in copies
    assert any("pip install -r /tmp/requirements.txt -c /tmp/requirements.lock" in run for run in dockerfile.all("RUN"))


@pytest.mark.parametrize("service", SERVICES)
def test_service_image_carries_only_the_contract_and_its_own_code(service):
    copied = {c.split()[0] for c in parse_dockerfile(REPO / "services" / service / "Dockerfile").all("COPY")}
    code = {c for c in copied if c.startswith("services/") and not c.endswith("requirements.txt")}
    assert code == {"services/__init__.py", "services/contract", f"services/{service}"}


@pytest.mark.parametrize("image", PACKAGES)
def test_image_copies_every_module_its_code_reaches(image):
    copied = [c.split()[0] for c in parse_dockerfile(IMAGE_DOCKERFILES[IMAGE_OF[image]]).all("COPY")]
    sources = [REPO / c for c in copied if c.startswith(("services", "fakeweb_cli"))]
    for path in reachable_files(image):
        assert any(path == source or source in path.parents for source in sources), (
            f"{path.relative_to(REPO)} is imported by {image}'s code but not copied into its image"
        )


@pytest.mark.parametrize("path", DOCKERFILES, ids=lambda p: str(p.relative_to(REPO)))
def test_image_runs_as_a_non_root_user(path):
    users = parse_dockerfile(path).all("USER")
    assert users, "no USER"
    uid = users[-1].split(":")[0]
    assert uid.isdigit() and int(uid) >= 1000, users[-1]


@pytest.mark.parametrize("service", SERVICES)
def test_service_image_has_a_healthcheck(service):
    checks = parse_dockerfile(REPO / "services" / service / "Dockerfile").all("HEALTHCHECK")
    assert len(checks) == 1
    if service == "gateway":
        assert "http://127.0.0.1:8000/healthz" in checks[0]
    else:
        assert 'inspect ping -d \\"celery@$HOSTNAME\\"' in checks[0]


@pytest.mark.parametrize("service", SERVICES)
def test_opencv_images_install_libgl(service):
    runs = " ".join(parse_dockerfile(REPO / "services" / service / "Dockerfile").all("RUN"))
    has_libgl = "libgl1" in runs and "libglib2.0-0" in runs
    assert has_libgl == (service in NEEDS_LIBGL)


def test_gateway_command():
    cmd = parse_dockerfile(REPO / "services/gateway/Dockerfile").json_form("CMD")
    assert cmd[:6] == ["uvicorn", "services.gateway.app:app", "--host", "0.0.0.0", "--port", "8000"]


def test_dockerignore_keeps_state_and_data_out_but_not_what_images_copy():
    patterns = {
        line.strip()
        for line in (REPO / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    }
    assert {".git", ".venv", ".fakeweb", "tests", "test-artifacts", "**/*.tfrecord"} <= patterns
    copied = set()
    for path in DOCKERFILES:
        for copy in parse_dockerfile(path).all("COPY"):
            if copy.startswith("--from"):
                continue
            copied.add(next(token for token in copy.split() if not token.startswith("--")))
    assert {"deploy/models", "deploy/tfserving", "deploy/compose/models-init.sh", "requirements.lock"} <= copied
    for source in copied:
        parts = source.split("/")
        prefixes = {"/".join(parts[: i + 1]) for i in range(len(parts))}
        assert not prefixes & patterns, f"{source} is excluded from the build context"
