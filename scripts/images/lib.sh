# shellcheck shell=bash disable=SC2034 # pins below are used by the scripts sourcing this file
# lib.sh: helpers shared by the scripts/images/*.sh build scripts (sourced, not run).
#
# Every component builds into its own cache directory outside the clone:
#   ${HARNESS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/vault-k8s-harness}/images/<component>-<version>/
# holding build.log (output of every step), timings.txt (wall time and peak
# RSS of the expensive steps), the binaries/tars it produced, and `done`, a
# stamp whose content is the build key (versions + toolchain). A script whose
# stamp matches and whose docker images exist exits in well under a second.

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
HARNESS_CACHE=${HARNESS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/vault-k8s-harness} # as harness/src/paths.rs
IMAGES_CACHE=$HARNESS_CACHE/images
export CGO_ENABLED=0 GOFLAGS=-buildvcs=false GOTOOLCHAIN=local

# Pins the harness shares (KUBE_VERSION, KIND_VERSION, OPENBAO_VERSION, ...): one file for both.
# shellcheck source-path=SCRIPTDIR source=../../fixtures/versions.env
source "$REPO_ROOT/fixtures/versions.env"
# Pins only the image scripts use. Each Go one is also pinned in its tools/<x>/go.mod.
ETCD_VERSION=v3.6.5       # tools/etcd; kubeadm v1.34.4 lists etcd:3.6.5-0
ETCD_IMAGE_TAG=3.6.5-0
COREDNS_VERSION=v1.12.1   # tools/coredns; kubeadm v1.34.4 lists coredns/coredns:v1.12.1
CRICTL_VERSION=v1.34.0    # tools/cri-tools
PAUSE_TAG=3.10            # kind v0.30.0 containerd sandbox_image (kubeadm's 3.10.1 is replaced by kind)
DEBIAN_SUITE=bookworm
DEBIAN_MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
REGISTRY=registry.k8s.io
LOCAL_REPO=harness.local  # our own image names; never resolvable, never pulled

# component_init NAME VERSION KEY: sets COMPONENT, OUT (its cache dir), LOG, KEY,
# and takes OUT's lock for the rest of the script, so concurrent runs of one
# component (e.g. `harness images build` and a manual run) wait instead of
# sharing a rootfs or build container. Bounded wait: HARNESS_LOCK_WAIT seconds (3600).
component_init() {
  COMPONENT=$1
  OUT=$IMAGES_CACHE/$1-$2
  KEY="component=$1 version=$2 $3 go=$(go env GOVERSION 2>/dev/null || echo none)"
  LOG=$OUT/build.log
  mkdir -p "$OUT"
  exec {lock_fd}>"$OUT/.lock"
  if ! flock -n "$lock_fd"; then
    note "waiting for another build of $COMPONENT (lock $OUT/.lock)"
    flock -w "${HARNESS_LOCK_WAIT:-3600}" "$lock_fd" || fail "wait 'lock $OUT/.lock' timed out"
  fi
}

# recipe_hash FILE: hash of FILE without its comment lines, for build keys of
# scripts whose commands are the recipe (comment edits do not trigger a rebuild).
recipe_hash() { grep -v '^[[:space:]]*#' "$1" | sha256sum | cut -c1-16; }

fail() {
  printf '%s: FAILED: %s (log: %s)\n' "${COMPONENT:-images}" "$*" "${LOG:-none}" >&2
  exit 1
}

note() { printf '%s: %s\n' "$COMPONENT" "$*" >&2; }

# is_done [IMAGE...]: true if the stamp matches KEY and every IMAGE exists in
# docker; images missing from docker are reloaded from $OUT/*.tar first.
stamp_ok() { [[ -f $OUT/done && $(cat "$OUT/done") == "$KEY" ]]; }

is_done() {
  stamp_ok || return 1
  local img tar
  for img in "$@"; do
    docker image inspect "$img" >/dev/null 2>&1 && continue
    tar=$OUT/$(image_tar_name "$img")
    [[ -f $tar ]] || return 1
    note "reloading $img from $tar"
    docker load -i "$tar" >>"$LOG" 2>&1 || return 1
  done
}

mark_done() { printf '%s' "$KEY" >"$OUT/done"; note "done ($OUT)"; }

