# Linli (邻里) container image.
#
#   docker build -t linli .
#   docker run --rm -e SECRET_KEY=... -p 8000:8000 linli            # forum serve
#   docker run --rm -e DATABASE_URL=... linli forum db upgrade       # migrations
#
# The app reads templates/ and static/ from the directory next to the forum/ package, so the source tree is
# kept as it is at /app and the project is installed into the venv in editable mode (the venv only points
# at /app). Builder and runtime stages use the same base image, so the venv's interpreter path is the same.

ARG PYTHON_IMAGE=python:3.11-slim

# ---------------------------------------------------------------------------------------------------------
FROM ${PYTHON_IMAGE} AS builder

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1

RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH

WORKDIR /app

# Dependencies first, in their own layer: it is rebuilt only when pyproject.toml changes.
COPY pyproject.toml ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" \
        > /tmp/requirements.txt \
    && pip install -r /tmp/requirements.txt

# Then the source tree, and the project itself (console script `forum`), without touching the dependencies.
COPY . .
RUN pip install --no-deps -e /app \
    && python -m compileall -q /app/forum /app/realtime

# ---------------------------------------------------------------------------------------------------------
FROM ${PYTHON_IMAGE} AS runtime

RUN groupadd --system --gid 10001 linli \
    && useradd --system --uid 10001 --gid linli --home-dir /app --no-create-home --shell /usr/sbin/nologin linli \
    && mkdir -p /data \
    && chown linli:linli /data

# Code and venv stay owned by root (read-only for the app); only /data is writable.
COPY --from=builder /opt/venv /opt/venv
COPY --from=builder /app /app

# MALLOC_ARENA_MAX=2: glibc's malloc gives threads that allocate at the same time arenas of their own (up to 8 per
# core) and keeps each arena's freed memory for reuse by that arena. A thread that once decoded a large photo
# holds tens of MB that way for good; one process decoding 40-megapixel photos on asyncio's six default threads
# went from 200 to 500-670 MB. Linli now decodes pictures in two threads of its own and hands their memory back
# after each picture (forum/web/uploads.py: 200 to 203 MB); this limit is the second line for every other thread
# (asyncio's default pool, the SQLite driver's) and for a C library without malloc_trim. docs/performance.md,
# "Memory under photo uploads".
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    MALLOC_ARENA_MAX=2 \
    FORUM_ENV=production \
    HOST=0.0.0.0 \
    PORT=8000 \
    VAR_DIR=/data

WORKDIR /app
USER linli:linli
VOLUME ["/data"]
EXPOSE 8000

# No curl in the slim image: urllib raises (exit 1) on a connection error or on the 503 of an unhealthy app.
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('PORT', '8000'), timeout=4)"]

CMD ["forum", "serve"]
