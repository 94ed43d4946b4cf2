#!/usr/bin/env bash
# Installs the pinned cargo-nextest from crates.io when it is missing or another version.
# (Its prebuilt binaries live on GitHub releases, which these machines cannot reach.)
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source-path=SCRIPTDIR source=../fixtures/versions.env
source "$root/fixtures/versions.env"

if cargo nextest --version 2>/dev/null | grep -q "cargo-nextest $NEXTEST_VERSION"; then
  echo "cargo-nextest $NEXTEST_VERSION already installed"
  exit 0
fi
echo "building cargo-nextest $NEXTEST_VERSION from crates.io (a few minutes on 2 cores)"
cargo install --locked --quiet cargo-nextest --version "$NEXTEST_VERSION"
cargo nextest --version | head -n 1
