#!/usr/bin/env bash
# Builds and tags one image per Dockerfile target, with the names the constructs default to:
#   ${IMAGE_REGISTRY:-ghcr.io/imageflow}/<target>:${IMAGE_TAG:-<package.json version>}
# Set PUSH=1 to push after building. Without a Docker engine (as on the dev machines) it prints
# the commands it would run and says that nothing was built; a failing build with an engine fails.
set -euo pipefail
cd "$(dirname "$0")/.."

registry="${IMAGE_REGISTRY:-ghcr.io/imageflow}"
tag="${IMAGE_TAG:-$(node -p "require('./package.json').version")}"
targets=(resize filter detection gateway)

engine=1
if ! command -v docker >/dev/null 2>&1; then
  echo "build-images: no docker CLI on this machine." >&2; engine=0
elif ! docker info >/dev/null 2>&1; then
  echo "build-images: docker CLI found but no Docker engine answers." >&2; engine=0
fi

for t in "${targets[@]}"; do
  image="$registry/$t:$tag"
  cmd=(docker build --target "$t" --tag "$image" .)
  if [[ $engine == 0 ]]; then
    echo "would run: ${cmd[*]}${PUSH:+ && docker push $image}"
    continue
  fi
  echo "building $image"
  "${cmd[@]}"
  if [[ -n "${PUSH:-}" ]]; then docker push "$image"; fi
done

if [[ $engine == 0 ]]; then
  echo "build-images: NOTHING WAS BUILT (no Docker engine). Run this on a machine with Docker." >&2
fi
