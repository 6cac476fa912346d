"""TF Serving's gRPC services (PredictionService, ModelService) over a ModelRegistry."""

from __future__ import annotations

import logging
from concurrent import futures
from pathlib import Path

import grpc
from google.protobuf import any_pb2
from tensorflow_serving.apis import (
    get_model_metadata_pb2,
    get_model_status_pb2,
    model_management_pb2,
    model_service_pb2_grpc,
    predict_pb2,
    prediction_service_pb2_grpc,
)

from deploy.local.serving.config import ConfigError, resolve_base_paths
from deploy.local.serving.registry import LabelError, ModelRegistry
from deploy.local.serving.servable import ServingError

log = logging.getLogger(__name__)

MAX_MESSAGE_BYTES = 64 * 1024 * 1024
SIGNATURE_DEF_FIELD = "signature_def"
_FAILED_PRECONDITION = 9  # tensorflow.error.Code


def _abort(context: grpc.ServicerContext, error: ServingError) -> None:
    context.abort(error.code, error.message)


class PredictionService(prediction_service_pb2_grpc.PredictionServiceServicer):
    """Predict and GetModelMetadata; Classify, Regress and MultiInference stay UNIMPLEMENTED."""

    def __init__(self, registry: ModelRegistry) -> None:
        self.registry = registry

    def Predict(
        self, request: predict_pb2.PredictRequest, context: grpc.ServicerContext
    ) -> predict_pb2.PredictResponse:
        try:
            servable = self.registry.resolve(request.model_spec)
            outputs = servable.predict(request)
        except ServingError as error:
            _abort(context, error)
        response = predict_pb2.PredictResponse()
        response.model_spec.name = servable.name
        response.model_spec.version.value = servable.version
        response.model_spec.signature_name = request.model_spec.signature_name or "serving_default"
        for name, tensor in outputs.items():
            response.outputs[name].CopyFrom(tensor)
        return response

    def GetModelMetadata(
        self, request: get_model_metadata_pb2.GetModelMetadataRequest, context: grpc.ServicerContext
    ) -> get_model_metadata_pb2.GetModelMetadataResponse:
        try:
            if list(request.metadata_field) != [SIGNATURE_DEF_FIELD]:
                unsupported = [f for f in request.metadata_field if f != SIGNATURE_DEF_FIELD] or ["(none)"]
                raise ServingError(
                    grpc.StatusCode.INVALID_ARGUMENT, f"Metadata field {unsupported[0]} is not supported"
                )
            servable = self.registry.resolve(request.model_spec)
        except ServingError as error:
            _abort(context, error)
        signature_map = get_model_metadata_pb2.SignatureDefMap()
        for key, signature in servable.signature_defs.items():
            signature_map.signature_def[key].CopyFrom(signature)
        packed = any_pb2.Any()
        packed.Pack(signature_map)
        response = get_model_metadata_pb2.GetModelMetadataResponse()
        response.model_spec.name = servable.name
        response.model_spec.version.value = servable.version
        response.metadata[SIGNATURE_DEF_FIELD].CopyFrom(packed)
        return response


class ModelService(model_service_pb2_grpc.ModelServiceServicer):
    """GetModelStatus and HandleReloadConfigRequest."""

    def __init__(self, registry: ModelRegistry, config_folder: Path) -> None:
        self.registry = registry
        self.config_folder = config_folder

    def GetModelStatus(
        self, request: get_model_status_pb2.GetModelStatusRequest, context: grpc.ServicerContext
    ) -> get_model_status_pb2.GetModelStatusResponse:
        spec = request.model_spec
        version = spec.version.value if spec.HasField("version") else None
        try:
            statuses = self.registry.statuses(spec.name, version)
        except ServingError as error:
            _abort(context, error)
        response = get_model_status_pb2.GetModelStatusResponse()
        for number, status in statuses:
            entry = response.model_version_status.add()
            entry.version = number
            entry.state = status.state
            entry.status.error_code = status.error_code
            entry.status.error_message = status.error_message
        return response

    def HandleReloadConfigRequest(
        self, request: model_management_pb2.ReloadConfigRequest, context: grpc.ServicerContext
    ) -> model_management_pb2.ReloadConfigResponse:
        config = resolve_base_paths(request.config, self.config_folder)
        try:
            self.registry.apply_config(config)
        except LabelError as exc:
            context.abort(grpc.StatusCode.FAILED_PRECONDITION, str(exc))
        except ConfigError as exc:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(exc))
        log.info("config reloaded over gRPC: %s", [m.name for m in config.model_config_list.config])
        return model_management_pb2.ReloadConfigResponse()


def grpc_options() -> list[tuple[str, int]]:
    """Channel/server options: message limits raised to 64 MiB on both directions."""
    return [
        ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
        ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
    ]


def make_server(
    registry: ModelRegistry, address: str, config_folder: Path, workers: int = 8
) -> tuple[grpc.Server, int]:
    """A gRPC server with both services bound to ``address``; return it (not started) and its port."""
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=workers), options=grpc_options())
    prediction_service_pb2_grpc.add_PredictionServiceServicer_to_server(PredictionService(registry), server)
    model_service_pb2_grpc.add_ModelServiceServicer_to_server(ModelService(registry, config_folder), server)
    port = server.add_insecure_port(address)
    if port == 0:
        raise OSError(f"cannot bind {address}")
    return server, port
