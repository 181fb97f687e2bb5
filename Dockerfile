# Multi-stage image for every component (ingress, worker, sink, admin): one image, the
# command picks.
FROM python:3.11-slim AS build
WORKDIR /src
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
# Every dependency, direct or transitive, at the version and hash of the lock.
COPY requirements/runtime.txt requirements/runtime.txt
RUN pip install --no-cache-dir --require-hashes --no-deps -r requirements/runtime.txt
COPY pyproject.toml README.md ./
# .dockerignore keeps benchmarks, dev-only helpers and tests out of these packages.
COPY admin admin
COPY common common
COPY ops ops
COPY ingress ingress
COPY streams streams
COPY sinks sinks
COPY schemas schemas
RUN pip install --no-cache-dir --no-deps .

FROM python:3.11-slim AS runtime
RUN useradd --create-home --uid 10001 payments
COPY --from=build /opt/venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1
USER payments
WORKDIR /home/payments
EXPOSE 8000 8001 9101 9102
HEALTHCHECK --interval=10s --timeout=3s --retries=5 \
  CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/health')" || exit 1
ENTRYPOINT ["payments"]
CMD ["ingress", "--host", "0.0.0.0"]
