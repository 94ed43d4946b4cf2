#!/usr/bin/env bash
# kind-smoke.sh: create one kind cluster from the locally built node image and
# check it works with nothing pulled:
#   1. builds (or finds warm) the kind CLI and harness.local/kind-node:<v> (node.sh);
#   2. kind create cluster --image <local tag> --config fixtures/kind/cluster.yaml;
#   3. waits (bounded) for the node to be Ready;
#   4. removes the `forward` block from CoreDNS's Corefile (no upstream DNS),
#      restarts CoreDNS and waits for its rollout;
#   5. resolves kubernetes.default through the kube-dns Service from a pod;
#   6. checks containerd in the node pulled nothing and Docker holds only local images.
# Usage: kind-smoke.sh [cluster-name]   (default harness-smoke). Keeps the
# cluster; delete it with `kind delete cluster --name <name>`.
# Writes the create/ready timings to $HARNESS_CACHE/images/kind-node-<v>/timings.txt.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cluster=${1:-harness-smoke}
KIND=$("$here/kind.sh" path) || { echo "kind-smoke: FAILED: kind.sh" >&2; exit 1; }
"$here/node.sh" || { echo "kind-smoke: FAILED: node.sh" >&2; exit 1; }
KUBECTL=$IMAGES_CACHE/kubernetes-$KUBE_VERSION/bin/kubectl
COMPONENT=kind-smoke
OUT=$IMAGES_CACHE/kind-node-$KUBE_VERSION # timings go next to the node image's
LOG=$OUT/smoke-$cluster.log
: >"$LOG"
kc() { "$KUBECTL" --context "kind-$cluster" "$@"; }

clusters=$("$KIND" get clusters 2>/dev/null) || true
grep -qxF "$cluster" <<<"$clusters" && fail "cluster $cluster already exists (kind delete cluster --name $cluster)"
note "creating cluster $cluster (log: $LOG)"
t0=$(date +%s)
step "kind create cluster" "$KIND" create cluster --name "$cluster" --retain \
  --image "$LOCAL_REPO/kind-node:$KUBE_VERSION" --config "$REPO_ROOT/fixtures/kind/cluster.yaml" --wait 0s
t1=$(date +%s)
step "wait node Ready (300s)" kc wait --for=condition=Ready node --all --timeout=300s
t2=$(date +%s)

# Drop the forward block (single line or `forward ... { ... }`) from the Corefile.
drop_forward() {
  local corefile
  corefile=$(kc -n kube-system get configmap coredns -o jsonpath='{.data.Corefile}' \
    | awk '/^[[:space:]]*forward[[:space:]]/ { if ($0 ~ /\{[[:space:]]*$/) skip = 1; next }
           skip && /^[[:space:]]*\}[[:space:]]*$/ { skip = 0; next }
           !skip { print }')
  if grep -q forward <<<"$corefile"; then echo "forward still present"; return 1; fi
  printf '%s\n' "$corefile"
  kc -n kube-system create configmap coredns --from-literal=Corefile="$corefile" \
    --dry-run=client -o yaml | kc apply -f -
  kc -n kube-system rollout restart deployment/coredns
}
step "remove CoreDNS forward" drop_forward
step "wait CoreDNS rollout (300s)" kc -n kube-system rollout status deployment/coredns --timeout=300s
t3=$(date +%s)

# DNS through the kube-dns Service VIP (kube-proxy nftables -> CoreDNS over ptp),
# with a local image loaded by `kind load` (ctr import, offline).
dns_check() {
  local out
  "$KIND" load docker-image "$LOCAL_REPO/debian-minbase:$DEBIAN_SUITE" --name "$cluster"
  kc run dnscheck --image="$LOCAL_REPO/debian-minbase:$DEBIAN_SUITE" --image-pull-policy=Never \
    --restart=Never --command -- getent hosts kubernetes.default.svc.cluster.local
  kc wait --for=jsonpath='{.status.phase}'=Succeeded pod/dnscheck --timeout=120s
  out=$(kc logs dnscheck)
  echo "$out"
  [[ $out == 10.96.0.1* ]]
  kc delete pod dnscheck --wait=false
}
step "DNS check pod (120s)" dns_check
t4=$(date +%s)

node=$cluster-control-plane
step "pods" kc get pods -A -o wide
pulls=$(docker exec "$node" journalctl -u containerd --no-pager | grep -c 'PullImage' || true)
step "node images (crictl)" docker exec "$node" crictl images
((pulls == 0)) || fail "containerd in $node logged $pulls PullImage calls"
# A pulled image carries a RepoDigest; images built or loaded locally have none.
mapfile -t ids < <(docker images -q | sort -u)
pulled=$(docker image inspect --format '{{.RepoTags}} {{.RepoDigests}}' "${ids[@]}" | grep -v ' \[\]$' || true)
[[ -z $pulled ]] || fail "docker holds pulled images: $pulled"
printf 'cluster %s: create=%ss node-ready=+%ss coredns-ready=+%ss dns-check=+%ss date=%s\n' \
  "$cluster" "$((t1 - t0))" "$((t2 - t1))" "$((t3 - t2))" "$((t4 - t3))" "$(date -u +%FT%TZ)" >>"$OUT/timings.txt"
note "cluster $cluster ready: create $((t1 - t0))s, node Ready +$((t2 - t1))s, CoreDNS +$((t3 - t2))s; nothing pulled"
