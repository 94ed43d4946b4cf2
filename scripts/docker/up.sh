#!/usr/bin/env bash
# up.sh: make a working Docker daemon available on a Debian bookworm host.
#
#   1. installs Debian's docker.io and jq with apt if dockerd or jq is missing;
#   2. starts dockerd if `docker info` fails: `systemctl start docker` where
#      systemd is PID 1, else in the background (our build hosts), log:
#      /var/log/harness-dockerd.log;
#   3. if CAP_SYS_RESOURCE (bit 24) is missing from the host's bounding set,
#      installs a runc wrapper that strips that capability from container specs
#      (docker run --privileged fails otherwise: "unable to apply caps") and
#      makes it Docker's default runtime (/etc/docker/daemon.json), restarting
#      dockerd once. On hosts that have the capability nothing is installed.
#
# Idempotent: a second run only checks and exits. Needs root. Caches nothing.
# Environment: DOCKERD_WAIT_SECONDS (default 60).
set -euo pipefail

readonly DOCKERD_LOG=/var/log/harness-dockerd.log
readonly DOCKERD_PIDFILE=/var/run/docker.pid
readonly WRAPPER=/usr/local/libexec/harness/runc-drop-sys-resource
readonly RUNTIME_NAME=harness-runc
readonly DAEMON_JSON=/etc/docker/daemon.json
readonly WAIT_SECONDS=${DOCKERD_WAIT_SECONDS:-60}

log() { printf 'docker-up: %s\n' "$*" >&2; }
die() { printf 'docker-up: FAILED: %s\n' "$*" >&2; exit 1; }

[[ $(id -u) -eq 0 ]] || die "must run as root (installs packages, starts dockerd)"

# --- 1. packages -----------------------------------------------------------
missing=()
command -v dockerd >/dev/null 2>&1 || missing+=(docker.io)
command -v jq >/dev/null 2>&1 || missing+=(jq)
if ((${#missing[@]})); then
  log "installing ${missing[*]} with apt"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null || die "apt-get update failed"
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null \
    || die "apt-get install ${missing[*]} failed"
fi

# --- 2. dockerd ------------------------------------------------------------
docker_ok() { docker info >/dev/null 2>&1; }

wait_for_docker() { # bounded wait named "docker info"
  local i
  for ((i = 0; i < WAIT_SECONDS; i++)); do
    docker_ok && return 0
    sleep 1
  done
  die "wait 'docker info' timed out after ${WAIT_SECONDS}s; see ${DOCKERD_LOG}"
}

# With systemd as PID 1 the docker.service unit owns dockerd; otherwise we do.
have_systemd() { [[ -d /run/systemd/system ]]; }

start_dockerd() {
  if have_systemd; then
    log "starting docker.service"
    systemctl start docker.service || die "systemctl start docker.service failed"
  else
    log "starting dockerd (log: ${DOCKERD_LOG})"
    nohup dockerd >>"$DOCKERD_LOG" 2>&1 </dev/null &
  fi
  wait_for_docker
}

stop_dockerd() { # stops the dockerd whose pid is in its own pidfile
  local pid i
  if have_systemd; then
    systemctl stop docker.service docker.socket || die "systemctl stop docker.service failed"
    return 0
  fi
  pid=$(cat "$DOCKERD_PIDFILE" 2>/dev/null) || die "dockerd pidfile ${DOCKERD_PIDFILE} missing; restart dockerd by hand"
  kill "$pid"
  for ((i = 0; i < WAIT_SECONDS; i++)); do
    kill -0 "$pid" 2>/dev/null || return 0
    sleep 1
  done
  die "wait 'dockerd exit' (pid ${pid}) timed out after ${WAIT_SECONDS}s"
}

docker_ok || start_dockerd

# --- 3. CAP_SYS_RESOURCE runtime wrapper ------------------------------------
capbnd=$(awk '/^CapBnd:/ {print $2}' /proc/self/status)
if (((16#$capbnd >> 24) & 1)); then
  exit 0 # normal host: the wrapper must not be installed
fi

real_runc=$(command -v runc) || die "runc not found (Debian package runc)"
wrapper_body=$(cat <<EOF
#!/bin/sh
# Installed by scripts/docker/up.sh: this host's capability bounding set lacks
# CAP_SYS_RESOURCE, so runc cannot grant it to privileged containers.
# Strip it from <bundle>/config.json on create/run and from the --process file
# on exec, then exec the real runc with the original arguments.
set -e
REAL_RUNC=${real_runc}
strip() { # \$1: jq path of the capabilities object, \$2: file
  [ -f "\$2" ] || return 0
  tmp="\$2.harness.\$\$"
  jq "if \$1 then \$1 |= with_entries(.value |= (if type == \"array\" then map(select(. != \"CAP_SYS_RESOURCE\")) else . end)) else . end" "\$2" >"\$tmp"
  cat "\$tmp" >"\$2"
  rm -f "\$tmp"
}
cmd="" bundle="" process="" prev=""
for a in "\$@"; do
  case "\$prev" in
    --bundle|-b) bundle="\$a" ;;
    --process|-p) [ "\$cmd" = exec ] && process="\$a" ;;
  esac
  case "\$a" in
    --bundle=*) bundle="\${a#--bundle=}" ;;
    --process=*) process="\${a#--process=}" ;;
    create|run|exec) [ -z "\$cmd" ] && cmd="\$a" ;;
  esac
  prev="\$a"
done
case "\$cmd" in
  create|run) strip .process.capabilities "\${bundle:-.}/config.json" ;;
  exec) [ -n "\$process" ] && strip .capabilities "\$process" ;;
esac
exec "\$REAL_RUNC" "\$@"
EOF
)

changed=0
if [[ ! -x $WRAPPER ]] || [[ $(cat "$WRAPPER") != "$wrapper_body" ]]; then
  mkdir -p "$(dirname "$WRAPPER")"
  printf '%s\n' "$wrapper_body" >"$WRAPPER"
  chmod 0755 "$WRAPPER"
  changed=1
fi

mkdir -p "$(dirname "$DAEMON_JSON")"
current=$(cat "$DAEMON_JSON" 2>/dev/null || echo '{}')
desired=$(jq --arg n "$RUNTIME_NAME" --arg p "$WRAPPER" \
  '.runtimes[$n] = {path: $p} | .["default-runtime"] = $n' <<<"$current") \
  || die "${DAEMON_JSON} is not valid JSON"
if [[ $(jq -S . <<<"$current") != $(jq -S . <<<"$desired") ]]; then
  printf '%s\n' "$desired" >"$DAEMON_JSON"
  changed=1
fi

# dockerd reads daemon.json only at start: restart if it does not yet use the wrapper.
if ((changed)) || [[ $(docker info --format '{{.DefaultRuntime}}') != "$RUNTIME_NAME" ]]; then
  log "restarting dockerd to load runtime ${RUNTIME_NAME}"
  stop_dockerd
  start_dockerd
  [[ $(docker info --format '{{.DefaultRuntime}}') == "$RUNTIME_NAME" ]] \
    || die "dockerd restarted but its default runtime is not ${RUNTIME_NAME}; see ${DOCKERD_LOG}"
  log "applied runc wrapper ${WRAPPER} as default runtime: host CapBnd ${capbnd} lacks CAP_SYS_RESOURCE (bit 24), which breaks docker run --privileged"
fi
