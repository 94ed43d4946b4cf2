#!/usr/bin/env bash
# The main job: installs the pinned OpenBao binary if needed, builds the harness and runs
# `harness run` (today: the article's Vault runbook against a fresh OpenBao, printed as a
# pass/fail table). Extra arguments go to `harness run` (for example: --out results).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

scripts/install-bao.sh
cargo build --quiet --package harness
exec target/debug/harness run "$@"
