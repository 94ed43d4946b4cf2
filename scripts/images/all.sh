#!/usr/bin/env bash
# all.sh: build everything an offline kind cluster needs, in dependency order:
# kind CLI, Debian minbase, kind base, Kubernetes, etcd, CoreDNS, pause, crictl, every delivery
# method's images (scripts/images/<method>.sh for each method in $HARNESS_METHODS, which
# `harness images build` sets from its registry), node image.
# Each step is its own script with its own cache dir and `done` stamp under
# ${HARNESS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/vault-k8s-harness}/images/, so a warm rerun is a
# no-op. Does not create a cluster (kind-smoke.sh does). With --online, only the harness's own
# images (for clusters on upstream node images): minbase, OpenBao, the methods' images.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$here/lib.sh"
# shellcheck source-path=SCRIPTDIR source=methods.sh
source "$here/methods.sh"
t0=$(date +%s)
mapfile -t methods < <(registry_methods)
components=(kind debian-base node-base kubernetes etcd coredns pause crictl "${methods[@]}" node)
[[ ${1:-} == --online ]] && components=(kind debian-base openbao "${methods[@]}")
for s in "${components[@]}"; do
  "$here/$s.sh" || { printf 'images: FAILED: %s.sh (see its build.log above)\n' "$s" >&2; exit 1; }
done
printf 'images: all up to date in %ss\n' "$(($(date +%s) - t0))" >&2
