"""The generated TF Serving API modules: up to date, TensorFlow-free, and interchangeable with the official ones."""

from __future__ import annotations

import ast
import base64
import json
import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
from tensorflow.core.framework import tensor_pb2, types_pb2
from tensorflow_serving.apis import get_model_metadata_pb2, get_model_status_pb2, model_management_pb2, predict_pb2
from tensorflow_serving.config import model_server_config_pb2

from tfserving_protos import regenerate

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "tfserving_protos"


def _python(code: str, stdin: str = "", timeout_s: float = 180) -> str:
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout.splitlines()[-1]


def test_generated_files_match_the_installed_tf_serving_api():
    assert regenerate.main(["--check"]) == 0, "run: .venv/bin/python -m tfserving_protos.regenerate"


def test_the_client_modules_the_task_names_are_generated():
    apis = PACKAGE / "tensorflow_serving" / "apis"
    for name in ("model", "predict", "get_model_metadata", "get_model_status", "model_management"):
        assert (apis / f"{name}_pb2.py").is_file(), name
    for name in ("prediction_service", "model_service"):
        assert (apis / f"{name}_pb2_grpc.py").is_file(), name
    framework = PACKAGE / "tensorflow" / "core" / "framework"
    for name in ("tensor", "tensor_shape", "types", "resource_handle"):
        assert (framework / f"{name}_pb2.py").is_file(), name
    assert (PACKAGE / "tensorflow" / "core" / "protobuf" / "meta_graph_pb2.py").is_file()


