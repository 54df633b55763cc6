# syntax=docker/dockerfile:1.7
# One file, two images:
#   docker build -t ocs:0.1.0 .                      # target cpu (default): Ray Serve, torch CPU
#   docker build --target gpu -t ocs:0.1.0-gpu .     # CUDA runtime, the `gpu` extra (vLLM)
# Both run as the non-root user 10001 (the chart's runAsUser), with a read-only root filesystem
# in mind: state goes to /var/run/ocs and /tmp, which the chart mounts as emptyDirs.
# A dashboard build stage (node, `npm ci && npm run build` into serving/dashboard/dist) goes
# before `runtime-cpu` once the dashboard exists.

ARG PYTHON_IMAGE=python:3.11.11-slim-bookworm
ARG CUDA_IMAGE=nvidia/cuda:12.8.1-cudnn-runtime-ubuntu24.04
ARG TORCH_CPU_INDEX=https://download.pytorch.org/whl/cpu

# ---- build (CPU): a virtualenv with torch CPU and the project ----
FROM ${PYTHON_IMAGE} AS build-cpu
ARG TORCH_CPU_INDEX
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
# torch first, from the CPU index: the default wheel would bring CUDA (gigabytes)
RUN pip install --index-url "${TORCH_CPU_INDEX}" torch==2.13.0
WORKDIR /src
COPY pyproject.toml README.md ./
COPY serving ./serving
COPY training ./training
# gcs: gs:// registry URIs, where the retraining CronJob exports models for the Predictors
# hadolint ignore=DL3013
RUN pip install ".[gcs]"

# ---- runtime (CPU), the default target ----
FROM ${PYTHON_IMAGE} AS cpu
# wget: KubeRay's health probes call it inside Ray containers
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends wget \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --gid 10001 ocs \
 && useradd --uid 10001 --gid ocs --home-dir /home/ocs --create-home --shell /usr/sbin/nologin ocs \
 && install -d -o 10001 -g 10001 /var/run/ocs /var/lib/ocs/registry
COPY --from=build-cpu /opt/venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    HOME=/home/ocs \
    OCS_STATE_DIR=/var/run/ocs \
    OCS_REGISTRY_DIR=/var/lib/ocs/registry \
    RAY_USAGE_STATS_ENABLED=0 \
    BENTOML_DO_NOT_TRACK=True
WORKDIR /home/ocs
USER 10001:10001
EXPOSE 8000
# KubeRay replaces the command with `ray start ...`; the CronJobs and the worker set their own.
CMD ["ocs", "serve", "--host", "0.0.0.0"]

# ---- build (GPU): vLLM picks its own CUDA torch ----
FROM ${CUDA_IMAGE} AS build-gpu
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 DEBIAN_FRONTEND=noninteractive
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 python3-venv python3-dev build-essential \
 && rm -rf /var/lib/apt/lists/*
RUN python3 -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /src
COPY pyproject.toml README.md ./
COPY serving ./serving
COPY training ./training
# The project itself; its GPU dependencies are pinned in pyproject.toml (vllm==0.33.0).
# hadolint ignore=DL3013
RUN pip install ".[gpu,gcs]"

# ---- runtime (GPU) ----
FROM ${CUDA_IMAGE} AS gpu
ENV DEBIAN_FRONTEND=noninteractive
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 wget \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --gid 10001 ocs \
 && useradd --uid 10001 --gid ocs --home-dir /home/ocs --create-home --shell /usr/sbin/nologin ocs \
 && install -d -o 10001 -g 10001 /var/run/ocs /var/lib/ocs/registry /var/lib/ocs/llm
COPY --from=build-gpu /opt/venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    HOME=/home/ocs \
    HF_HOME=/var/lib/ocs/llm \
    OCS_STATE_DIR=/var/run/ocs \
    OCS_REGISTRY_DIR=/var/lib/ocs/registry \
    RAY_USAGE_STATS_ENABLED=0 \
    BENTOML_DO_NOT_TRACK=True
WORKDIR /home/ocs
USER 10001:10001
EXPOSE 8000
CMD ["ocs", "serve", "--host", "0.0.0.0"]

# `docker build .` without --target builds the last stage; keep CPU the default.
FROM cpu AS default
