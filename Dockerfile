# Parley in containers: a build stage with the Swift toolchain; the recorder worker's runtime (`--target recorder`,
# parley-peer record-worker with Debian's GStreamer); and, last and so the default, a node's slim runtime with the
# binary, its resource bundles and the one shared library it needs (hiredis). `docker compose` builds them as
# parley-recorder:latest and parley:latest.

FROM swift:6.3-bookworm AS build
RUN apt-get update \
    && apt-get install -y --no-install-recommends libhiredis-dev libgstreamer-plugins-bad1.0-dev \
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
RUN swift build -c release --product parley-peer --static-swift-stdlib \
    && mkdir -p /out-recorder \
    && cp "$(swift build -c release --show-bin-path)/parley-peer" /out-recorder/

# The recorder worker: it claims recording jobs from the nodes (PARLEY_SERVER, PARLEY_RECORDER_SECRET) and records
# into its spool, a volume, so that a worker started again posts what a killed one left.
FROM debian:bookworm-slim AS recorder
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates libgstreamer-plugins-bad1.0-0 gstreamer1.0-plugins-base \
        gstreamer1.0-plugins-good gstreamer1.0-plugins-bad gstreamer1.0-nice \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --home-dir /app parley \
    && mkdir -p /spool && chown parley /spool
WORKDIR /app
COPY --from=build /out-recorder/ /app/
USER parley
ENV PARLEY_RECORDER_SPOOL=/spool
# SIGTERM finishes and posts the recording under way before the worker stops.
STOPSIGNAL SIGTERM
ENTRYPOINT ["/app/parley-peer", "record-worker"]

FROM debian:bookworm-slim AS node
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
