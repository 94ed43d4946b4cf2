#!/usr/bin/env bash
# The test command: installs what the tests need on a fresh Debian machine (cargo-nextest, the
# pinned OpenBao binary), runs every test that needs no cluster, then the cluster scenarios (the
# Vault outages, Ctrl-C/panic rounds and the hygiene check among them, each alone).
# The e2e profile's setup script (scripts/e2e-up.sh) starts Docker, builds every image from
# source (cached outside the clone) and runs `harness up`; this script runs `harness down`
# at the end, after exporting the clusters' logs if a scenario failed. HARNESS_KEEP=1 keeps
# the clusters. Extra arguments go to both nextest runs (for example: -E 'test(/login/)').
# Everything printed is also kept in target/harness/test-output.log, which the secret-hygiene
# check reads once more at the end, with the e2e run's JUnit.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
mkdir -p target/harness
exec > >(tee target/harness/test-output.log) 2>&1

scripts/install-nextest.sh
scripts/install-bao.sh

echo "== tests that need no cluster (profile ci)"
cargo nextest run --workspace --profile ci "$@"

harness=target/debug/harness
e2e_status=0
# shellcheck disable=SC2317 # run by the EXIT trap
teardown() {
  local logs="$root/target/harness/logs"
  if ((e2e_status != 0)) && [[ -x $harness ]]; then
    "$harness" --state-dir "$root/.harness" down --export-logs "$logs" || true
    echo "cluster logs kept in $logs"
  elif [[ ${HARNESS_KEEP:-0} != 1 && -x $harness ]]; then
    "$harness" --state-dir "$root/.harness" down || true
  fi
}
trap teardown EXIT

echo "== cluster scenarios, outages, Ctrl-C and panics, secret hygiene (profile e2e)"
cargo nextest run --workspace --profile e2e "$@" || e2e_status=$?
if ((e2e_status == 0)); then
  echo "== secret hygiene once more, over the e2e run's JUnit and this script's output (profile hygiene)"
  cargo nextest run --workspace --profile hygiene || e2e_status=$?
fi
exit "$e2e_status"
