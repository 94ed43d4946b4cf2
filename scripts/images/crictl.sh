#!/usr/bin/env bash
# crictl.sh: build crictl from sigs.k8s.io/cri-tools (wrapper: tools/cri-tools).
# Debian has no crictl package; node.sh copies it into the node image, where kind
# uses it for `kind load` image checks and `kind export logs`.
#
# Outputs, in $HARNESS_CACHE/images/crictl-<version>/: bin/crictl, build.log,
# timings.txt, done.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

MOD=$(tools_dir cri-tools sigs.k8s.io/cri-tools "$CRICTL_VERSION")
component_init crictl "$CRICTL_VERSION" "gomod=$(sha256sum "$MOD/go.mod" | cut -c1-16)"
stamp_ok && [[ -x $OUT/bin/crictl ]] && exit 0

mkdir -p "$OUT/bin"
note "building crictl $CRICTL_VERSION (log: $LOG)"
timed "go build crictl" sh -c "cd '$MOD' && go build -trimpath \
  -ldflags '-s -w -X sigs.k8s.io/cri-tools/pkg/version.Version=$CRICTL_VERSION' \
  -o '$OUT/bin/crictl' sigs.k8s.io/cri-tools/cmd/crictl"
step "version check" "$OUT/bin/crictl" --version
[[ $("$OUT/bin/crictl" --version) == *"$CRICTL_VERSION"* ]] || fail "crictl --version is not $CRICTL_VERSION"
mark_done
