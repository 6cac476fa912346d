"""LOCAL STAND-IN for TensorFlow Serving, used where the real ``tensorflow/serving`` image cannot run.

Production (docker-compose) runs the real ``tensorflow/serving`` image with ``deploy/tfserving/``.
This package is a small gRPC server that speaks the same API from ``tensorflow_serving.apis``
(PredictionService: Predict, GetModelMetadata; ModelService: GetModelStatus,
HandleReloadConfigRequest) over the same model repository layout
(``<base>/<name>/<version>/saved_model.pb``) and the same text-format ``models.config``, so the
classifier and ``fakeweb model`` cannot tell the two apart. Known differences are listed in
``deploy/local/serving/README.md``. Run it with ``python -m deploy.local.serving``.
"""
