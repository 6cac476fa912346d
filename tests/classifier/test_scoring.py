"""Routing and batching rules of the classifier, without servers."""

from __future__ import annotations

import numpy as np
import pytest
from tensorflow.core.framework import types_pb2
from tensorflow.core.protobuf import meta_graph_pb2
from tensorflow_serving.apis import get_model_metadata_pb2

from services.classifier.scoring import (
    ModelConfigurationError,
    canary_fraction,
    configured_routes,
    main_route,
    prepare_batch,
    route_for_job,
)
from services.classifier.serving_client import ModelIncompatible, ModelRoute, parse_signature
from services.contract.settings import Settings


def test_canary_share_splits_jobs_deterministically():
    settings = Settings(canary_share=0.3)
    job_ids = [f"job-{i}" for i in range(2000)]
    routes = [route_for_job(settings, job_id) for job_id in job_ids]
    assert routes == [route_for_job(settings, job_id) for job_id in job_ids], "same job, same route"
    canary = sum(route.label == "canary" for route in routes)
    assert 0.25 < canary / len(job_ids) < 0.35
    assert {route.label for route in routes} == {"canary", "stable"}
    assert all(0.0 <= canary_fraction(job_id) < 1.0 for job_id in job_ids)


def test_routes_follow_the_settings():
    assert main_route(Settings()) == ModelRoute("fakeweb")
    assert main_route(Settings(model_version=4)) == ModelRoute("fakeweb", version=4)
    assert main_route(Settings(model_label="blue")) == ModelRoute("fakeweb", label="blue")
    assert main_route(Settings(canary_share=0.1)) == ModelRoute("fakeweb", label="stable")
    assert route_for_job(Settings(canary_share=0.0), "x") == ModelRoute("fakeweb")
    assert route_for_job(Settings(canary_share=1.0), "x") == ModelRoute("fakeweb", label="canary")
    assert configured_routes(Settings(model_label="blue", canary_share=0.5)) == [
        ModelRoute("fakeweb", label="blue"),
        ModelRoute("fakeweb", label="canary"),
    ]


def test_contradicting_settings_are_a_configuration_error():
    with pytest.raises(ModelConfigurationError):
        configured_routes(Settings(model_version=2, model_label="stable"))
    with pytest.raises(ModelConfigurationError):
        configured_routes(Settings(model_version=2, canary_share=0.2))


def _metadata(inputs: dict[str, tuple[list[int], int]], outputs: list[str], version: int = 7):
    signature = meta_graph_pb2.SignatureDef(method_name="tensorflow/serving/predict")
    for name, (dims, dtype) in inputs.items():
        info = signature.inputs[name]
        info.dtype = dtype
        for size in dims:
            info.tensor_shape.dim.add(size=size)
    for name in outputs:
        signature.outputs[name].dtype = types_pb2.DT_FLOAT
    signatures = get_model_metadata_pb2.SignatureDefMap()
    signatures.signature_def["serving_default"].CopyFrom(signature)
    response = get_model_metadata_pb2.GetModelMetadataResponse()
    response.model_spec.name = "m"
    response.model_spec.version.value = version
    response.metadata["signature_def"].Pack(signatures)
    return response


def test_signature_is_learned_from_metadata():
    signature = parse_signature(_metadata({"pixels": ([8, 160, 128, 3], types_pb2.DT_FLOAT)}, ["score"]))
    assert (signature.input_name, signature.height, signature.width) == ("pixels", 160, 128)
    assert signature.dtype is np.float32 and signature.batch_limit == 8
    assert (signature.output_name, signature.version) == ("score", 7)
    two_outputs = parse_signature(
        _metadata({"image": ([-1, 224, 224, 3], types_pb2.DT_UINT8)}, ["logits", "manipulated_probability"])
    )
    assert two_outputs.output_name == "manipulated_probability" and two_outputs.batch_limit is None


@pytest.mark.parametrize(
    ("inputs", "outputs"),
    [
        ({"image": ([-1, 224, 224, 3], types_pb2.DT_UINT8), "mask": ([-1], types_pb2.DT_UINT8)}, ["p"]),
        ({"image": ([-1, 224, 224], types_pb2.DT_UINT8)}, ["p"]),
        ({"image": ([-1, -1, -1, 3], types_pb2.DT_UINT8)}, ["p"]),
        ({"image": ([-1, 224, 224, 3], types_pb2.DT_STRING)}, ["p"]),
        ({"image": ([-1, 224, 224, 3], types_pb2.DT_UINT8)}, ["a", "b"]),
    ],
)
def test_signatures_fakeweb_cannot_call_are_refused(inputs, outputs):
    with pytest.raises(ModelIncompatible):
        parse_signature(_metadata(inputs, outputs))


def test_prepare_batch_resizes_and_casts_to_the_model_input():
    signature = parse_signature(_metadata({"pixels": ([-1, 112, 96, 3], types_pb2.DT_FLOAT)}, ["p"]))
    crops = [np.full((224, 224, 3), 200, np.uint8), np.zeros((112, 96, 3), np.uint8)]
    batch = prepare_batch(crops, signature)
    assert batch.shape == (2, 112, 96, 3) and batch.dtype == np.float32
    assert batch[0].min() == 200 and batch[1].max() == 0
