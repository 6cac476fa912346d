"""Each image's requirements.txt installs what its service imports, pinned to the lock.

Static check (no per-service venv here: that would be ~3 GB and minutes per service): walk the
imports of the modules a service reaches (tests/deploy/code_scan.py), map each third-party
module to the distributions that ship it (``importlib.metadata.packages_distributions`` plus the
distribution's file list, so ``google.protobuf`` means protobuf and not google-pasta), and
require one of them in the closure of the service's requirements.txt, expanded through the
``Requires-Dist`` metadata of the packages installed in this (locked) venv, extras and
markers evaluated.
"""

from __future__ import annotations

import re
from functools import cache
from importlib import metadata
from pathlib import Path

import pytest
from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.deploy.code_scan import IMAGE_OF, PACKAGES, REPO, ExternalImport, external_imports


def requirement_lines(path: Path) -> list[str]:
    lines = []
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.split("#", 1)[0].strip()
        if line:
            lines.append(line)
    return lines


@cache
def locked_versions() -> dict[str, str]:
    pins = {}
    for line in requirement_lines(REPO / "requirements.lock"):
        name, _, version = line.partition("==")
        pins[canonicalize_name(name)] = version.strip()
    return pins


def closure(requirements: list[Requirement]) -> tuple[set[str], list[str]]:
    """Distributions installed by these requirements (canonical names) and what could not be resolved."""
    installed: set[str] = set()
    unresolved: list[str] = []
    todo = [(req, "") for req in requirements]
    seen: set[tuple[str, frozenset[str]]] = set()
    while todo:
        req, parent = todo.pop()
        key = (canonicalize_name(req.name), frozenset(req.extras))
        if key in seen:
            continue
        seen.add(key)
        try:
            dist = metadata.distribution(req.name)
        except metadata.PackageNotFoundError:
            unresolved.append(f"{req} (needed by {parent or 'requirements.txt'}) is not installed here")
            continue
        installed.add(key[0])
        for spec in dist.requires or []:
            child = Requirement(spec)
            if child.marker is not None:
                environments = [{**default_environment(), "extra": extra} for extra in (req.extras or {""})]
                if not any(child.marker.evaluate(env) for env in environments):
                    continue
            todo.append((child, req.name))
    return installed, unresolved


@cache
def module_providers() -> dict[str, list[str]]:
    return metadata.packages_distributions()


def providers(module: str) -> set[str]:
    """Distributions (canonical names) whose files contain this dotted module."""
    top = module.split(".")[0]
    candidates = {canonicalize_name(d) for d in module_providers().get(top, [])}
    if "." not in module or len(candidates) <= 1:
        return candidates
    prefix = module.replace(".", "/")
    precise = set()
    for name in candidates:
        files = metadata.distribution(name).files or []
        if any(str(f).startswith((prefix + "/", prefix + ".")) for f in files):
            precise.add(name)
    return precise or candidates


IMAGES = tuple(PACKAGES)  # each program, checked against the requirements of the image it runs in
REQUIREMENTS = {
    program: "deploy/compose/modelctl-requirements.txt"
    if IMAGE_OF[program] == "modelctl"
    else f"services/{IMAGE_OF[program]}/requirements.txt"
    for program in PACKAGES
}


def service_requirements(program: str) -> list[Requirement]:
    return [Requirement(line) for line in requirement_lines(REPO / REQUIREMENTS[program])]


@cache
def direct_pins() -> dict[str, str]:
    """Exact pins of requirements.in (a package added there is in the lock once the lead regenerates it)."""
    pins = {}
    for line in requirement_lines(REPO / "requirements.in"):
        req = Requirement(line)
        specs = list(req.specifier)
        if len(specs) == 1 and specs[0].operator == "==":
            pins[canonicalize_name(req.name)] = specs[0].version
    return pins


