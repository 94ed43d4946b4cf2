#!/usr/bin/env bash
# node.sh: assemble the kind node image harness.local/kind-node:<k8s version> the
# way `kind build node-image` does (pkg/build/nodeimage/buildcontext.go), but
# with every image built locally, so nothing is fetched:
#   1. builds (or finds warm) kind-base, kubernetes, etcd, coredns, pause, crictl;
#   2. runs the base image with `sleep infinity` (not privileged, /var not a
#      volume so `docker commit` keeps the preloaded content);
#   3. copies kubeadm/kubelet/kubectl to /usr/bin, crictl to /usr/local/bin,
#      and writes /kind/version;
#   4. starts containerd and imports each image tar with
#      `ctr -n k8s.io images import --no-unpack --all-platforms --digests`
#      (Debian's containerd 1.6 has no --label);
#   5. checks every image of `kubeadm config images list` (pause replaced by
#      containerd's sandbox_image) is present, stops containerd, commits.
# Outputs, in $HARNESS_CACHE/images/kind-node-<k8s version>/: build.log,
# timings.txt, done (keyed by the stamps of its inputs). The image itself lives
# only in Docker; a warm rerun rebuilds it only if it is missing there.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source-path=SCRIPTDIR source=methods.sh
source "$(dirname "${BASH_SOURCE[0]}")/methods.sh"

here=$(dirname "${BASH_SOURCE[0]}")
mapfile -t methods < <(registry_methods)
for dep in node-base kubernetes etcd coredns pause crictl debian-base openbao "${methods[@]}"; do
  "$here/$dep.sh" || { printf 'kind-node: FAILED: dependency %s.sh\n' "$dep" >&2; exit 1; }
done
method_tars=()
for m in "${methods[@]}"; do
  mapfile -t -O "${#method_tars[@]}" method_tars < <(method_archives "$m")
done

V=$KUBE_VERSION
TAG=$LOCAL_REPO/kind-node:$V
BASE=$LOCAL_REPO/kind-base:$KIND_VERSION-$DEBIAN_SUITE
k8s=$IMAGES_CACHE/kubernetes-$V
tars=(
  "$k8s"/registry.k8s.io_kube-{apiserver,controller-manager,scheduler,proxy}_"$V".tar
  "$IMAGES_CACHE/etcd-$ETCD_VERSION/registry.k8s.io_etcd_$ETCD_IMAGE_TAG.tar"
  "$IMAGES_CACHE/coredns-$COREDNS_VERSION/registry.k8s.io_coredns_coredns_$COREDNS_VERSION.tar"
  "$IMAGES_CACHE/pause-$PAUSE_TAG/registry.k8s.io_pause_$PAUSE_TAG.tar"
  # The harness's own images (consumer pods, OpenBao server and agents), preloaded so that
  # `harness up` has nothing to load.
  "$IMAGES_CACHE/debian-minbase-$DEBIAN_SUITE/${LOCAL_REPO}_debian-minbase_$DEBIAN_SUITE.tar"
  "$IMAGES_CACHE/openbao-$OPENBAO_VERSION/${LOCAL_REPO}_openbao_$OPENBAO_VERSION.tar"
  # Every delivery method's own images, as their recipes published them.
  "${method_tars[@]}"
)
method_stamps=()
for t in "${method_tars[@]}"; do method_stamps+=("$(dirname "$t")/done"); done
inputs=$( (cat "$IMAGES_CACHE"/{kind-base-"$KIND_VERSION",kubernetes-"$V",etcd-"$ETCD_VERSION",coredns-"$COREDNS_VERSION",pause-"$PAUSE_TAG",crictl-"$CRICTL_VERSION",debian-minbase-"$DEBIAN_SUITE",openbao-"$OPENBAO_VERSION"}/done "${method_stamps[@]}"; printf '%s\n' "${methods[@]}") | sha256sum | cut -c1-16)
component_init kind-node "$V" "inputs=$inputs recipe=$(recipe_hash "${BASH_SOURCE[0]}")"
is_done "$TAG" && exit 0

