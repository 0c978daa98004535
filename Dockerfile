# The mock in a container, serving the default data set on port 4010 to other hosts:
#   docker build -t mockserver .
#   docker run --rm -p 4010:4010 -e MOCKSERVER_ADMIN_TOKEN=secret mockserver
# MOCKSERVER_HOST and MOCKSERVER_PORT hold the address, so a command of your own (`serve --scenario …`)
# listens where the host can reach it too; the health check fails while nothing outside could.
# Without MOCKSERVER_ADMIN_TOKEN, /__admin answers 403 to every client outside the container (the
# host's included: its requests arrive from the bridge's address, not loopback). See docs/install.md, "Container".
# BASE: any Debian-like image with python3 (3.11 or newer) and its venv module.
ARG BASE=python:3.11-slim

FROM ${BASE} AS wheel
WORKDIR /src
COPY . .
RUN python3 -m venv /opt/build \
    && /opt/build/bin/pip wheel --no-cache-dir --disable-pip-version-check --no-deps --wheel-dir /wheels .

FROM ${BASE}
COPY --from=wheel /wheels /wheels
RUN python3 -m venv /opt/mockserver \
    && /opt/mockserver/bin/pip install --no-cache-dir --disable-pip-version-check /wheels/*.whl \
    && rm -r /wheels \
    && useradd --create-home --uid 10001 mockserver
ENV PATH=/opt/mockserver/bin:$PATH PYTHONUNBUFFERED=1 MOCKSERVER_HOST=0.0.0.0 MOCKSERVER_PORT=4010
USER mockserver
WORKDIR /home/mockserver
EXPOSE 4010
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s CMD ["python3", "-m", "mockserver.serving.healthcheck"]
ENTRYPOINT ["mockserver"]
CMD ["serve"]
