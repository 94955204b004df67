# Database stand-in for ghcr.io/immich-app/postgres: the lab's PostgreSQL 15 image with an
# entrypoint that behaves like the official postgres image's for the variables Immich uses.
FROM keepsake-lab/postgres:15
ARG SOURCE_HASH
LABEL keepsake-lab.source-hash=$SOURCE_HASH
ENV PGDATA=/var/lib/postgresql/data
COPY postgres-entrypoint.sh /usr/local/bin/standin-postgres
# SIGINT is PostgreSQL's fast shutdown: `docker stop` returns at once with a clean cluster.
STOPSIGNAL SIGINT
HEALTHCHECK --interval=2s --timeout=3s --retries=5 --start-period=10s \
  CMD pg_isready -q -h /var/run/postgresql -p "${PGPORT:-5432}" -U "${POSTGRES_USER:-postgres}" || exit 1
ENTRYPOINT ["/usr/local/bin/standin-postgres"]
CMD []
