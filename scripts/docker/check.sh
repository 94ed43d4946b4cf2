#!/usr/bin/env bash
# check.sh: report what this host lacks for offline kind clusters (read-only;
# changes nothing; meant to back a future `harness doctor`). One line per item:
# "ok" or "MISSING" plus the fix. Exit status 1 if anything is missing.
# Checks: docker client/daemon, the CAP_SYS_RESOURCE runtime wrapper (only on
# hosts that need it), a privileged smoke run (if the local Debian image exists),
# cgroup v1 memory/cpuset controllers, and the build tools (go, gcc, jq, debootstrap).
set -uo pipefail

readonly WRAPPER=/usr/local/libexec/harness/runc-drop-sys-resource
readonly RUNTIME_NAME=harness-runc
readonly SMOKE_IMAGE=harness.local/debian-minbase:bookworm
missing=0

ok() { printf 'ok       %s\n' "$1"; }
miss() { printf 'MISSING  %s -> %s\n' "$1" "$2"; missing=1; }
have() { command -v "$1" >/dev/null 2>&1; }

for tool in docker dockerd jq; do
  if have "$tool"; then ok "$tool"; else miss "$tool" "scripts/docker/up.sh (apt: docker.io jq)"; fi
done
for tool in go gcc debootstrap; do
  if have "$tool"; then ok "$tool"; else miss "$tool" "apt-get install ${tool/go/golang (Go >= 1.24)}"; fi
done
if have go; then
  gov=$(go env GOVERSION 2>/dev/null)
  if [[ $gov =~ ^go1\.(2[4-9]|[3-9][0-9]) ]]; then ok "go version $gov"; else miss "go version $gov" "Go >= 1.24 (tool directives)"; fi
fi

daemon=0
if docker info >/dev/null 2>&1; then
  ok "docker daemon ($(docker info --format '{{.ServerVersion}} {{.Driver}} {{.CgroupDriver}} cgroup v{{.CgroupVersion}}'))"
  daemon=1
else
  miss "docker daemon" "scripts/docker/up.sh"
fi

capbnd=$(awk '/^CapBnd:/ {print $2}' /proc/self/status)
if (((16#$capbnd >> 24) & 1)); then
  ok "CAP_SYS_RESOURCE in bounding set (no runtime wrapper needed)"
  if ((daemon)) && [[ $(docker info --format '{{.DefaultRuntime}}') == "$RUNTIME_NAME" ]]; then
    miss "default runtime" "this host does not need ${RUNTIME_NAME}; remove it from /etc/docker/daemon.json"
  fi
else
  if [[ -x $WRAPPER ]]; then ok "runc wrapper $WRAPPER"; else miss "runc wrapper (CapBnd $capbnd lacks CAP_SYS_RESOURCE)" "scripts/docker/up.sh"; fi
  if ((daemon)); then
    rt=$(docker info --format '{{.DefaultRuntime}}')
    if [[ $rt == "$RUNTIME_NAME" ]]; then ok "docker default runtime $rt"; else miss "docker default runtime is $rt, not $RUNTIME_NAME" "scripts/docker/up.sh"; fi
  fi
fi

if ((daemon)); then
  if docker image inspect "$SMOKE_IMAGE" >/dev/null 2>&1; then
    if out=$(timeout 60 docker run --rm --privileged "$SMOKE_IMAGE" sh -c 'grep CapEff /proc/self/status' 2>&1); then
      ok "docker run --privileged ($out)"
    else
      miss "docker run --privileged: $out" "scripts/docker/up.sh"
    fi
  else
    printf 'skipped  docker run --privileged (no %s yet: scripts/images/debian-base.sh)\n' "$SMOKE_IMAGE"
  fi
fi

for ctl in memory cpuset; do
  if [[ -d /sys/fs/cgroup/$ctl || -f /sys/fs/cgroup/cgroup.controllers ]]; then ok "cgroup $ctl"; else miss "cgroup $ctl controller" "kernel with CONFIG_MEMCG_V1/CONFIG_CPUSETS_V1 or cgroup v2"; fi
done
exit "$missing"
