#!/usr/bin/env bash
# eso.sh: the `eso` delivery method's images — External Secrets Operator, harness.local/external-secrets:<version>, built
# from github.com/external-secrets/external-secrets (wrapper: tools/external-secrets), and its CRD
# bundle, copied from the same module version for `harness` to apply.
#
# Outputs, in $HARNESS_CACHE/images/external-secrets-<version>/: bin/external-secrets, crds.yaml,
# the image saved as a docker-archive .tar, build.log, timings.txt, done.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source-path=SCRIPTDIR source=methods.sh
source "$(dirname "${BASH_SOURCE[0]}")/methods.sh"

TAG=$LOCAL_REPO/external-secrets:$ESO_VERSION
component_init external-secrets "$ESO_VERSION" "tag=$TAG gomod=$(sha256sum "$REPO_ROOT/tools/external-secrets/go.mod" | cut -c1-16) recipe=$(recipe_hash "$REPO_ROOT/scripts/images/lib.sh")"
# The image archives the node image preloads for this method (node.sh reads the list).
published_archives "$TAG"
is_done "$TAG" && [[ -f $OUT/crds.yaml ]] && exit 0

go_tool_image external-secrets github.com/external-secrets/external-secrets "$ESO_VERSION" \
  github.com/external-secrets/external-secrets external-secrets "$TAG" ""
bundle=$(cd "$REPO_ROOT/tools/external-secrets" && go list -m -f '{{.Dir}}' github.com/external-secrets/external-secrets)/deploy/crds/bundle.yaml
[[ -f $bundle ]] || fail "no CRD bundle at $bundle"
cp "$bundle" "$OUT/crds.yaml" && chmod 0644 "$OUT/crds.yaml"
mark_done
