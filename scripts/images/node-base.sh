#!/usr/bin/env bash
# node-base.sh: build harness.local/kind-base:<kind version>-bookworm, the
# equivalent of kind's base image (kindest/base) without pulling anything:
#   - debootstrap bookworm with kind's package list plus Debian's containerd,
#     runc and containernetworking-plugins (no Go builds);
#   - kind's images/base/files read from the sigs.k8s.io/kind module in
#     GOMODCACHE at build time (never copied into this repository), modes fixed
#     (module zips drop exec bits);
#   - the cleanup and unit enablement of kind's base Dockerfile, done in a chroot;
#   - containerd's restrict_oom_score_adj = true (see the comment in kind_cleanup);
#   - symlinks /usr/local/bin/containerd -> /usr/bin/containerd and
#     /opt/cni/bin -> /usr/lib/cni; /etc/containerd/cri-base.json from `ctr oci spec`;
#   - a static ptp + host-local + portmap CNI conflist (single-node clusters with
#     networking.disableDefaultCNI: true; pod subnet 10.244.0.0/24 = first node's podCIDR).
# Outputs, in $HARNESS_CACHE/images/kind-base-<kind version>/: the image as a
# docker archive (.tar), build.log, timings.txt, done. Needs root (chroot, device nodes).
# Left out of kind's list: nfs-common, open-iscsi, curl (unused here); no crictl.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

PACKAGES=systemd,conntrack,iptables,nftables,iproute2,ethtool,util-linux,mount,kmod,libseccomp2,pigz,fuse-overlayfs,bash,ca-certificates,jq,procps,containerd,runc,containernetworking-plugins
POD_SUBNET=10.244.0.0/24
TAG=$LOCAL_REPO/kind-base:$KIND_VERSION-$DEBIAN_SUITE
component_init kind-base "$KIND_VERSION" "suite=$DEBIAN_SUITE packages=$PACKAGES pod=$POD_SUBNET recipe=$(recipe_hash "${BASH_SOURCE[0]}")"
is_done "$TAG" && exit 0

[[ $(id -u) -eq 0 ]] || fail "must run as root (debootstrap, chroot)"
command -v debootstrap >/dev/null || fail "debootstrap missing (apt-get install debootstrap)"
kind_dir=$(cd "$(tools_dir kind sigs.k8s.io/kind "$KIND_VERSION")" && go mod download -json "sigs.k8s.io/kind@$KIND_VERSION" | jq -r .Dir) \
  || fail "go mod download sigs.k8s.io/kind@$KIND_VERSION"
files=$kind_dir/images/base/files
[[ -f $files/usr/local/bin/entrypoint ]] || fail "kind base files not found in $files"

rootfs=$OUT/rootfs
reset_rootfs "$rootfs"
note "debootstrap $DEBIAN_SUITE with kind's packages (log: $LOG)"
timed debootstrap debootstrap --variant=minbase --include="$PACKAGES" \
  "$DEBIAN_SUITE" "$rootfs" "$DEBIAN_MIRROR"

