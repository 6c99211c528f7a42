# Parley in a container: a build stage with the Swift toolchain, and a slim runtime with the binary, its resource
# bundles and the one shared library it needs (hiredis). `docker compose` builds it as parley:latest.

FROM swift:6.3-bookworm AS build
RUN apt-get update \
    && apt-get install -y --no-install-recommends libhiredis-dev \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
# Dependencies first, so that a change to the sources reuses their layer.
COPY Package.swift ./
RUN swift package resolve
COPY Plugins ./Plugins
COPY Sources ./Sources
COPY Tests ./Tests
# The schema: built into the binary, and shipped beside it for operators to read.
COPY migrations ./migrations
RUN swift build -c release --product parley --static-swift-stdlib \
    && mkdir -p /out \
    && bin="$(swift build -c release --show-bin-path)" \
    && cp "$bin/parley" /out/ \
    && cp -R "$bin"/*.resources /out/ \
    && cp -R migrations /out/migrations

FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends libhiredis0.14 ca-certificates curl \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --home-dir /app parley
WORKDIR /app
COPY --from=build /out/ /app/
USER parley
ENV PARLEY_HOST=0.0.0.0 PARLEY_PORT=8080 PARLEY_SQLITE_PATH=/app/data/parley.sqlite
EXPOSE 8080
# SIGTERM drains the node (sockets close with 1012) before it stops.
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=5s --timeout=2s --start-period=10s CMD curl -fsS http://127.0.0.1:8080/readyz || exit 1
ENTRYPOINT ["/app/parley"]
CMD ["serve"]
