#!/usr/bin/env bash
# etcd.sh: build etcd from go.etcd.io/etcd/server/v3 (wrapper: tools/etcd) and the
# image registry.k8s.io/etcd:<kubeadm's tag> (FROM scratch), nothing pulled.
#
# Outputs, in $HARNESS_CACHE/images/etcd-<version>/: bin/etcd, the image saved as
# a docker-archive .tar, build.log, timings.txt, done.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

MOD=$(tools_dir etcd go.etcd.io/etcd/server/v3 "$ETCD_VERSION")
TAG=$REGISTRY/etcd:$ETCD_IMAGE_TAG
component_init etcd "$ETCD_VERSION" "tag=$TAG gomod=$(sha256sum "$MOD/go.mod" | cut -c1-16)"
is_done "$TAG" && exit 0

mkdir -p "$OUT/bin"
note "building etcd $ETCD_VERSION (log: $LOG)"
timed "go build etcd" sh -c "cd '$MOD' && go build -trimpath -ldflags '-s -w' -o '$OUT/bin/etcd' go.etcd.io/etcd/server/v3"
step "version check" "$OUT/bin/etcd" --version
[[ $("$OUT/bin/etcd" --version) == *"etcd Version: ${ETCD_VERSION#v}"* ]] || fail "etcd --version is not ${ETCD_VERSION#v}"

ctx=$OUT/context
rm -rf "$ctx" && mkdir -p "$ctx"
cp "$OUT/bin/etcd" "$ctx/"
# kubeadm's static pod runs `etcd ...` (PATH lookup); data dir is a hostPath.
cat >"$ctx/Dockerfile" <<EOD
FROM scratch
COPY etcd /usr/local/bin/etcd
ENV PATH=/usr/local/bin:/usr/bin:/bin
CMD ["/usr/local/bin/etcd"]
EOD
build_image "$TAG" "$ctx"
mark_done
