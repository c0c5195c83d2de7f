# kithost's container image: `kithost serve` on port 8000, state in the /data volume, every
# setting from KITHOST_* environment variables (README.md, docs/deploy.md).
#
#   podman build --format docker -t localhost/kithost .     (or: docker build -t kithost .)
#   podman run -p 8000:8000 -v kithost-data:/data -e KITHOST_DEMO_SIGNIN=true localhost/kithost
#
# BASE is any Debian-like image with Python >= 3.12 as `python3` (with its venv module) and
# useradd; the test suite builds on a local Debian image (tests/test_container_image.py).
ARG BASE=python:3.12-slim

# ---- dependencies: a virtual environment with kithost's pinned runtime dependencies -----------
FROM ${BASE} AS dependencies
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_ROOT_USER_ACTION=ignore
RUN python3 -m venv /opt/kithost
WORKDIR /build
# kithost's runtime requirements at the versions requirements.lock pins (the lock also pins the
# test tools, which stay out of the image). This stage, and the image's largest layer, are
# rebuilt only when pyproject.toml or the lock file change, not when the code does.
COPY pyproject.toml requirements.lock ./
RUN python3 -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" > runtime.txt \
 && /opt/kithost/bin/pip install --requirement runtime.txt --constraint requirements.lock

# ---- wheel: kithost itself, built from the source --------------------------------------------
FROM dependencies AS wheel
COPY README.md ./
COPY src ./src
RUN /opt/kithost/bin/pip wheel --no-deps --wheel-dir /wheels .

# ---- the image: the base, the environment, a user without privileges ---------------------------
FROM ${BASE}
RUN groupadd --gid 10001 kithost \
 && useradd --uid 10001 --gid 10001 --home-dir /data --no-create-home \
        --shell /usr/sbin/nologin kithost \
 && mkdir -p /data/files /workflows \
 && chown -R kithost:kithost /data
COPY --from=dependencies /opt/kithost /opt/kithost
COPY --from=wheel /wheels /tmp/wheels
RUN /opt/kithost/bin/pip install --no-deps --no-index --no-cache-dir --disable-pip-version-check \
        /tmp/wheels/*.whl \
 && rm -rf /tmp/wheels \
 && /opt/kithost/bin/kithost --help > /dev/null
ENV PATH=/opt/kithost/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    HOME=/data \
    KITHOST_HOST=0.0.0.0 \
    KITHOST_PORT=8000 \
    KITHOST_DATA_DIR=/data \
    KITHOST_WORKFLOWS_DIR=/workflows
# The SQLite database (when KITHOST_DATABASE_URL is unset), uploaded files' bytes (files/: a
# volume of its own there is one that replicas share, as in compose.yaml), the pid file.
VOLUME ["/data"]
WORKDIR /data
# Numeric, so that a runtime can tell it is not root (Kubernetes' runAsNonRoot).
USER 10001:10001
EXPOSE 8000
# 200 when the database answers; 503 while draining after SIGTERM (KITHOST_DRAIN_SECONDS).
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python3", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('KITHOST_PORT', '8000'), timeout=4)"]
ENTRYPOINT ["kithost"]
# Host and port come from KITHOST_HOST / KITHOST_PORT above, so `-e KITHOST_PORT=…` works;
# append options to run several processes: `… localhost/kithost serve --workers 4`.
CMD ["serve"]
