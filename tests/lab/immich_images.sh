#!/usr/bin/env bash
# Builds the Immich stand-in images and pushes them to the lab's loopback registry, so that tests
# pull, update and roll back the Immich stack for real (Immich's own images cannot be pulled here).
# Called by `tests/lab/lab.sh start immich`; sources/Dockerfiles are in tests/lab/immich/.
# It knows the image names and how to build them, not how the lab runs components.
#
#   immich_images.sh LAB_DIR LOGFILE    build + push what is missing, then print KEY=VALUE lines
#                                       (the KEEPSAKE_LAB_IMMICH_* exports) on stdout
#
# Needs the docker engine, the registry on $REGISTRY (default 127.0.0.1:5000) and the image
# keepsake-lab/postgres:15 (lab component pgcontainer). An image whose tag is already in the
# registry with the label keepsake-lab.source-hash equal to the hash of tests/lab/immich/* and
# this script is not rebuilt. After a push the local tag is removed, so that a test or the agent
# that runs one of these images pulls it from the registry for real.
set -euo pipefail

SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
LAB_DIR=${1:?usage: immich_images.sh LAB_DIR LOGFILE}
LOGF=${2:?usage: immich_images.sh LAB_DIR LOGFILE}
REGISTRY=${REGISTRY:-127.0.0.1:5000}
VERSIONS=(v3.1.0 v3.2.0 v3.2.2)
BROKEN=v3.2.2
BASE_IMAGE=keepsake-lab/immich-base:1
BASE_TARBALL=$LAB_DIR/images/immich-base-12.tar
PG_IMAGE=keepsake-lab/postgres:15
SERVER_REPO=immich-app/immich-server
ML_REPO=immich-app/immich-machine-learning
REDIS_REF=valkey/valkey:8
POSTGRES_REF=immich-app/postgres:15-vectorchord0.4.3-pgvectors0.2.0

# shellcheck disable=SC1091 # checked on its own
source "$SRC/rootfs.sh"

die() { printf 'immich_images: %s\n' "$*" >&2; exit 1; }
note() { printf '==== %s: %s\n' "$(date -Is)" "$*" >>"$LOGF"; }

