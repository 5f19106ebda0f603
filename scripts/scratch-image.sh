# Used by build-test-image.sh (sourced, not run): the two halves of an image FROM scratch made of
# this machine's own Node binary, with no registry. (symphony's own image is built from a Debian 13
# root filesystem instead: build-symphony-image.sh.)

# Copy node and every shared library it links into "$1/rootfs", each at the path ldd resolved it
# to: the dynamic loader in the image has no ld.so.cache and searches its built-in default
# directories, which are those paths.
scratch_node_rootfs() {
  local ctx=$1 node_bin lib libs
  node_bin=$(readlink -f "$(command -v node)")
  mkdir -p "$ctx/rootfs/usr/bin" "$ctx/rootfs/app" "$ctx/rootfs/tmp"
  cp -L "$node_bin" "$ctx/rootfs/usr/bin/node"
  libs=$(ldd "$node_bin" | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }')
  for lib in $libs /lib64/ld-linux-x86-64.so.2; do
    cp -L --parents "$lib" "$ctx/rootfs/"
  done
}

# Build "$ctx/Dockerfile" as image $1 from context $2 with the legacy builder (no buildx plugin is
# installed here, and a FROM scratch COPY needs none); its output is shown only when the build
# fails. Older builds carrying label $3=true are now untagged: drop them so rebuilds do not pile up.
scratch_build() {
  local image=$1 ctx=$2 label=$3
  if ! DOCKER_BUILDKIT=0 docker build -t "$image" "$ctx" >"$ctx.log" 2>&1; then
    cat "$ctx.log" >&2
    return 1
  fi
  docker image prune -f --filter "label=$label=true" >/dev/null 2>&1 || true
}
