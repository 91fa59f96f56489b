# syntax=docker/dockerfile:1.7@sha256:a57df69d0ea827fb7266491f2813635de6f17269be881f696fbfdf2d83dda33e
# clipn-sidecar images. Targets:
#   runtime  (default) `clipn serve` on CPU:           docker build -t clipn-sidecar .
#   cuda     `clipn serve` with the CUDA provider:     docker build --target cuda -t clipn-sidecar:cuda .
#   trainer  `clipn train` (Node + the Python kernel): docker build --target trainer -t clipn-sidecar:trainer .
# No model is baked in: mount one at /models and point CLIPN_MODEL__DIR at it.

# Base images are pinned by digest (a tag can be moved to other bytes); the tag says what the
# digest is. Refresh both together (docs/deploy.md, Supply chain):
#   docker buildx imagetools inspect node:24.19.0-bookworm-slim --format '{{json .Manifest.Digest}}'
# Node 24 LTS, the release scripts/node.sh installs for local runs and CI: keep the two in step.
# and check with `python3 helm/tools/check-dockerfile.py Dockerfile .dockerignore`.
ARG NODE_IMAGE=node:24.19.0-bookworm-slim@sha256:a9f5f7c91a432850b2a8a7797adf5eadb6c733ceed61167806cee7ea7fbc29df
# onnxruntime-node 1.30's CUDA provider is built for CUDA 12 with cuDNN 9.
ARG CUDA_IMAGE=nvidia/cuda:12.8.1-cudnn-runtime-ubuntu24.04@sha256:ac55d124da4882b497f732d8dfd9a702d5447a5f29d08d56da6f64f0a1eb34bc

# ---- build: compile TypeScript to dist/ (dev dependencies live only here)
FROM ${NODE_IMAGE} AS build
WORKDIR /src
ENV ONNXRUNTIME_NODE_INSTALL=skip
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json ./
COPY src ./src
COPY plugins ./plugins
# Only src/ and the bundled plugins go into the image: the repository's tsconfig also covers tests and benches.
RUN printf '{"extends":"./tsconfig.json","include":["src/**/*.ts","plugins/**/*.ts"],"compilerOptions":{"sourceMap":false}}' > tsconfig.image.json \
 && npx tsc -p tsconfig.image.json

# ---- deps: production node_modules; onnxruntime-node's install script fetches nothing on CPU
FROM ${NODE_IMAGE} AS deps
WORKDIR /app
ENV ONNXRUNTIME_NODE_INSTALL=skip
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force

# ---- deps-cuda: the same, plus the CUDA 12 provider libraries that onnxruntime-node's install
# script downloads into node_modules/onnxruntime-node/bin/napi-v6/linux/x64 (its flag value "cuda12")
FROM ${NODE_IMAGE} AS deps-cuda
WORKDIR /app
ENV ONNXRUNTIME_NODE_INSTALL=cuda12
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force \
 && test -f node_modules/onnxruntime-node/bin/napi-v6/linux/x64/libonnxruntime_providers_cuda.so

# ---- app: the package files every variant runs (no models/, no tests)
FROM scratch AS app
COPY package.json /app/package.json
COPY bin /app/bin
COPY schemas /app/schemas
COPY --from=build /src/dist/src /app/dist/src
COPY --from=build /src/dist/plugins /app/dist/plugins

# ---- runtime: small CPU image, non-root
FROM ${NODE_IMAGE} AS runtime
# libuv threads: image decodes (images.decodeConcurrency, 4) must not starve DNS and file reads.
# glibc: a fixed 128 KiB mmap threshold hands the large buffers freed after a graph loads back to
# the system, and 2 arenas keep threads from holding memory apart; with the defaults the
# inference worker's arena keeps them (about 200 MiB more peak RSS on ViT-B-16, docs/deploy.md).
ENV NODE_ENV=production \
    UV_THREADPOOL_SIZE=8 \
    GLIBC_TUNABLES=glibc.malloc.mmap_threshold=131072:glibc.malloc.arena_max=2 \
    CLIPN_MODEL__CACHE_DIR=/var/cache/clipn \
    CLIPN_TELEMETRY__HTTP__PORT=9464
RUN groupadd --system --gid 10001 clipn \
 && useradd --system --uid 10001 --gid 10001 --home-dir /nonexistent --no-create-home --shell /usr/sbin/nologin clipn \
 && mkdir -p /models /var/cache/clipn && chown 10001:10001 /var/cache/clipn
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY --from=app /app ./
USER 10001:10001
VOLUME ["/models"]
EXPOSE 9464
ENTRYPOINT ["node", "bin/clipn.js"]
CMD ["serve", "--config", "/etc/clipn/config.json"]

# ---- cuda: the same on an NVIDIA CUDA runtime base; Node comes from the official image
FROM ${NODE_IMAGE} AS node
FROM ${CUDA_IMAGE} AS cuda
ENV NODE_ENV=production \
    UV_THREADPOOL_SIZE=8 \
    GLIBC_TUNABLES=glibc.malloc.mmap_threshold=131072:glibc.malloc.arena_max=2 \
    CLIPN_MODEL__CACHE_DIR=/var/cache/clipn \
    CLIPN_TELEMETRY__HTTP__PORT=9464 \
    CLIPN_MODEL__EXECUTION_PROVIDERS=cuda,cpu \
    NVIDIA_VISIBLE_DEVICES=all \
    NVIDIA_DRIVER_CAPABILITIES=compute,utility
COPY --from=node /usr/local/bin/node /usr/local/bin/node
RUN groupadd --system --gid 10001 clipn \
 && useradd --system --uid 10001 --gid 10001 --home-dir /nonexistent --no-create-home --shell /usr/sbin/nologin clipn \
 && mkdir -p /models /var/cache/clipn && chown 10001:10001 /var/cache/clipn
WORKDIR /app
COPY --from=deps-cuda /app/node_modules ./node_modules
COPY --from=app /app ./
USER 10001:10001
VOLUME ["/models"]
EXPOSE 9464
ENTRYPOINT ["node", "bin/clipn.js"]
CMD ["serve", "--config", "/etc/clipn/config.json"]

# ---- trainer: the runtime plus python3 and the training/ kernel in a venv. Every Python package
# comes from training/requirements.lock, pinned with its sha256 (--require-hashes); PyPI's torch
# wheels for Linux bundle the CUDA 12 libraries, so the trainer can also train on a GPU.
FROM runtime AS trainer
USER 0:0
ENV CLIPN_TRAINER__PYTHON_BIN=/opt/clipn-venv/bin/python \
    CLIPN_TRAINER__SAMPLES_DIR=/var/lib/clipn/samples \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3=3.11.* python3-venv=3.11.* \
 && rm -rf /var/lib/apt/lists/* \
 && python3 -m venv /opt/clipn-venv \
 && mkdir -p /var/lib/clipn/samples && chown 10001:10001 /var/lib/clipn/samples
COPY training/requirements.lock /opt/clipn-src/training/requirements.lock
RUN /opt/clipn-venv/bin/pip install --require-hashes -r /opt/clipn-src/training/requirements.lock
COPY training/pyproject.toml /opt/clipn-src/training/pyproject.toml
COPY training/clipn_kernel /opt/clipn-src/training/clipn_kernel
# The kernel alone: its dependencies and its build backend (setuptools) are already the locked ones.
RUN /opt/clipn-venv/bin/pip install --no-deps --no-build-isolation /opt/clipn-src/training && rm -rf /opt/clipn-src
USER 10001:10001
CMD ["train", "--config", "/etc/clipn/config.json"]

# The default target is the CPU runtime.
FROM runtime