def test_nothing_in_the_package_imports_tensorflow():
    offenders = []
    for path in sorted(PACKAGE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and not node.level:
                names = [node.module or ""]
            else:
                continue
            offenders += [f"{path.relative_to(ROOT)}:{node.lineno} {n}" for n in names if _is_tf(n)]
    assert not offenders


def _is_tf(module: str) -> bool:
    return module.split(".")[0] in ("tensorflow", "tensorflow_serving", "keras")


# Official modules written for an older protobuf: they fail to import under protobuf 4.25 on their own
# ("attribute 'has_options' ... is not writable"); nothing imports them (the official *_pb2_grpc don't).
LEGACY = {"tensorflow_serving.apis.prediction_service_pb2", "tensorflow_serving.apis.model_service_pb2"}

ORDER_PROBE = """
import importlib, sys
from pathlib import Path
import numpy as np
from google.protobuf.message import Message

root = Path("tfserving_protos")
modules = sorted(".".join(p.relative_to(root).with_suffix("").parts) for p in root.rglob("*_pb2.py"))
legacy = set({legacy!r})

def load(prefix):
    return {{m: importlib.import_module(prefix + m) for m in modules if prefix or m not in legacy}}

if {order!r} == "vendored-first":
    vendored = load("tfserving_protos.")
    assert "tensorflow" not in sys.modules
    official = load("")
    import tensorflow
    import deploy.local.serving.grpc_api  # the local stand-in: TensorFlow and the official modules
else:
    import tensorflow
    import deploy.local.serving.grpc_api
    official = load("")
    vendored = load("tfserving_protos.")

shared = 0
for name, module in official.items():
    mine = vendored[name]
    assert mine.DESCRIPTOR is module.DESCRIPTOR, name
    assert mine.DESCRIPTOR.serialized_pb == module.DESCRIPTOR.serialized_pb, name
    for attr, value in vars(module).items():
        if isinstance(value, type) and issubclass(value, Message):
            assert getattr(mine, attr) is value, (name, attr)
            shared += 1

from tensorflow_serving.apis import predict_pb2
from tensorflow_serving.config import model_server_config_pb2
from services.classifier.serving_client import make_tensor_proto
from tfserving_protos.tensorflow_serving.apis import model_management_pb2

request = predict_pb2.PredictRequest()
request.inputs["image"].CopyFrom(make_tensor_proto(np.zeros((1, 2, 2, 3), np.uint8), 4))
config = model_server_config_pb2.ModelServerConfig()
config.model_config_list.config.add(name="fakeweb")
assert model_management_pb2.ReloadConfigRequest(config=config).config.model_config_list.config[0].name == "fakeweb"
print("shared", shared)
"""


@pytest.mark.parametrize("order", ["vendored-first", "official-first"])
def test_both_import_orders_share_one_set_of_classes(order):
    last = _python(ORDER_PROBE.format(order=order, legacy=sorted(LEGACY)))
    assert last.startswith("shared ") and int(last.split()[1]) > 50, last


# Builds the same messages from either set of modules (``m``), in this process and in a TF-free one.
BUILD = """
def build(m):
    tensor = m.tensor_pb2.TensorProto(dtype=m.types_pb2.DT_UINT8, tensor_content=bytes(range(12)))
    for size in (1, 2, 2, 3):
        tensor.tensor_shape.dim.add(size=size)
    predict = m.predict_pb2.PredictRequest(output_filter=["manipulated_probability"])
    predict.model_spec.name = "fakeweb"
    predict.model_spec.version_label = "canary"
    predict.model_spec.signature_name = "serving_default"
    predict.inputs["image"].CopyFrom(tensor)
    response = m.predict_pb2.PredictResponse()
    response.model_spec.name = "fakeweb"
    response.model_spec.version.value = 7
    scores = response.outputs["manipulated_probability"]
    scores.dtype = m.types_pb2.DT_FLOAT
    scores.float_val.extend([0.25, 0.5])
    scores.tensor_shape.dim.add(size=2)
    signatures = m.get_model_metadata_pb2.SignatureDefMap()
    signature = signatures.signature_def["serving_default"]
    signature.method_name = "tensorflow/serving/predict"
    image = signature.inputs["image"]
    image.name = "serving_default_image:0"
    image.dtype = m.types_pb2.DT_UINT8
    for size in (-1, 224, 224, 3):
        image.tensor_shape.dim.add(size=size)
    signature.outputs["manipulated_probability"].dtype = m.types_pb2.DT_FLOAT
    metadata = m.get_model_metadata_pb2.GetModelMetadataResponse()
    metadata.model_spec.name = "fakeweb"
    metadata.model_spec.version.value = 2
    metadata.metadata["signature_def"].Pack(signatures)
    status = m.get_model_status_pb2.GetModelStatusResponse()
    entry = status.model_version_status.add(version=2, state=m.get_model_status_pb2.ModelVersionStatus.AVAILABLE)
    entry.status.error_message = "none"
    config = m.model_server_config_pb2.ModelServerConfig()
    model = config.model_config_list.config.add(name="fakeweb", base_path="/models/fakeweb")
    model.model_platform = "tensorflow"
    model.model_version_policy.specific.versions.extend([1, 2])
    model.version_labels["stable"] = 1
    model.version_labels["canary"] = 2
    reload = m.model_management_pb2.ReloadConfigRequest(config=config)
    return {
        "PredictRequest": predict,
        "PredictResponse": response,
        "GetModelMetadataResponse": metadata,
        "GetModelStatusResponse": status,
        "ReloadConfigRequest": reload,
    }
"""

WIRE_PROBE = (
    """
import base64, json, sys
from types import SimpleNamespace
from tfserving_protos.tensorflow.core.framework import tensor_pb2, types_pb2
from tfserving_protos.tensorflow_serving.apis import (
    get_model_metadata_pb2, get_model_status_pb2, model_management_pb2, predict_pb2,
)
from tfserving_protos.tensorflow_serving.config import model_server_config_pb2
"""
    + BUILD
    + """
built = build(SimpleNamespace(**globals()))
theirs = json.loads(sys.stdin.read())
parsed = {}
for name, message in built.items():
    other = type(message).FromString(base64.b64decode(theirs[name]))
    parsed[name] = other == message and other.SerializeToString(deterministic=True) == base64.b64decode(theirs[name])
encoded = {n: base64.b64encode(m.SerializeToString(deterministic=True)).decode() for n, m in built.items()}
print(json.dumps({"tensorflow": "tensorflow" in sys.modules, "parsed": parsed, "made": encoded}))
"""
)


def test_vendored_and_official_messages_read_each_other_on_the_wire():
    namespace: dict[str, object] = {}
    exec(BUILD, namespace)  # the test's own message builder, shared with the subprocess
    official = SimpleNamespace(
        tensor_pb2=tensor_pb2,
        types_pb2=types_pb2,
        predict_pb2=predict_pb2,
        get_model_metadata_pb2=get_model_metadata_pb2,
        get_model_status_pb2=get_model_status_pb2,
        model_management_pb2=model_management_pb2,
        model_server_config_pb2=model_server_config_pb2,
    )
    ours = namespace["build"](official)
    sent = {n: base64.b64encode(m.SerializeToString(deterministic=True)).decode() for n, m in ours.items()}
    answer = json.loads(_python(WIRE_PROBE, stdin=json.dumps(sent)))
    assert answer["tensorflow"] is False  # the other side had only tfserving_protos
    assert answer["parsed"] == dict.fromkeys(ours, True)  # official bytes -> vendored classes
    for name, message in ours.items():  # vendored bytes -> official classes
        data = base64.b64decode(answer["made"][name])
        assert type(message).FromString(data) == message, name
        assert data == message.SerializeToString(deterministic=True), name
    signatures = get_model_metadata_pb2.SignatureDefMap()
    metadata = get_model_metadata_pb2.GetModelMetadataResponse.FromString(
        base64.b64decode(answer["made"]["GetModelMetadataResponse"])
    )
    assert metadata.metadata["signature_def"].Unpack(signatures)
    assert signatures.signature_def["serving_default"].inputs["image"].tensor_shape.dim[1].size == 224


def test_the_vendored_modules_load_without_tensorflow():
    probe = (
        "import importlib, json, sys\n"
        "from pathlib import Path\n"
        "root = Path('tfserving_protos')\n"
        "for path in sorted(root.rglob('*.py')):\n"
        "    if path.name != 'regenerate.py':\n"
        "        importlib.import_module('.'.join(path.with_suffix('').parts).removesuffix('.__init__'))\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'tensorflow_serving'))))\n"
    )
    assert json.loads(_python(probe)) == []
