#!/usr/bin/env bash
# openbao.sh: the OpenBao image, harness.local/openbao:<version>, for both the in-cluster server
# and every Vault Agent (hand-written sidecar and injector). Debian minbase (sh, base64, sleep,
# which the injector's agent command needs) plus the pinned static `bao` binary that
# scripts/install-bao.sh keeps in the cache, also reachable as `vault` (/bin/vault).
#
# Outputs, in $HARNESS_CACHE/images/openbao-<version>/: the image saved as a docker-archive .tar,
# build.log, done.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

TAG=$LOCAL_REPO/openbao:$OPENBAO_VERSION
component_init openbao "$OPENBAO_VERSION" "wheel=$OPENBAO_WHEEL_SHA256 base=$LOCAL_REPO/debian-minbase:$DEBIAN_SUITE"
is_done "$TAG" && exit 0

ensure_debian_base
step "install bao" "$REPO_ROOT/scripts/install-bao.sh"
ctx=$OUT/context
rm -rf "$ctx" && mkdir -p "$ctx"
cp "$HARNESS_CACHE/bin/bao-$OPENBAO_VERSION" "$ctx/bao"
cat >"$ctx/Dockerfile" <<EOD
FROM $LOCAL_REPO/debian-minbase:$DEBIAN_SUITE
COPY bao /bin/bao
RUN ln -s bao /bin/vault && mkdir -p /vault/config /vault/data /openbao && chown 100:1000 /vault /vault/data
USER 100:1000
ENTRYPOINT ["/bin/bao"]
EOD
build_image "$TAG" "$ctx"
mark_done
