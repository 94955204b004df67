# immich-machine-learning stand-in, one image per version.
FROM keepsake-lab/immich-base:1
ARG STANDIN_VERSION
ARG SOURCE_HASH
LABEL keepsake-lab.source-hash=$SOURCE_HASH org.opencontainers.image.version=$STANDIN_VERSION
ENV STANDIN_VERSION=$STANDIN_VERSION
COPY standin-httpd /usr/local/bin/standin-httpd
COPY ml-entrypoint.sh /usr/local/bin/standin-immich-ml
HEALTHCHECK --interval=2s --timeout=2s --retries=3 --start-period=5s \
  CMD busybox wget -q -O /dev/null "http://127.0.0.1:${MACHINE_LEARNING_PORT:-3003}/ping" || exit 1
ENTRYPOINT ["/usr/local/bin/standin-immich-ml"]
