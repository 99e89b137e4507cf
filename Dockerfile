# syntax=docker/dockerfile:1
# One image for the operator (`workspace-link operator`, the default) and the runner Jobs
# (`python -m workspace_link.runner`, the command the Job builder sets).
#
# Two stages: the builder makes the wheel and installs it with its dependencies into a venv;
# the final stage copies only that venv onto a clean slim Python, so no compiler, pip cache,
# source tree or build backend ships. Both stages use the same base so the venv's interpreter
# path is valid in the final one.
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS builder
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PYTHONDONTWRITEBYTECODE=1
WORKDIR /src
# Only what the wheel needs (see .dockerignore): metadata first for a cacheable layer.
COPY pyproject.toml README.md ./
COPY operator/ operator/
# Byte-compile in the builder: the final root filesystem is read-only, nothing is written
# later. The runtime needs no installer in the venv either.
RUN python -m pip wheel --no-deps --wheel-dir /wheels . \
 && python -m venv /opt/venv \
 && /opt/venv/bin/pip install /wheels/*.whl \
 && /opt/venv/bin/python -m compileall -q /opt/venv/lib \
 && /opt/venv/bin/python -m pip uninstall -y pip setuptools wheel

FROM ${PYTHON_IMAGE}
LABEL org.opencontainers.image.title="workspace-link" \
      org.opencontainers.image.description="Workspace Link operator and flow runner" \
      org.opencontainers.image.licenses="Apache-2.0"
# A numeric user: the "restricted" Pod Security profile needs runAsNonRoot the kubelet can
# verify without a passwd lookup; the chart and the Job builder use the same 10001.
# pip and setuptools of the base image are build tools as well: they go.
RUN groupadd --gid 10001 workspace-link \
 && useradd --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent \
      --shell /usr/sbin/nologin workspace-link \
 && python -m pip uninstall -y pip setuptools wheel
COPY --from=builder /opt/venv /opt/venv
# The root filesystem is read-only and /tmp (an emptyDir in the pod) is the only writable
# path: HOME points there, bytecode is compiled already. The image also runs under an
# arbitrary UID with no passwd entry (OpenShift's restricted SCC): USER answers
# getpass.getuser(), which otherwise looks the UID up in /etc/passwd and fails (kopf calls it
# for its identity when POD_ID is not set).
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HOME=/tmp \
    USER=workspace-link
USER 10001:10001
WORKDIR /tmp
EXPOSE 8443 8081 8080
ENTRYPOINT ["workspace-link"]
CMD ["operator"]
