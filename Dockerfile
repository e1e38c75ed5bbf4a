# syntax=docker/dockerfile:1
# Build a wheel in one stage; run it as a non-root user in a slim one. Every dependency comes
# from the hashed lock file requirements/runtime.txt (tools/lock.sh refreshes it).
FROM python:3.11-slim AS build
WORKDIR /src
COPY requirements/runtime.txt requirements/runtime.txt
RUN pip install --no-cache-dir --require-hashes --no-deps -r requirements/runtime.txt
COPY pyproject.toml README.md ./
COPY service ./service
COPY migrations ./migrations
RUN pip wheel --no-cache-dir --no-deps --no-build-isolation --wheel-dir /wheels .

FROM python:3.11-slim
RUN useradd --create-home --uid 10001 funnel
COPY requirements/runtime.txt /tmp/runtime.txt
RUN pip install --no-cache-dir --require-hashes --no-deps -r /tmp/runtime.txt && rm /tmp/runtime.txt
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir --no-deps /wheels/*.whl && rm -rf /wheels
USER funnel
WORKDIR /home/funnel
# Unset DATABASE_URL starts an embedded PostgreSQL under FUNNEL_DATA_DIR: mount a volume there.
ENV FUNNEL_DATA_DIR=/home/funnel/data \
    PYTHONUNBUFFERED=1
VOLUME ["/home/funnel/data"]
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s \
  CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2)"
# `serve` migrates the database, then serves.
ENTRYPOINT ["funnel-ledger"]
CMD ["serve", "--host", "0.0.0.0", "--port", "8000"]
