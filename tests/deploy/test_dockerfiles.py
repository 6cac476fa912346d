"""The service images: linted by hadolint, pinned, multi-stage, non-root, healthchecked, minimal.

The gateway and worker images come from one ``services/Dockerfile`` (build arg SERVICE); each is
checked as ``docker build --build-arg SERVICE=<service>`` builds it (``service_dockerfile``).
"""

from __future__ import annotations

import re
import subprocess

import pytest

from tests.deploy.code_scan import IMAGE_OF, PACKAGES, REPO, SERVICES, reachable_files
from tests.deploy.conftest import tool
from tests.deploy.dockerfiles import SERVICE_DOCKERFILE, parse_dockerfile, service_dockerfile

# Image -> the Dockerfile instructions that build it.
IMAGE_DOCKERFILES = {
    **{service: service_dockerfile(service) for service in SERVICES},
    "modelctl": parse_dockerfile(REPO / "deploy/compose/modelctl.Dockerfile"),
}
IMAGES = {**IMAGE_DOCKERFILES, "models": parse_dockerfile(REPO / "deploy/compose/models.Dockerfile")}
DOCKERFILES = [SERVICE_DOCKERFILE, *(REPO / "deploy/compose" / f"{name}.Dockerfile" for name in ("modelctl", "models"))]
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


def base_images(dockerfile) -> list[str]:
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
    dockerfile = service_dockerfile(service)
    images = base_images(dockerfile)
    assert len(images) >= 2, "build stage + runtime stage"
    for image in images:
        assert re.fullmatch(r"python:3\.11\.\d+-slim-bookworm", image), image
    runtime = dockerfile.stages()[-1]
    assert any(i.keyword == "COPY" and i.args.startswith("--from=build /opt/venv") for i in runtime)


@pytest.mark.parametrize("service", SERVICES)
def test_service_image_installs_its_own_locked_requirements(service):
    dockerfile = service_dockerfile(service)
    copies = dockerfile.all("COPY")
    assert f"services/{service}/requirements.txt /tmp/requirements.txt" in copies
    assert "requirements.lock /tmp/requirements.lock" in copies
    assert any("pip install -r /tmp/requirements.txt -c /tmp/requirements.lock" in run for run in dockerfile.all("RUN"))


@pytest.mark.parametrize("service", SERVICES)
def test_service_image_carries_only_the_shared_packages_and_its_own_code(service):
    copied = {c.split()[0] for c in service_dockerfile(service).all("COPY")}
    code = {c for c in copied if c.startswith("services/") and not c.endswith("requirements.txt")}
    assert code == {"services/__init__.py", "services/contract", "services/runtime", f"services/{service}"}


@pytest.mark.parametrize("image", PACKAGES)
def test_image_copies_every_module_its_code_reaches(image):
    copied = [c.split()[0] for c in IMAGE_DOCKERFILES[IMAGE_OF[image]].all("COPY")]
    sources = [REPO / c for c in copied if c.startswith(("services", "fakeweb_cli", "tfserving_protos"))]
    for path in reachable_files(image):
        assert any(path == source or source in path.parents for source in sources), (
            f"{path.relative_to(REPO)} is imported by {image}'s code but not copied into its image"
        )


@pytest.mark.parametrize("image", IMAGES)
def test_image_runs_as_a_non_root_user(image):
    users = IMAGES[image].all("USER")
    assert users, "no USER"
    uid = users[-1].split(":")[0]
    assert uid.isdigit() and int(uid) >= 1000, users[-1]


@pytest.mark.parametrize("service", SERVICES)
def test_service_image_has_a_healthcheck(service):
    checks = service_dockerfile(service).all("HEALTHCHECK")
    assert len(checks) == 1
    if service == "gateway":
        assert "http://127.0.0.1:8000/healthz" in checks[0]
    elif service == "sweeper":  # a loop with no endpoint (docker-compose.yml says why)
        assert checks == ["NONE"]
    else:
        assert 'inspect ping -d \\"celery@$HOSTNAME\\"' in checks[0]


@pytest.mark.parametrize("service", SERVICES)
def test_opencv_images_install_libgl(service):
    runs = " ".join(service_dockerfile(service).all("RUN"))
    has_libgl = "libgl1" in runs and "libglib2.0-0" in runs
    assert has_libgl == (service in NEEDS_LIBGL)


def test_gateway_command():
    cmd = service_dockerfile("gateway").json_form("CMD")
    assert cmd[:6] == ["uvicorn", "services.gateway.app:app", "--host", "0.0.0.0", "--port", "8000"]


def test_dockerignore_keeps_state_and_data_out_but_not_what_images_copy():
    patterns = {
        line.strip()
        for line in (REPO / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    }
    assert {".git", ".venv", ".fakeweb", "tests", "test-artifacts", "**/*.tfrecord"} <= patterns
    copied = set()
    for dockerfile in IMAGES.values():
        for copy in dockerfile.all("COPY"):
            if copy.startswith("--from"):
                continue
            copied.add(next(token for token in copy.split() if not token.startswith("--")))
    assert {"deploy/models", "deploy/tfserving", "deploy/compose/models-init.sh", "requirements.lock"} <= copied
    for source in copied:
        parts = source.split("/")
        prefixes = {"/".join(parts[: i + 1]) for i in range(len(parts))}
        assert not prefixes & patterns, f"{source} is excluded from the build context"


def test_the_service_images_differ_only_where_their_service_does():
    """One Dockerfile: each image builds from its own requirements file and code, in a stage named after it."""
    stages = parse_dockerfile(SERVICE_DOCKERFILE).stages()
    names = [stage[0].args.split()[-1] for stage in stages]
    assert set(SERVICES) <= set(names)
    assert stages[-1][0].args == "${SERVICE} AS image", "the default target is the stage SERVICE names"
    for service in SERVICES:
        copies = service_dockerfile(service).all("COPY")
        others = [s for s in SERVICES if s != service]
        assert not [c for c in copies if any(f"services/{other}" in c for other in others)], service
