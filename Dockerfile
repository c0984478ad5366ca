# tiepdan's image: the runtime dependencies from requirements.lock (hashes checked), the
# package built from this tree, a non-root user. `docker compose up` (compose.yaml) runs it
# next to PostgreSQL; see README.md, "Running in containers".
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
RUN python -m venv /opt/tiepdan
# The lock alone first: this layer is rebuilt only when the dependencies change.
COPY requirements.lock /tmp/requirements.lock
RUN /opt/tiepdan/bin/pip install --require-hashes -r /tmp/requirements.lock
COPY pyproject.toml README.md /src/
COPY bot /src/bot
COPY handlers /src/handlers
COPY storage /src/storage
COPY locales /src/locales
# The build backend (setuptools) comes from the lock too, hence no build isolation.
RUN /opt/tiepdan/bin/pip install --no-deps --no-build-isolation /src

FROM ${PYTHON_IMAGE}
RUN groupadd --system --gid 10001 tiepdan \
    && useradd --system --uid 10001 --gid tiepdan --home-dir /srv/tiepdan --shell /usr/sbin/nologin tiepdan \
    && mkdir -p /srv/tiepdan/data \
    && chown -R tiepdan:tiepdan /srv/tiepdan
COPY --from=build /opt/tiepdan /opt/tiepdan
ENV PATH=/opt/tiepdan/bin:$PATH \
    PYTHONUNBUFFERED=1
# The working directory holds ./data: the SQLite database of a trial (DATABASE_URL's
# default) and the files of the console chat. With PostgreSQL everything is in the database.
WORKDIR /srv/tiepdan
VOLUME ["/srv/tiepdan/data"]
USER tiepdan
# WEB_PORT's default: the webhooks and GET /healthz.
EXPOSE 8080
ENTRYPOINT ["tiepdan"]
CMD ["run"]
