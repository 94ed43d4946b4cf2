#!/usr/bin/env bash
# coredns.sh: build CoreDNS from github.com/coredns/coredns (wrapper: tools/coredns)
# and the image registry.k8s.io/coredns/coredns:<kubeadm's tag> (FROM scratch).
#
# Outputs, in $HARNESS_CACHE/images/coredns-<version>/: bin/coredns, the image
# saved as a docker-archive .tar, build.log, timings.txt, done.
# The cluster must not forward queries upstream: the Corefile's `forward` block
# is removed after cluster creation (scripts/images/kind-smoke.sh), not here.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

MOD=$(tools_dir coredns github.com/coredns/coredns "$COREDNS_VERSION")
TAG=$REGISTRY/coredns/coredns:$COREDNS_VERSION
component_init coredns "$COREDNS_VERSION" "tag=$TAG gomod=$(sha256sum "$MOD/go.mod" | cut -c1-16)"
is_done "$TAG" && exit 0

mkdir -p "$OUT/bin"
note "building coredns $COREDNS_VERSION (log: $LOG)"
timed "go build coredns" sh -c "cd '$MOD' && go build -trimpath \
  -ldflags '-s -w -X github.com/coredns/coredns/coremain.GitCommit=' \
  -o '$OUT/bin/coredns' github.com/coredns/coredns"
step "version check" "$OUT/bin/coredns" -version
[[ $("$OUT/bin/coredns" -version) == *"CoreDNS-${COREDNS_VERSION#v}"* ]] || fail "coredns -version is not ${COREDNS_VERSION#v}"

ctx=$OUT/context
rm -rf "$ctx" && mkdir -p "$ctx"
cp "$OUT/bin/coredns" "$ctx/"
# kubeadm's Deployment passes `-conf /etc/coredns/Corefile` to the entrypoint.
cat >"$ctx/Dockerfile" <<EOD
FROM scratch
COPY coredns /coredns
EXPOSE 53 53/udp
ENTRYPOINT ["/coredns"]
EOD
build_image "$TAG" "$ctx"
mark_done
