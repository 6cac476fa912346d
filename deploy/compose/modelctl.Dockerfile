# syntax=docker/dockerfile:1
# FakeWeb modelctl: the `fakeweb` CLI with TensorFlow, for `fakeweb model deploy|promote|rollback|list`
# on the serving volume (/models). Compose runs it under the `tools` profile; Kubernetes as the
# `modelctl` toolbox pod next to TF Serving. Build from the repository root:
#   docker build -f deploy/compose/modelctl.Dockerfile -t fakeweb/modelctl .
ARG PYTHON_IMAGE=python:3.11.14-slim-bookworm

# --- build: a virtualenv with exactly the locked packages the CLI needs ---------------------------
FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore
RUN python -m venv /opt/venv
COPY requirements.lock /tmp/requirements.lock
COPY deploy/compose/modelctl-requirements.txt /tmp/requirements.txt
RUN /opt/venv/bin/pip install -r /tmp/requirements.txt -c /tmp/requirements.lock \
    && /opt/venv/bin/pip check

# --- runtime --------------------------------------------------------------------------------------
FROM ${PYTHON_IMAGE} AS runtime
# opencv-python (the locked build, not headless) links libGL.so.1 and GLib.
# Debian security updates move these versions, so they are not pinned (hadolint DL3008).
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends libgl1 libglib2.0-0 \
    && rm -rf /var/lib/apt/lists/*
RUN groupadd --system --gid 10001 fakeweb \
    && useradd --system --uid 10001 --gid fakeweb --home-dir /app --no-create-home \
       --shell /usr/sbin/nologin fakeweb
COPY --from=build /opt/venv /opt/venv
WORKDIR /app
COPY services/__init__.py services/__init__.py
COPY services/contract services/contract
COPY services/runtime services/runtime
COPY services/classifier services/classifier
COPY fakeweb_cli fakeweb_cli
COPY tfserving_protos tfserving_protos
RUN python -m compileall -q services fakeweb_cli tfserving_protos
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    HOME=/tmp \
    TF_CPP_MIN_LOG_LEVEL=2
USER 10001:10001
# A command-line tool, not a server: nothing to probe.
HEALTHCHECK NONE
ENTRYPOINT ["python", "-m", "fakeweb_cli"]
CMD ["model", "list"]