# The source hash: every file the images are made of, and this script (it holds the build args).
source_hash() {
  (cd "$SRC" && sha256sum immich/* immich_images.sh) | sha256sum | cut -c1-64
}

reg_curl() { curl --noproxy '*' -fsS --max-time 10 "$@"; }
MANIFEST_V2=application/vnd.docker.distribution.manifest.v2+json

# registry_digest NAME TAG: the manifest digest of NAME:TAG in the registry, empty if absent.
registry_digest() {
  reg_curl -I -H "Accept: $MANIFEST_V2" "http://$REGISTRY/v2/$1/manifests/$2" 2>/dev/null |
    tr -d '\r' | awk 'tolower($1) == "docker-content-digest:" { print $2 }'
}

# registry_hash NAME TAG: the image's keepsake-lab.source-hash label, read from its config blob in
# the registry (no pull), empty if absent.
registry_hash() {
  local cfg
  cfg=$(reg_curl -H "Accept: $MANIFEST_V2" "http://$REGISTRY/v2/$1/manifests/$2" 2>/dev/null |
    tr -d ' \n\t' | grep -o '"config":{[^}]*}' | grep -o 'sha256:[0-9a-f]\{64\}' | head -n 1) || return 0
  [[ -n $cfg ]] || return 0
  reg_curl -L "http://$REGISTRY/v2/$1/blobs/$cfg" 2>/dev/null |
    grep -o '"keepsake-lab.source-hash":"[0-9a-f]*"' | head -n 1 | cut -d'"' -f4 || true
}

ensure_base() {
  docker image inspect "$BASE_IMAGE" >/dev/null 2>&1 && return 0
  if [[ ! -s $BASE_TARBALL ]]; then
    note "debootstrap of bookworm with postgresql-client redis-server busybox-static"
    rootfs_tarball "$BASE_TARBALL.full" "$LOGF" postgresql-client,redis-server,busybox-static ||
      die "debootstrap of the base rootfs failed (see $LOGF)"
    # no apt caches: a smaller image, nothing lost
    tar --delete --wildcards -f "$BASE_TARBALL.full" './var/cache/apt/archives/*.deb' \
      './var/lib/apt/lists/*_Packages' >>"$LOGF" 2>&1 || {
      rm -f "$BASE_TARBALL.full"
      die "could not trim $BASE_TARBALL.full (see $LOGF)"
    }
    mv "$BASE_TARBALL.full" "$BASE_TARBALL"
  fi
  note "docker import $BASE_TARBALL as $BASE_IMAGE"
  docker import \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'ENV LANG=C.UTF-8' \
    --change 'CMD ["/bin/sh"]' \
    "$BASE_TARBALL" "$BASE_IMAGE" >>"$LOGF" 2>&1 || die "docker import of $BASE_TARBALL failed (see $LOGF)"
}

# build_push NAME TAG DOCKERFILE [BUILD-ARG...]: build $REGISTRY/NAME:TAG unless the registry has
# it with this source hash; push; drop the local tag.
build_push() {
  local name=$1 tag=$2 dockerfile=$3 ref arg args=()
  shift 3
  ref=$REGISTRY/$name:$tag
  if [[ $(registry_hash "$name" "$tag") == "$HASH" ]]; then return 0; fi
  [[ $dockerfile == postgres.Dockerfile ]] || ensure_base
  for arg in "$@" "SOURCE_HASH=$HASH"; do args+=(--build-arg "$arg"); done
  note "docker build $ref ($dockerfile ${*:-})"
  DOCKER_BUILDKIT=0 docker build -q --force-rm -f "$SRC/immich/$dockerfile" "${args[@]}" -t "$ref" \
    "$SRC/immich" >>"$LOGF" 2>&1 || die "docker build of $ref failed (see $LOGF)"
  note "docker push $ref"
  docker push "$ref" >>"$LOGF" 2>&1 || die "docker push of $ref to $REGISTRY failed (see $LOGF)"
  docker rmi "$ref" >>"$LOGF" 2>&1 || true
  [[ $(registry_hash "$name" "$tag") == "$HASH" ]] ||
    die "$ref was pushed but the registry does not return it with source hash $HASH"
}

main() {
  mkdir -p "$(dirname "$LOGF")" "$LAB_DIR/images"
  reg_curl -o /dev/null "http://$REGISTRY/v2/" 2>/dev/null || die "no registry answers on http://$REGISTRY/v2/"
  docker image inspect "$PG_IMAGE" >/dev/null 2>&1 ||
    die "image $PG_IMAGE is missing (run: tests/lab/lab.sh start pgcontainer)"
  HASH=$(source_hash)
  local v broken digest suffix
  for v in "${VERSIONS[@]}"; do
    broken=0
    [[ $v == "$BROKEN" ]] && broken=1
    build_push "$SERVER_REPO" "$v" server.Dockerfile "STANDIN_VERSION=$v" "STANDIN_BROKEN=$broken"
    build_push "$ML_REPO" "$v" ml.Dockerfile "STANDIN_VERSION=$v"
  done
  build_push "${REDIS_REF%%:*}" "${REDIS_REF#*:}" valkey.Dockerfile
  build_push "${POSTGRES_REF%%:*}" "${POSTGRES_REF#*:}" postgres.Dockerfile

  echo "KEEPSAKE_LAB_IMMICH_REGISTRY=$REGISTRY"
  echo "KEEPSAKE_LAB_IMMICH_VERSIONS=${VERSIONS[*]}"
  echo "KEEPSAKE_LAB_IMMICH_BROKEN=$BROKEN"
  echo "KEEPSAKE_LAB_IMMICH_SERVER_REPO=$REGISTRY/$SERVER_REPO"
  echo "KEEPSAKE_LAB_IMMICH_ML_REPO=$REGISTRY/$ML_REPO"
  digest=$(registry_digest "${REDIS_REF%%:*}" "${REDIS_REF#*:}")
  [[ -n $digest ]] || die "no digest for $REGISTRY/$REDIS_REF"
  echo "KEEPSAKE_LAB_IMMICH_REDIS_IMAGE=$REGISTRY/$REDIS_REF@$digest"
  digest=$(registry_digest "${POSTGRES_REF%%:*}" "${POSTGRES_REF#*:}")
  [[ -n $digest ]] || die "no digest for $REGISTRY/$POSTGRES_REF"
  echo "KEEPSAKE_LAB_IMMICH_POSTGRES_IMAGE=$REGISTRY/$POSTGRES_REF@$digest"
  # per-version digests, so that tests and the stack spec can pin server and ML by digest too
  for v in "${VERSIONS[@]}"; do
    suffix=${v^^}
    suffix=${suffix//./_}
    digest=$(registry_digest "$SERVER_REPO" "$v")
    [[ -n $digest ]] || die "no digest for $REGISTRY/$SERVER_REPO:$v"
    echo "KEEPSAKE_LAB_IMMICH_SERVER_DIGEST_$suffix=$digest"
    digest=$(registry_digest "$ML_REPO" "$v")
    [[ -n $digest ]] || die "no digest for $REGISTRY/$ML_REPO:$v"
    echo "KEEPSAKE_LAB_IMMICH_ML_DIGEST_$suffix=$digest"
  done
}

main
