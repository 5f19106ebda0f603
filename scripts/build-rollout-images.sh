#!/usr/bin/env bash
# The rollout tests' versions of the example API, with no registry: each is a layer of ENV and a
# label on top of symphony-rollout-api:base (build-test-image.sh under its own tag, so that
# rebuilding it never retags the symphony-test-api:latest other tests run), so each has its own
# image ID.
#   symphony-rollout-api:v1, :v2          two good versions (/api/v1/hello says which)
#   symphony-rollout-api:never-healthy    its health check answers 500 from the start
#   symphony-rollout-api:answers-500      healthy, but every other route answers 500
# Rebuilt when the base image changed (the variant records the base's ID in a label).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
base=symphony-rollout-api:base
TEST_IMAGE=$base bash "$here/build-test-image.sh"
base_id=$(docker image inspect "$base" --format '{{.Id}}')

exec 9>/tmp/symphony-build-rollout-images.lock
flock -w 120 9 || { echo 'build-rollout-images: timed out waiting for the lock' >&2; exit 1; }

variant() {
  local tag=$1 env=$2
  local image="symphony-rollout-api:$tag"
  [ "$(docker image inspect "$image" --format '{{ index .Config.Labels "io.symphony.rollout-base" }}' 2>/dev/null || true)" = "$base_id" ] && return 0
  printf 'FROM %s\nENV %s\nLABEL io.symphony.rollout-variant="%s" io.symphony.rollout-base="%s"\n' "$base" "$env" "$tag" "$base_id" |
    DOCKER_BUILDKIT=0 docker build -q -t "$image" - >/dev/null 2>&1
  echo "build-rollout-images: built $image" >&2
}
variant v1 'API_VERSION=v1'
variant v2 'API_VERSION=v2'
variant never-healthy 'API_VERSION=never-healthy API_HEALTH=fail'
variant answers-500 'API_VERSION=answers-500 API_ANSWER_STATUS=500'
