# valkey stand-in: real redis-server (and redis-cli on PATH) from the base image. No healthcheck:
# the stack spec gives one (redis-cli ping), as Immich's compose file does.
FROM keepsake-lab/immich-base:1
ARG SOURCE_HASH
LABEL keepsake-lab.source-hash=$SOURCE_HASH
COPY valkey-entrypoint.sh /usr/local/bin/standin-valkey
ENTRYPOINT ["/usr/local/bin/standin-valkey"]