# step NAME CMD...: run CMD with its output appended to LOG; one line on failure.
step() {
  local step_name=$1
  shift
  printf '\n=== %s: %s (%s)\n' "$step_name" "$*" "$(date -u +%FT%TZ)" >>"$LOG"
  # Run as an async job so that `set -e` still applies inside shell functions
  # (bash ignores -e in anything run on the left of `||`).
  "$@" >>"$LOG" 2>&1 &
  wait $! || fail "step '$step_name'"
}

# timed NAME CMD...: like step, also appends "NAME wall=Ns maxrss=NkB" to timings.txt.
timed() {
  local step_name=$1 t0 t1 rss tfile
  shift
  tfile=$(mktemp)
  t0=$(date +%s)
  printf '\n=== %s: %s (%s)\n' "$step_name" "$*" "$(date -u +%FT%TZ)" >>"$LOG"
  /usr/bin/time -o "$tfile" -f '%M' "$@" >>"$LOG" 2>&1 || { rm -f "$tfile"; fail "step '$step_name'"; }
  t1=$(date +%s)
  rss=$(tail -n 1 "$tfile")
  rm -f "$tfile"
  printf '%s wall=%ss maxrss=%skB date=%s\n' "$step_name" "$((t1 - t0))" "$rss" "$(date -u +%FT%TZ)" >>"$OUT/timings.txt"
  note "$step_name took $((t1 - t0))s (peak RSS ${rss} kB)"
}

image_tar_name() { local s=${1//\//_}; printf '%s.tar' "${s//:/_}"; }

# build_image TAG CONTEXT_DIR: classic-builder `docker build` (no BuildKit),
# then save the image to $OUT/<tag>.tar for the node image's containerd import.
build_image() {
  local tag=$1 ctx=$2
  step "docker build $tag" env DOCKER_BUILDKIT=0 docker build --pull=false -t "$tag" "$ctx"
  step "docker save $tag" docker save -o "$OUT/$(image_tar_name "$tag")" "$tag"
  rm -rf "$ctx" # a copy of the binaries; the image and its tar are what is kept
}

# tools_dir NAME MODULE VERSION: absolute path of the Go wrapper module tools/NAME,
# after checking that its go.mod requires MODULE at VERSION (the pin above).
tools_dir() {
  local d=$REPO_ROOT/tools/$1
  [[ -f $d/go.mod ]] || fail "missing $d/go.mod"
  grep -qE "^[[:space:]]*(require[[:space:]]+)?$2 $3([[:space:]]|\$)" "$d/go.mod" \
    || fail "tools/$1/go.mod does not require $2 $3 (pin in scripts/images/lib.sh)"
  printf '%s' "$d"
}

# reset_rootfs DIR: delete a debootstrap target, first unmounting anything an
# interrupted debootstrap left mounted inside it (proc, sys, dev/pts).
reset_rootfs() {
  local m
  awk -v d="$1" '$2 == d || index($2, d "/") == 1 { print $2 }' /proc/mounts | sort -r \
    | while read -r m; do umount -l "$m"; done
  rm -rf --one-file-system "$1"
}

# ensure_debian_base: makes sure the Debian minbase image exists (debian-base.sh).
ensure_debian_base() {
  "$REPO_ROOT/scripts/images/debian-base.sh" || fail "debian-base.sh"
}

# go_tool_image TOOLS_NAME MODULE VERSION PACKAGE BINARY TAG LDFLAGS: for a one-binary component,
# build PACKAGE of the pinned MODULE from tools/TOOLS_NAME into $OUT/bin/BINARY, then the image TAG
# (Debian minbase plus the binary as its entrypoint, run as an unprivileged user).
# Callers have run component_init and is_done.
go_tool_image() {
  local tools=$1 module=$2 version=$3 package=$4 binary=$5 tag=$6 ldflags=$7 mod ctx
  mod=$(tools_dir "$tools" "$module" "$version")
  ensure_debian_base
  mkdir -p "$OUT/bin"
  note "building $binary $version (log: $LOG)"
  timed "go build $binary" sh -c "cd '$mod' && go build -trimpath -ldflags '-s -w $ldflags' -o '$OUT/bin/$binary' '$package'"
  ctx=$OUT/context
  rm -rf "$ctx" && mkdir -p "$ctx"
  cp "$OUT/bin/$binary" "$ctx/"
  cat >"$ctx/Dockerfile" <<EOD
FROM $LOCAL_REPO/debian-minbase:$DEBIAN_SUITE
COPY $binary /bin/$binary
USER 65532:65532
ENTRYPOINT ["/bin/$binary"]
EOD
  build_image "$tag" "$ctx"
}
