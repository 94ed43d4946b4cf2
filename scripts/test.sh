#!/usr/bin/env bash
# The test command: installs what the tests need on a fresh Debian machine (cargo-nextest, the
# pinned OpenBao binary), then runs every test that needs no cluster with the `ci` profile.
# Extra arguments go to cargo nextest (for example: -E 'binary(vault_tier)').
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

scripts/install-nextest.sh
scripts/install-bao.sh
cargo nextest run --workspace --profile ci "$@"