t0=$(date +%s)
for t in "${tars[@]}"; do [[ -f $t ]] || fail "missing image archive $t"; done

# Required images: kubeadm's list with pause replaced by containerd's sandbox_image.
sandbox=$(docker run --rm --entrypoint=cat "$BASE" /etc/containerd/config.toml \
  | sed -n 's/^ *sandbox_image *= *"\(.*\)"/\1/p')
[[ $sandbox == "$REGISTRY/pause:$PAUSE_TAG" ]] || fail "base sandbox_image is '$sandbox', expected $REGISTRY/pause:$PAUSE_TAG"
mapfile -t required < <("$k8s/bin/kubeadm" config images list --kubernetes-version "$V" \
  | sed "s|^$REGISTRY/pause:.*|$sandbox|")
printf 'required images:\n%s\n' "${required[*]}" >>"$LOG"

ctr_name=harness-kind-node-build
cleanup() { docker rm -f "$ctr_name" >/dev/null 2>&1 || true; }
trap cleanup EXIT
cleanup
step "start build container" docker run -d --name "$ctr_name" --entrypoint=sleep \
  --security-opt seccomp=unconfined "$BASE" infinity
for b in kubeadm kubelet kubectl; do
  step "copy $b" docker cp "$k8s/bin/$b" "$ctr_name:/usr/bin/$b"
done
step "copy crictl" docker cp "$IMAGES_CACHE/crictl-$CRICTL_VERSION/bin/crictl" "$ctr_name:/usr/local/bin/crictl"
step "fix binaries, /kind/version" docker exec "$ctr_name" sh -ec \
  "chmod 0755 /usr/bin/kubeadm /usr/bin/kubelet /usr/bin/kubectl /usr/local/bin/crictl
   chown root:root /usr/bin/kubeadm /usr/bin/kubelet /usr/bin/kubectl /usr/local/bin/crictl
   echo '$V' >/kind/version
   mkdir -p /tmp/images"

step "start containerd" docker exec -d "$ctr_name" sh -c 'containerd >/tmp/containerd.log 2>&1'
wait_containerd() { # bounded wait named "ctr version"
  local i
  for ((i = 0; i < 60; i++)); do
    docker exec "$ctr_name" ctr version && return 0
    sleep 1
  done
  echo "wait 'ctr version' timed out after 60s"
  docker exec "$ctr_name" cat /tmp/containerd.log
  return 1
}
step "wait for containerd" wait_containerd
for t in "${tars[@]}"; do
  step "import $(basename "$t")" sh -c "docker cp '$t' '$ctr_name:/tmp/images/' && \
    docker exec '$ctr_name' ctr -n k8s.io images import --no-unpack --all-platforms --digests '/tmp/images/$(basename "$t")' && \
    docker exec '$ctr_name' rm -f '/tmp/images/$(basename "$t")'"
done
present=$(docker exec "$ctr_name" ctr -n k8s.io images ls -q)
printf 'present images:\n%s\n' "$present" >>"$LOG"
for img in "${required[@]}"; do
  grep -qxF "$img" <<<"$present" || fail "image $img missing after import"
done

stop_containerd() { # bounded wait named "containerd exit"
  local i
  docker exec "$ctr_name" sh -c 'kill $(pidof containerd)'
  for ((i = 0; i < 30; i++)); do
    docker exec "$ctr_name" pidof containerd >/dev/null || return 0
    sleep 1
  done
  echo "wait 'containerd exit' timed out after 30s"
  return 1
}
step "stop containerd" stop_containerd
step "clean build leftovers" docker exec "$ctr_name" rm -rf /tmp/images /tmp/containerd.log
step "docker commit $TAG" docker commit \
  --change 'ENTRYPOINT ["/usr/local/bin/entrypoint", "/sbin/init"]' \
  --change 'CMD []' "$ctr_name" "$TAG"
printf 'assemble wall=%ss date=%s\n' "$(($(date +%s) - t0))" "$(date -u +%FT%TZ)" >>"$OUT/timings.txt"
mark_done
