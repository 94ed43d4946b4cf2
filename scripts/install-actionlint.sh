#!/usr/bin/env bash
# Installs the pinned actionlint into the harness cache, outside the clone, built from its Go
# module (github.com/rhysd/actionlint) through the Go module proxy. Idempotent.
#
# Cache: ${HARNESS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/vault-k8s-harness}/bin/actionlint-<version>
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source-path=SCRIPTDIR source=../fixtures/versions.env
source "$root/fixtures/versions.env"

cache=${HARNESS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/vault-k8s-harness}
target="$cache/bin/actionlint-$ACTIONLINT_VERSION"
if [[ -x "$target" ]]; then
  echo "actionlint $ACTIONLINT_VERSION already installed: $target"
  exit 0
fi
command -v go >/dev/null || { echo "error: go is needed to build actionlint" >&2; exit 1; }
mkdir -p "$cache/bin"
build=$(mktemp -d)
trap 'rm -rf "$build"' EXIT
echo "building actionlint $ACTIONLINT_VERSION from the Go module proxy"
GOBIN="$build" CGO_ENABLED=0 GOFLAGS=-buildvcs=false GOTOOLCHAIN=local \
  go install "github.com/rhysd/actionlint/cmd/actionlint@$ACTIONLINT_VERSION"
mv "$build/actionlint" "$target"
echo "actionlint $ACTIONLINT_VERSION installed: $target"
