#!/usr/bin/env bash
# pause.sh: build the pause image from build/pause/linux/pause.c of the
# k8s.io/kubernetes module (read from GOMODCACHE, not copied into the repo),
# compiled with Debian's gcc -static, tagged as kind's containerd sandbox_image
# (registry.k8s.io/pause:3.10), FROM scratch.
#
# Outputs, in $HARNESS_CACHE/images/pause-<tag>/: bin/pause, the image saved as a
# docker-archive .tar, build.log, done.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

TAG=$REGISTRY/pause:$PAUSE_TAG
component_init pause "$PAUSE_TAG" "source=k8s.io/kubernetes@$KUBE_VERSION gcc=$(gcc -dumpfullversion 2>/dev/null || echo none)"
is_done "$TAG" && exit 0

command -v gcc >/dev/null || fail "gcc missing (apt-get install gcc libc6-dev)"
src_dir=$(cd "$(tools_dir kubernetes k8s.io/kubernetes "$KUBE_VERSION")" && go mod download -json "k8s.io/kubernetes@$KUBE_VERSION" | jq -r .Dir) \
  || fail "go mod download k8s.io/kubernetes@$KUBE_VERSION"
src=$src_dir/build/pause/linux/pause.c
[[ -f $src ]] || fail "missing $src"

mkdir -p "$OUT/bin"
# Flags as in build/pause/Makefile (CFLAGS), version string without git describe.
step "gcc pause.c" gcc -Os -Wall -Werror -static "-DVERSION=v$PAUSE_TAG-harness" -o "$OUT/bin/pause" "$src"
step "strip" strip "$OUT/bin/pause"
step "version check" "$OUT/bin/pause" -v

ctx=$OUT/context
rm -rf "$ctx" && mkdir -p "$ctx"
cp "$OUT/bin/pause" "$ctx/"
cat >"$ctx/Dockerfile" <<EOD
FROM scratch
COPY pause /pause
USER 65535:65535
ENTRYPOINT ["/pause"]
EOD
build_image "$TAG" "$ctx"
mark_done
