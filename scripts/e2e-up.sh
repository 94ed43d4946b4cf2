#!/usr/bin/env bash
# Setup script of the `e2e` nextest profile (and the first half of a manual e2e run): a running
# Docker engine, every image built from source (cached outside the clone; a warm run is a no-op),
# the pinned OpenBao binary, then `harness up`. Hands the state dir to the tests through
# $NEXTEST_ENV. Teardown is `harness down` (nextest has no teardown hook; .ci/run calls it).
# HARNESS_IMAGES=online (the nightly matrix) uses upstream kind node images instead
# (HARNESS_KIND_NODE_IMAGE picks one) and builds only the harness's own images.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

# Two clusters' worth of kubelets and containerds exhaust the default 128 inotify instances
# (kind's known issues); raise the limits only when they are lower.
raise() { (( $(sysctl -n "$1") >= $2 )) || sysctl -qw "$1=$2"; }
raise fs.inotify.max_user_instances 512
raise fs.inotify.max_user_watches 524288

scripts/docker/up.sh
# Debian packages the image build uses beyond Docker: debootstrap (the node and minbase rootfs),
# gcc and libc headers (pause), GNU time (build timings).
need=()
command -v debootstrap >/dev/null || need+=(debootstrap)
command -v gcc >/dev/null || need+=(gcc libc6-dev)
[[ -x /usr/bin/time ]] || need+=(time)
if ((${#need[@]})); then
  echo "installing ${need[*]} with apt"
  apt-get update -qq && apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
scripts/install-bao.sh
cargo build --quiet --package harness
harness=target/debug/harness
state="$root/.harness"
if [[ ${HARNESS_IMAGES:-offline} == online ]]; then
  "$harness" --state-dir "$state" images build --online
  "$harness" --state-dir "$state" up --images online
else
  "$harness" --state-dir "$state" images build
  "$harness" --state-dir "$state" up
fi

if [[ -n ${NEXTEST_ENV:-} ]]; then
  echo "HARNESS_STATE_DIR=$state" >>"$NEXTEST_ENV"
fi
