#!/bin/sh
# Entrypoint of the immich-machine-learning stand-in: GET /ping -> "pong" (text/plain, as Immich's
# ML service answers) on MACHINE_LEARNING_HOST:MACHINE_LEARNING_PORT. No models, no database.
set -eu
V=${STANDIN_VERSION:?the image sets STANDIN_VERSION}
exec standin-httpd "${MACHINE_LEARNING_HOST:-0.0.0.0}" "${MACHINE_LEARNING_PORT:-3003}" \
  "standin immich-machine-learning $V" \
  /ping text/plain pong \
  / application/json '{"message":"Immich ML"}'
