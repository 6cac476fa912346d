# syntax=docker/dockerfile:1
# FakeWeb model bundle: the SavedModel versions under deploy/models and TF Serving's config under
# deploy/tfserving, plus a one-shot script that copies them into the serving volume.
# Compose runs it as the `models-init` service; Kubernetes as the init container of TF Serving.
# A new model version ships as a new tag of this image.
FROM busybox:1.37.0
COPY deploy/models /bundle/models
COPY deploy/tfserving /bundle/tfserving
COPY --chmod=0755 deploy/compose/models-init.sh /usr/local/bin/models-init
RUN mkdir -p /models && chown 10001:10001 /models
USER 10001:10001
HEALTHCHECK NONE
ENTRYPOINT ["/usr/local/bin/models-init"]
