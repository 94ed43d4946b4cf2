#!/usr/bin/env bash
# debian-base.sh: build harness.local/debian-minbase:bookworm, a Debian minbase
# rootfs (debootstrap from Debian's mirror, nothing pulled) with the tools
# kube-proxy needs (iptables, nftables, conntrack, kmod) and ca-certificates.
# Base of the kube-proxy image (and later images that need a libc userland).
#
# Outputs, in $HARNESS_CACHE/images/debian-minbase-bookworm/: the image as a
# docker archive (.tar), build.log, timings.txt, done.
# Note: the suite is not a snapshot; a rebuild picks up bookworm's current packages.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

PACKAGES=iptables,nftables,conntrack,kmod,ca-certificates
TAG=$LOCAL_REPO/debian-minbase:$DEBIAN_SUITE
component_init debian-minbase "$DEBIAN_SUITE" "packages=$PACKAGES mirror=$DEBIAN_MIRROR"
is_done "$TAG" && exit 0

command -v debootstrap >/dev/null || fail "debootstrap missing (apt-get install debootstrap)"
rootfs=$OUT/rootfs
reset_rootfs "$rootfs"
note "debootstrap $DEBIAN_SUITE minbase (log: $LOG)"
timed debootstrap debootstrap --variant=minbase --include="$PACKAGES" \
  "$DEBIAN_SUITE" "$rootfs" "$DEBIAN_MIRROR"
step "trim rootfs" sh -c "rm -rf '$rootfs'/var/lib/apt/lists/* '$rootfs'/var/cache/apt/*.bin \
  '$rootfs'/usr/share/doc/* '$rootfs'/usr/share/man/* '$rootfs'/usr/share/locale/*"
step "tar rootfs" tar --numeric-owner -C "$rootfs" -cf "$OUT/rootfs.tar" .
rm -rf "$rootfs"
step "docker import $TAG" docker import \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change 'CMD ["/bin/bash"]' "$OUT/rootfs.tar" "$TAG"
step "docker save $TAG" docker save -o "$OUT/$(image_tar_name "$TAG")" "$TAG"
rm -f "$OUT/rootfs.tar" # the saved image is enough to reload it
mark_done
