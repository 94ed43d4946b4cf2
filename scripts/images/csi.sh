#!/usr/bin/env bash
# csi.sh: the `csi` delivery method's images —
#   harness.local/secrets-store-csi-driver:<version>  the Secrets Store CSI driver, built from
#       sigs.k8s.io/secrets-store-csi-driver (wrapper: tools/secrets-store-csi-driver, with the
#       harness's stand-in for monis.app/mlog), plus the harness's kubelet plugin registrar;
#   harness.local/harness-vault-provider:<compat>-compatible  the harness's Vault provider, compatible
#       with vault-csi-provider 1.7.x (tools/csi-plugins; upstream's module is not served here).
# and the driver's API objects (CRDs, RBAC, CSIDriver) copied from the same module's deploy/.
#
# Outputs, in $HARNESS_CACHE/images/secrets-store-csi-driver-<version>/: bin/, deploy/*.yaml,
# the images saved as docker-archive .tars, build.log, timings.txt, done.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source-path=SCRIPTDIR source=methods.sh
source "$(dirname "${BASH_SOURCE[0]}")/methods.sh"

DRIVER_MODULE=sigs.k8s.io/secrets-store-csi-driver
PLUGINS=$REPO_ROOT/tools/csi-plugins
sources_hash() { (cd "$1" && find . -name '*.go' -o -name go.mod -o -name go.sum | LC_ALL=C sort | xargs sha256sum) | sha256sum | cut -c1-16; }
PLUGINS_HASH=$(sources_hash "$PLUGINS")
DRIVER_TAG=$LOCAL_REPO/secrets-store-csi-driver:$CSI_DRIVER_VERSION
PROVIDER_TAG=$LOCAL_REPO/harness-vault-provider:$CSI_PROVIDER_COMPAT-compatible
component_init secrets-store-csi-driver "$CSI_DRIVER_VERSION" "driver=$DRIVER_TAG provider=$PROVIDER_TAG plugins=$PLUGINS_HASH wrapper=$(sources_hash "$REPO_ROOT/tools/secrets-store-csi-driver") recipe=$(recipe_hash "$0")+$(recipe_hash "$REPO_ROOT/scripts/images/lib.sh")"
# The image archives the node image preloads for this method (node.sh reads the list).
published_archives "$DRIVER_TAG" "$PROVIDER_TAG"
is_done "$DRIVER_TAG" "$PROVIDER_TAG" && [[ -f $OUT/deploy/csidriver.yaml ]] && exit 0

wrapper=$(tools_dir secrets-store-csi-driver "$DRIVER_MODULE" "$CSI_DRIVER_VERSION")
ensure_debian_base
mkdir -p "$OUT/bin"
note "building the driver $CSI_DRIVER_VERSION, the registrar and the provider (log: $LOG)"
timed "go build secrets-store-csi-driver" sh -c "cd '$wrapper' && go build -trimpath \
  -ldflags '-s -w -X $DRIVER_MODULE/pkg/version.BuildVersion=$CSI_DRIVER_VERSION' \
  -o '$OUT/bin/secrets-store-csi-driver' $DRIVER_MODULE/cmd/secrets-store-csi-driver"
timed "go build registrar vault-provider" sh -c "cd '$PLUGINS' && go build -trimpath \
  -ldflags '-s -w -X main.version=$PLUGINS_HASH' -o '$OUT/bin/' ./cmd/registrar ./cmd/vault-provider"
[[ $("$OUT/bin/secrets-store-csi-driver" --version 2>&1) == *"$CSI_DRIVER_VERSION"* ]] || fail "the driver's --version does not name $CSI_DRIVER_VERSION"

deploy=$(cd "$wrapper" && go list -m -f '{{.Dir}}' "$DRIVER_MODULE")/deploy
mkdir -p "$OUT/deploy"
for f in csidriver.yaml rbac-secretproviderclass.yaml \
  secrets-store.csi.x-k8s.io_secretproviderclasses.yaml \
  secrets-store.csi.x-k8s.io_secretproviderclasspodstatuses.yaml; do
  [[ -f $deploy/$f ]] || fail "no $f in $deploy"
  cp "$deploy/$f" "$OUT/deploy/$f" && chmod 0644 "$OUT/deploy/$f"
done

# The driver mounts tmpfs for pods (mount, umount: Debian's required `mount` package), so it
# runs as root; the registrar shares its image.
ctx=$OUT/context
rm -rf "$ctx" && mkdir -p "$ctx"
cp "$OUT/bin/secrets-store-csi-driver" "$OUT/bin/registrar" "$ctx/"
cat >"$ctx/Dockerfile" <<EOD
FROM $LOCAL_REPO/debian-minbase:$DEBIAN_SUITE
COPY secrets-store-csi-driver /bin/secrets-store-csi-driver
COPY registrar /bin/registrar
ENTRYPOINT ["/bin/secrets-store-csi-driver"]
EOD
build_image "$DRIVER_TAG" "$ctx"

mkdir -p "$ctx"
cp "$OUT/bin/vault-provider" "$ctx/"
cat >"$ctx/Dockerfile" <<EOD
FROM $LOCAL_REPO/debian-minbase:$DEBIAN_SUITE
COPY vault-provider /bin/vault-provider
ENTRYPOINT ["/bin/vault-provider"]
EOD
build_image "$PROVIDER_TAG" "$ctx"
mark_done
