# immich-server stand-in, one image per version (tests/lab/immich_images.sh passes the build args).
FROM keepsake-lab/immich-base:1
ARG STANDIN_VERSION
ARG STANDIN_BROKEN=0
ARG SOURCE_HASH
LABEL keepsake-lab.source-hash=$SOURCE_HASH org.opencontainers.image.version=$STANDIN_VERSION
ENV STANDIN_VERSION=$STANDIN_VERSION STANDIN_BROKEN=$STANDIN_BROKEN
COPY standin-httpd /usr/local/bin/standin-httpd
COPY server-entrypoint.sh /usr/local/bin/standin-immich-server
# Like Immich's immich-healthcheck: the server's own ping, short timings so that tests are fast.
HEALTHCHECK --interval=2s --timeout=2s --retries=3 --start-period=5s \
  CMD busybox wget -q -O /dev/null "http://127.0.0.1:${IMMICH_PORT:-2283}/api/server/ping" || exit 1
ENTRYPOINT ["/usr/local/bin/standin-immich-server"]