# kind base files: dirs 0755, files 0644, scripts 0755 (what the Dockerfile's COPY --chmod does).
copy_kind_files() {
  local rel
  (cd "$files" && find . -type d) | while read -r rel; do install -d -m 0755 "$rootfs/$rel"; done
  (cd "$files" && find . -type f) | while read -r rel; do install -m 0644 "$files/$rel" "$rootfs/$rel"; done
  chmod 0755 "$rootfs"/usr/local/bin/* "$rootfs"/kind/bin/*
}
step "copy kind base files from $files" copy_kind_files

# The RUN steps of kind's images/base/Dockerfile (v0.30.0), in a chroot.
kind_cleanup() {
  find "$rootfs/lib/systemd/system/sysinit.target.wants/" -name systemd-tmpfiles-setup.service -delete
  rm -f "$rootfs"/lib/systemd/system/multi-user.target.wants/* \
    "$rootfs"/etc/systemd/system/*.wants/* \
    "$rootfs"/lib/systemd/system/local-fs.target.wants/* \
    "$rootfs"/lib/systemd/system/sockets.target.wants/*udev* \
    "$rootfs"/lib/systemd/system/sockets.target.wants/*initctl* \
    "$rootfs"/lib/systemd/system/basic.target.wants/*
  echo "ReadKMsg=no" >>"$rootfs/etc/systemd/journald.conf"
  ln -sf /lib/systemd/systemd "$rootfs/sbin/init"
  chroot "$rootfs" systemctl enable kubelet.service containerd.service undo-mount-hacks.service
  chroot "$rootfs" systemctl mask systemd-binfmt.service
  mkdir -p "$rootfs/etc/kubernetes/manifests"
  # Pods with a negative oomScoreAdj (static control-plane pods: -998) need
  # CAP_SYS_RESOURCE to lower oom_score_adj; on hosts whose bounding set lacks it
  # (see scripts/docker/up.sh) runc fails with "failed to update
  # /proc/self/oom_score_adj: Permission denied". Clamping to containerd's own
  # score (0 in a kind node) avoids that; the cost, on every host, is that
  # control-plane pods lose their OOM-killer protection inside the node.
  grep -q '^ *restrict_oom_score_adj = false' "$rootfs/etc/containerd/config.toml"
  sed -i 's/^\( *\)restrict_oom_score_adj = false/\1restrict_oom_score_adj = true/' "$rootfs/etc/containerd/config.toml"
  # Debian paths vs kind's config.toml / containerd.service.
  ln -sf /usr/bin/containerd "$rootfs/usr/local/bin/containerd"
  mkdir -p "$rootfs/opt/cni"
  rm -rf "$rootfs/opt/cni/bin"
  ln -s /usr/lib/cni "$rootfs/opt/cni/bin"
  chroot "$rootfs" ctr oci spec \
    | jq '.hooks.createContainer[.hooks.createContainer | length] |= . + {"path": "/kind/bin/mount-product-files.sh"}' \
    | jq 'del(.process.rlimits)' >"$rootfs/etc/containerd/cri-base.json"
  jq -e '.hooks.createContainer[0].path == "/kind/bin/mount-product-files.sh"' "$rootfs/etc/containerd/cri-base.json"
  mkdir -p "$rootfs/etc/cni/net.d"
  # ipMasq: pods reach the other cluster's node (its API server, Vault's NodePort) over the kind
  # network; both clusters use the same pod subnet, so their traffic must leave as the node's IP.
  cat >"$rootfs/etc/cni/net.d/10-harness-ptp.conflist" <<EOF
{
  "cniVersion": "0.3.1",
  "name": "harness-ptp",
  "plugins": [
    {
      "type": "ptp",
      "ipMasq": true,
      "mtu": 1500,
      "ipam": {
        "type": "host-local",
        "dataDir": "/run/cni-ipam-state",
        "routes": [{ "dst": "0.0.0.0/0" }],
        "ranges": [[{ "subnet": "$POD_SUBNET" }]]
      }
    },
    { "type": "portmap", "capabilities": { "portMappings": true } }
  ]
}
EOF
  rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/*.bin "$rootfs"/usr/share/doc/* \
    "$rootfs"/usr/share/man/* "$rootfs"/usr/share/locale/*
  : >"$rootfs/etc/machine-id" # the entrypoint regenerates it per node
}
step "kind base cleanup (chroot)" kind_cleanup
step "tar rootfs" tar --numeric-owner -C "$rootfs" -cf "$OUT/rootfs.tar" .
rm -rf "$rootfs"

step "docker import" docker import "$OUT/rootfs.tar" "$TAG-rootfs"
ctx=$OUT/context
rm -rf "$ctx" && mkdir -p "$ctx"
# docker commit/import cannot set STOPSIGNAL; a Dockerfile FROM the import can. No VOLUME /var.
cat >"$ctx/Dockerfile" <<EOF
FROM $TAG-rootfs
ENV container=docker
STOPSIGNAL SIGRTMIN+3
ENTRYPOINT ["/usr/local/bin/entrypoint", "/sbin/init"]
EOF
step "docker build $TAG" env DOCKER_BUILDKIT=0 docker build --pull=false -t "$TAG" "$ctx"
step "docker rmi $TAG-rootfs" docker rmi "$TAG-rootfs"
# Keep the image (not the rootfs tar) so a host with this cache but an empty
# Docker reloads it in seconds instead of running debootstrap again.
step "docker save $TAG" docker save -o "$OUT/$(image_tar_name "$TAG")" "$TAG"
rm -rf "$OUT/rootfs.tar" "$ctx"
mark_done
