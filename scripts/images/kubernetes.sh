#!/usr/bin/env bash
# kubernetes.sh: build the Kubernetes binaries and control-plane images from the
# k8s.io/kubernetes Go module (wrapper: tools/kubernetes), nothing pulled.
#
# Outputs, in $HARNESS_CACHE/images/kubernetes-<version>/ (see lib.sh):
#   bin/{kubeadm,kubelet,kubectl,kube-apiserver,kube-controller-manager,
#        kube-scheduler,kube-proxy}   static (CGO_ENABLED=0, -trimpath) with version ldflags
#   images: registry.k8s.io/{kube-apiserver,kube-controller-manager,kube-scheduler}:<v>
#           (FROM scratch) and registry.k8s.io/kube-proxy:<v> (Debian minbase),
#           each also saved as a docker-archive .tar for the node image.
#   timings.txt: wall time / peak RSS per binary group (cold figures on first run).
# Usage: kubernetes.sh [bin]   ("bin": stop after the binaries)
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

V=$KUBE_VERSION
MOD=$(tools_dir kubernetes k8s.io/kubernetes "$KUBE_VERSION")
# Build date = the tag's publication time from the module proxy (reproducible builds).
info=$(go env GOMODCACHE)/cache/download/k8s.io/kubernetes/@v/$V.info
component_init kubernetes "$V" "gomod=$(sha256sum "$MOD/go.mod" | cut -c1-16)"

CONTROL_PLANE=(kube-apiserver kube-controller-manager kube-scheduler)
IMAGES=()
for c in "${CONTROL_PLANE[@]}" kube-proxy; do IMAGES+=("$REGISTRY/$c:$V"); done

if [[ ${1:-} != bin ]] && is_done "${IMAGES[@]}"; then exit 0; fi

# --- binaries ----------------------------------------------------------------
[[ -f $info ]] || step "go mod download" sh -c "cd '$MOD' && go mod download k8s.io/kubernetes"
build_date=$(jq -r .Time "$info")
minor=${V#v1.}
minor=${minor%%.*}
ldflags="-s -w"
# hack/lib/version.sh sets both packages; gitCommit is not known from a module zip.
for pkg in k8s.io/client-go/pkg/version k8s.io/component-base/version; do
  ldflags+=" -X $pkg.gitVersion=$V -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor"
  ldflags+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=$build_date -X $pkg.gitCommit="
done

# Groups are built by one `go build` each (shared action graph); the first group
# built on an empty GOCACHE pays for the shared packages.
build_group() { # NAME BINARY...
  local name=$1 b need=() pkgs=()
  shift
  for b in "$@"; do
    [[ -f $OUT/bin/$b.done && $(cat "$OUT/bin/$b.done") == "$ldflags" ]] || need+=("$b")
  done
  ((${#need[@]})) || return 0
  for b in "${need[@]}"; do pkgs+=("k8s.io/kubernetes/cmd/$b"); done
  note "building ${need[*]} (log: $LOG)"
  timed "go build $name (${need[*]})" sh -c \
    "cd '$MOD' && go build -trimpath -ldflags '$ldflags' -o '$OUT/bin/' ${pkgs[*]}"
  for b in "${need[@]}"; do printf '%s' "$ldflags" >"$OUT/bin/$b.done"; done
}
mkdir -p "$OUT/bin"
build_group node kubeadm kubelet kubectl
build_group control-plane "${CONTROL_PLANE[@]}"
build_group proxy kube-proxy
step "version check" "$OUT/bin/kubeadm" version -o short
[[ $("$OUT/bin/kubeadm" version -o short) == "$V" ]] || fail "kubeadm reports $("$OUT/bin/kubeadm" version -o short), expected $V"
[[ ${1:-} == bin ]] && exit 0

# --- images --------------------------------------------------------------------
ctx=$OUT/context
for c in "${CONTROL_PLANE[@]}"; do
  rm -rf "${ctx:?}/$c" && mkdir -p "$ctx/$c"
  cp "$OUT/bin/$c" "$ctx/$c/"
  cat >"$ctx/$c/Dockerfile" <<EOF
FROM scratch
COPY $c /usr/local/bin/$c
ENV PATH=/usr/local/bin:/usr/bin:/bin
ENTRYPOINT ["/usr/local/bin/$c"]
EOF
  build_image "$REGISTRY/$c:$V" "$ctx/$c"
done

# kube-proxy needs iptables/nft/conntrack: Debian minbase (debian-base.sh).
ensure_debian_base
rm -rf "$ctx/kube-proxy" && mkdir -p "$ctx/kube-proxy"
cp "$OUT/bin/kube-proxy" "$ctx/kube-proxy/"
cat >"$ctx/kube-proxy/Dockerfile" <<EOF
FROM $LOCAL_REPO/debian-minbase:$DEBIAN_SUITE
COPY kube-proxy /usr/local/bin/kube-proxy
ENTRYPOINT ["/usr/local/bin/kube-proxy"]
EOF
build_image "$REGISTRY/kube-proxy:$V" "$ctx/kube-proxy"
mark_done
