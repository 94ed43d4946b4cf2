#!/usr/bin/env bash
# kind.sh: build the kind CLI from sigs.k8s.io/kind (wrapper: tools/kind).
#
# Outputs, in $HARNESS_CACHE/images/kind-<version>/: bin/kind, build.log,
# timings.txt, done. Prints nothing on a warm no-op; `kind.sh path` prints the binary path.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

MOD=$(tools_dir kind sigs.k8s.io/kind "$KIND_VERSION")
component_init kind "$KIND_VERSION" "gomod=$(sha256sum "$MOD/go.mod" | cut -c1-16)"
if ! { stamp_ok && [[ -x $OUT/bin/kind ]]; }; then
  mkdir -p "$OUT/bin"
  note "building kind $KIND_VERSION (log: $LOG)"
  timed "go build kind" sh -c "cd '$MOD' && go build -trimpath -ldflags '-s -w' -o '$OUT/bin/kind' sigs.k8s.io/kind"
  step "version check" "$OUT/bin/kind" version
  [[ $("$OUT/bin/kind" version) == "kind $KIND_VERSION "* ]] || fail "kind version is not $KIND_VERSION"
  mark_done
fi
[[ ${1:-} == path ]] && printf '%s\n' "$OUT/bin/kind"
exit 0
