#!/usr/bin/env bash
# injector.sh: the `injector` delivery method's images — the Vault Agent Injector, harness.local/vault-k8s:<version>, built from
# github.com/hashicorp/vault-k8s (wrapper: tools/vault-k8s). The agents it injects run the
# OpenBao image (openbao.sh), which also answers to `vault`.
#
# Outputs, in $HARNESS_CACHE/images/vault-k8s-<version>/: bin/vault-k8s, the image saved as a
# docker-archive .tar, build.log, timings.txt, done.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source-path=SCRIPTDIR source=methods.sh
source "$(dirname "${BASH_SOURCE[0]}")/methods.sh"

TAG=$LOCAL_REPO/vault-k8s:$VAULT_K8S_VERSION
component_init vault-k8s "$VAULT_K8S_VERSION" "tag=$TAG gomod=$(sha256sum "$REPO_ROOT/tools/vault-k8s/go.mod" | cut -c1-16) recipe=$(recipe_hash "$REPO_ROOT/scripts/images/lib.sh")"
# The image archives the node image preloads for this method (node.sh reads the list).
published_archives "$TAG"
is_done "$TAG" && exit 0

go_tool_image vault-k8s github.com/hashicorp/vault-k8s "$VAULT_K8S_VERSION" github.com/hashicorp/vault-k8s \
  vault-k8s "$TAG" "-X github.com/hashicorp/vault-k8s/version.Version=${VAULT_K8S_VERSION#v}"
[[ $("$OUT/bin/vault-k8s" version) == *"${VAULT_K8S_VERSION#v}"* ]] || fail "vault-k8s version is not ${VAULT_K8S_VERSION#v}"
mark_done