@pytest.mark.parametrize("service", IMAGES)
def test_requirements_are_exact_pins_of_the_lock(service):
    lock = locked_versions()
    problems = []
    for req in service_requirements(service):
        specs = list(req.specifier)
        if len(specs) != 1 or specs[0].operator != "==":
            problems.append(f"{req}: not an exact pin")
            continue
        name = canonicalize_name(req.name)
        expected = lock.get(name, direct_pins().get(name))
        if expected != specs[0].version:
            problems.append(f"{req}: requirements.lock (or, not locked yet, requirements.in) has {expected}")
    assert not problems, f"{REQUIREMENTS[service]}: " + "; ".join(problems)


@pytest.mark.parametrize("service", IMAGES)
def test_requirements_cover_every_import_the_service_reaches(service):
    imports = external_imports(service)
    assert imports, f"no third-party import found for {service}: the scan is broken"
    installed, unresolved = closure(service_requirements(service))
    assert not unresolved, unresolved
    missing: list[str] = []
    for found in imports:
        dists = providers(found.module)
        if not dists:
            missing.append(f"{found.module} at {found.where()}: no installed distribution provides it")
        elif not dists & installed:
            missing.append(f"{found.module} at {found.where()}: needs one of {sorted(dists)}")
    assert not missing, f"{REQUIREMENTS[service]} misses:\n" + "\n".join(sorted(set(missing)))


FORBIDDEN = {
    # The gateway must stay small and start fast: no TensorFlow, no MediaPipe (nor what they drag in).
    "gateway": {
        "tensorflow",
        "tensorflow-cpu",
        "tensorflow-serving-api",
        "mediapipe",
        "jax",
        "jaxlib",
        "opencv-python",
        "opencv-contrib-python",
        "keras",
    },
    # MediaPipe images: importing mediapipe next to TF costs ~4 s and hundreds of MB.
    "detector": {"tensorflow", "tensorflow-cpu", "tensorflow-serving-api", "keras"},
    "annotator": {"tensorflow", "tensorflow-cpu", "tensorflow-serving-api", "keras"},
    # The classifier speaks TF Serving's gRPC API through tfserving_protos: grpcio + protobuf only.
    "classifier": {"tensorflow", "tensorflow-cpu", "tensorflow-serving-api", "keras", "mediapipe", "jax", "jaxlib"},
    "modelctl": {"mediapipe", "jax", "jaxlib"},
}
# The webhook worker and the sweeper are smaller still: not even the HTTP server.
FORBIDDEN["webhooks"] = FORBIDDEN["sweeper"] = FORBIDDEN["gateway"] | {"fastapi", "starlette", "uvicorn"}
# The provenance worker reads credentials and XMP only: no ML, no OpenCV, no HTTP server.
FORBIDDEN["provenance"] = FORBIDDEN["webhooks"] | {"numpy"}


@pytest.mark.parametrize("service", IMAGES)
def test_images_leave_out_what_the_service_does_not_need(service):
    installed, _ = closure(service_requirements(service))
    assert not installed & FORBIDDEN[service], sorted(installed & FORBIDDEN[service])
    opencv = installed & {"opencv-python", "opencv-contrib-python", "opencv-python-headless"}
    assert len(opencv) <= 1, f"{sorted(opencv)} all write cv2/: install one"


def test_closure_follows_extras_and_markers():
    installed, unresolved = closure([Requirement("celery[redis]==5.7.0")])
    assert not unresolved
    assert {"celery", "kombu", "redis"} <= installed
    plain, _ = closure([Requirement("celery==5.7.0")])
    assert "redis" not in plain


def test_providers_tell_namespace_packages_apart():
    assert providers("google.protobuf") == {"protobuf"}
    assert "tensorflow-serving-api" in providers("tensorflow_serving.apis")
    assert providers("PIL") == {"pillow"}


def test_scan_sees_lazy_imports_inside_functions():
    modules = {found.module for found in external_imports("detector")}
    assert "mediapipe" in modules  # imported inside the engine's loader, not at module level


def test_scan_reports_where_an_import_is():
    found = ExternalImport("numpy", REPO / "services" / "contract" / "imaging.py", 3)
    assert re.fullmatch(r"services/contract/imaging\.py:3", found.where())
