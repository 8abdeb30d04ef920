#!/usr/bin/env bash
# The kind path of hack/kind/kind.sh on a machine without a container registry (CI): everything is
# built here, from Debian packages, the Go module proxy and the npm registry, and cached.
#
#   bash hack/kind/offline.sh up      # tear down leftovers, build what is missing, start Docker,
#                                     # run hack/kind/kind.sh up; writes .kind/env and .kind/ready
#   bash hack/kind/offline.sh down    # delete the cluster, stop Docker, remove its mounts, bridges
#                                     # and iptables chains (also after a failed or partial run)
#   bash hack/kind/offline.sh status
#
# Then: `source .kind/env` (DOCKER_HOST, KUBECONFIG, PATH with docker, kind, kubectl and helm).
# Phases: packages (apt, only what is missing), tools (hack/kind/build-tools.sh), dockerd (its own
# data root under the cache, so images survive a run; exec root, bridge and address pool of its
# own; runc without CAP_SYS_RESOURCE as default runtime), images (hack/kind/offline/images.sh),
# cluster (hack/kind/kind.sh up with the offline node image and hack/kind/offline/cluster-overlay.yaml).
# Logs go to .kind/run-<time>/logs/ (dockerd.log, and `kind export logs` on failure).
set -euo pipefail

# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

WORK_DIR="$CACHE_DIR/kind"
DATA_ROOT="$WORK_DIR/docker"
EXEC_ROOT=/run/pod-identity-webhook-kind
PIDFILE="$EXEC_ROOT/dockerd.pid"
SOCKET="$EXEC_ROOT/docker.sock"
BRIDGE=piw-docker0
ADDRESS_PREFIX=172.31 # the bridge's and every network's addresses: 172.31.x.y
BRIDGE_ADDRESS=$ADDRESS_PREFIX.255.1/24
ADDRESS_POOL=$ADDRESS_PREFIX.0.0/17
CGROUP_PARENT=pod-identity-webhook-kind # every container's cgroup is under it: found after a crash
KIND_BRIDGE=piw-kind0             # the bridge of docker's network "kind", which the node is on
NETWORKS_FILE="$WORK_DIR/bridges" # the bridges of the networks our dockerd created
DOCKER=/usr/bin/docker             # Debian's client: another one on PATH may lack BuildKit support
KIND="$STATE/bin/kind"             # linked there by link_tools, as kubectl and helm
PACKAGES=(docker.io containerd runc containernetworking-plugins iptables debootstrap busybox-static jq gcc libc6-dev)
export DOCKER_HOST="unix://$SOCKET"
export KUBECONFIG="$STATE/kubeconfig"

timings=()
# Runs one phase and records its duration.
phase() { # name command...
  local name="$1" start=$SECONDS
  shift
  log "== $name"
  "$@"
  timings+=("$(printf '%-10s %4d s' "$name" $((SECONDS - start)))")
  log "== $name done in $((SECONDS - start)) s"
}
print_timings() {
  local line
  log "timings:"
  for line in "${timings[@]}"; do log "  $line"; done
  [[ -n "${run_dir:-}" ]] && printf '%s\n' "${timings[@]}" >"$run_dir/timings.txt"
  return 0
}

dockerd_pid() { # prints the PID of our dockerd if it runs
  local pid
  pid="$(cat "$PIDFILE" 2>/dev/null)" || return 1
  [[ -n "$pid" ]] && tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q -- "--exec-root $EXEC_ROOT" &&
    echo "$pid"
}

# --- phases of up -------------------------------------------------------------------------------

install_packages() {
  local missing=() package
  for package in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q 'ok installed' || missing+=("$package")
  done
  if ((${#missing[@]})); then
    log "apt-get install ${missing[*]}"
    apt-get update -qq >&2 || die "apt-get update failed"
    # Debian's packages would start their services: none of them may run (dockerd runs by hand).
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2 ||
      die "apt-get install ${missing[*]} failed"
  else
    log "packages present: ${PACKAGES[*]}"
  fi
}

build_tools() {
  NODE24_BIN="$(bash "$root/hack/node24.sh")" || die "hack/node24.sh failed"
  export PATH="$NODE24_BIN:$PATH:/usr/local/go/bin"
  BIN_DIR="$(bash "$here/build-tools.sh")" || die "hack/kind/build-tools.sh failed"
  export NODE24_BIN BIN_DIR
}

start_dockerd() {
  mkdir -p "$DATA_ROOT" "$EXEC_ROOT" "$run_dir/logs"
  ip link show "$BRIDGE" >/dev/null 2>&1 || {
    ip link add "$BRIDGE" type bridge &&
      ip addr add "$BRIDGE_ADDRESS" dev "$BRIDGE" &&
      ip link set "$BRIDGE" up
  } || die "could not create the bridge $BRIDGE ($BRIDGE_ADDRESS)"
  echo '{}' >"$EXEC_ROOT/daemon.json"
  # Published ports on loopback only; the socket is a file: nothing listens beyond this machine.
  setsid /usr/sbin/dockerd --config-file "$EXEC_ROOT/daemon.json" --data-root "$DATA_ROOT" \
    --exec-root "$EXEC_ROOT" --pidfile "$PIDFILE" --host "$DOCKER_HOST" --bridge "$BRIDGE" \
    --ip 127.0.0.1 --default-address-pool "base=$ADDRESS_POOL,size=24" \
    --exec-opt native.cgroupdriver=cgroupfs --cgroup-parent "/$CGROUP_PARENT" \
    --add-runtime "runc-drop-caps=$here/offline/runc-drop-caps" --default-runtime runc-drop-caps \
    >"$run_dir/logs/dockerd.log" 2>&1 </dev/null 9>&- & # 9: the lock, not for the daemon to hold
  local pid=$! deadline=$((SECONDS + 60))
  until "$DOCKER" info >/dev/null 2>&1; do
    kill -0 "$pid" 2>/dev/null || die "dockerd exited: $(tail -n 3 "$run_dir/logs/dockerd.log")"
    ((SECONDS < deadline)) || die "dockerd not ready within 60 s (see $run_dir/logs/dockerd.log)"
    sleep 0.2
  done
  log "dockerd $pid ready: $("$DOCKER" version --format 'server {{.Server.Version}}'), data root $DATA_ROOT"
}

build_images() {
  NODE_IMAGE="$(DOCKER="$DOCKER" WORK_DIR="$WORK_DIR" bash "$here/offline/images.sh")" ||
    die "hack/kind/offline/images.sh failed"
}

# The tools kind.sh and the tests call, first on PATH through .kind/env.
link_tools() {
  mkdir -p "$STATE/bin"
  ln -sfn "$DOCKER" "$STATE/bin/docker"
  local tool
  for tool in kind kubectl helm crictl; do ln -sfn "$BIN_DIR/$tool" "$STATE/bin/$tool"; done
}

# kind puts its node on docker's network "kind" and uses it as it finds it: create it first, on a
# bridge of a known name, and let nothing from it be forwarded elsewhere. The node needs nothing
# beyond this machine (every image is preloaded or loaded), and before kube-proxy has written its
# rules, Pods' connections to the kubernetes Service IP would follow the default route out.
# REJECT, not DROP: such a client fails at once and retries instead of waiting for a timeout.
kind_network() {
  local bridge
  bridge="$("$DOCKER" network inspect kind --format '{{index .Options "com.docker.network.bridge.name"}}' 2>/dev/null)" || true
  if [[ "$bridge" != "$KIND_BRIDGE" ]]; then
    "$DOCKER" network rm kind >/dev/null 2>&1 || true
    "$DOCKER" network create --driver bridge --opt "com.docker.network.bridge.name=$KIND_BRIDGE" \
      --opt com.docker.network.bridge.enable_ip_masquerade=true kind >/dev/null ||
      die "docker network create kind (bridge $KIND_BRIDGE) failed"
  fi
  iptables -C DOCKER-USER -i "$KIND_BRIDGE" ! -o "$KIND_BRIDGE" -j REJECT 2>/dev/null ||
    iptables -I DOCKER-USER -i "$KIND_BRIDGE" ! -o "$KIND_BRIDGE" -j REJECT ||
    die "iptables: could not keep the kind network's traffic on this machine"
}

create_cluster() {
  # A node container left in the persistent data root by a run that never got to `down`.
  if cluster_exists; then
    log "deleting the cluster a previous run left"
    PATH="$STATE/bin:$PATH" "$KIND" delete cluster --name "$KIND_CLUSTER_NAME" >&2
  fi
  kind_network
  PATH="$STATE/bin:$PATH" KIND="$KIND" DOCKER="$STATE/bin/docker" KUBECTL="$STATE/bin/kubectl" \
    HELM="$STATE/bin/helm" KIND_NODE_IMAGE="$NODE_IMAGE" \
    KIND_CONFIG_OVERLAY="$here/offline/cluster-overlay.yaml" bash "$here/kind.sh" up
  record_bridges
}

record_bridges() {
  local networks
  networks="$("$DOCKER" network ls --quiet --filter driver=bridge)" || return 1
  # shellcheck disable=SC2086 # one argument per network ID
  "$DOCKER" network inspect --format '{{.Id}} {{index .Options "com.docker.network.bridge.name"}}' $networks |
    awk '{ print ($2 != "" && $2 != "<no value>" ? $2 : "br-" substr($1, 1, 12)) }' | grep -vx "$BRIDGE" >"$NETWORKS_FILE.new" &&
    mv "$NETWORKS_FILE.new" "$NETWORKS_FILE"
}

write_env() {
  cat >"$STATE/env" <<EOF
# Written by hack/kind/offline.sh up: the offline kind cluster $KIND_CLUSTER_NAME.
export DOCKER_HOST=$DOCKER_HOST
export KUBECONFIG=$KUBECONFIG
export PATH=$STATE/bin:\$PATH
export KIND_CLUSTER_NAME=$KIND_CLUSTER_NAME
export KIND_NODE_IMAGE=$NODE_IMAGE
export KIND_RUN_DIR=$run_dir
EOF
}

on_failure() {
  local status=$?
  trap - ERR EXIT
  print_timings
  if ((status)) && [[ -n "${run_dir:-}" ]]; then
    log "up FAILED (exit $status); logs in $run_dir/logs"
    if dockerd_pid >/dev/null && cluster_exists; then
      PATH="$STATE/bin:$PATH" "$KIND" export logs "$run_dir/logs/kind" --name "$KIND_CLUSTER_NAME" >&2 || true
      log "node logs (containerd, kubelet, Pods) exported to $run_dir/logs/kind"
      tail -n 20 "$run_dir/logs/kind/$KIND_CLUSTER_NAME-control-plane/kubelet.log" 2>/dev/null >&2 || true
    fi
    tail -n 20 "$run_dir/logs/dockerd.log" 2>/dev/null >&2 || true
  fi
  exit "$status"
}

up() {
  [[ "$(id -u)" == 0 ]] || die "must run as root (dockerd, bridges, iptables)"
  run_dir="$STATE/run-$(date -u +%Y%m%dT%H%M%SZ)"
  mkdir -p "$run_dir/logs"
  # Keep the last five runs' logs.
  find "$STATE" -maxdepth 1 -name 'run-*' -type d | sort | head -n -5 | xargs -r rm -rf
  trap on_failure EXIT
  local start=$SECONDS
  phase teardown down
  phase packages install_packages
  phase tools build_tools
  link_tools
  phase dockerd start_dockerd
  phase images build_images
  phase cluster create_cluster
  write_env
  date -u +%FT%TZ >"$STATE/ready"
  timings+=("$(printf '%-10s %4d s' total $((SECONDS - start)))")
  print_timings
  log "disk: docker data root $(du -sh "$DATA_ROOT" 2>/dev/null | cut -f1), cache $(du -sh "$CACHE_DIR" 2>/dev/null | cut -f1)"
  log "ready: source $STATE/env (KUBECONFIG=$KUBECONFIG, DOCKER_HOST=$DOCKER_HOST)"
  trap - EXIT
}

# --- down ---------------------------------------------------------------------------------------

stop_dockerd() {
  local pid deadline
  pid="$(dockerd_pid)" || return 0
  kill -TERM "$pid"
  deadline=$((SECONDS + 30))
  while kill -0 "$pid" 2>/dev/null && ((SECONDS < deadline)); do sleep 0.2; done
  kill -0 "$pid" 2>/dev/null && kill -KILL "$pid"
  log "stopped dockerd $pid"
}

# Processes left from our dockerd (its containerd, shims) when it was killed: found by our exec root.
stop_leftover_processes() {
  local pid command
  for pid in $(grep -l -- "$EXEC_ROOT" /proc/[0-9]*/cmdline 2>/dev/null | cut -d/ -f3); do
    [[ "$(cat "/proc/$pid/comm" 2>/dev/null)" =~ ^(dockerd|containerd|containerd-shim|docker-proxy|runc) ]] || continue
    command="$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | cut -c1-60)"
    kill -KILL "$pid" 2>/dev/null && log "stopped leftover process $pid ($command)"
  done
  return 0
}

# The containers' own processes outlive a killed dockerd and its shims (the kind node's systemd,
# kubelet, the Pods): every one is in a cgroup under $CGROUP_PARENT. Kill them, then remove the
# emptied cgroups in every hierarchy.
stop_leftover_containers() {
  local dir="/sys/fs/cgroup/pids/$CGROUP_PARENT" pids deadline=$((SECONDS + 30)) hierarchy
  while [[ -d "$dir" ]]; do
    pids="$(find "$dir" -name cgroup.procs -exec cat {} + 2>/dev/null | tr '\n' ' ')"
    [[ -n "${pids// /}" ]] || break
    ((SECONDS < deadline)) || die "processes of the containers in cgroup $CGROUP_PARENT do not die: $pids"
    log "stopping $(wc -w <<<"$pids") leftover container processes"
    # shellcheck disable=SC2086 # one argument per PID
    kill -KILL $pids 2>/dev/null || true
    sleep 0.5
  done
  for hierarchy in /sys/fs/cgroup/*/; do
    [[ -d "$hierarchy$CGROUP_PARENT" ]] && find "$hierarchy$CGROUP_PARENT" -depth -type d -exec rmdir {} + 2>/dev/null
  done
  return 0
}

unmount_leftovers() {
  local target
  for target in $(awk '{ print $2 }' /proc/self/mounts | grep -E "^($EXEC_ROOT|$DATA_ROOT)(/|$)" | sort -r); do
    umount -l "$target" 2>/dev/null && log "unmounted $target"
  done
  return 0
}

remove_bridges() {
  local bridge
  for bridge in "$BRIDGE" "$KIND_BRIDGE" $(cat "$NETWORKS_FILE" 2>/dev/null); do
    ip link show "$bridge" >/dev/null 2>&1 && ip link delete "$bridge" && log "removed bridge $bridge"
  done
  return 0
}

# Docker's rules: those naming our bridges or addresses, and Docker's own chains unless another
# dockerd on this machine still uses them.
remove_iptables() {
  local table rule chain pattern other
  # Another live dockerd (a killed one may linger as a zombie until reaped: not counted).
  other="$(ps -C dockerd -o stat= | grep -v '^Z' || true)"
  # shellcheck disable=SC2046 # one bridge per line of the file
  pattern="$(printf '%s|' "$BRIDGE" "$KIND_BRIDGE" $(cat "$NETWORKS_FILE" 2>/dev/null))${ADDRESS_PREFIX//./\\.}\\."
  [[ -n "$other" ]] || pattern+="|DOCKER"
  for table in filter nat; do
    iptables -t "$table" -S 2>/dev/null | grep '^-A ' | grep -E -- "$pattern" |
      while read -r rule; do
        eval "iptables -t $table ${rule/#-A/-D}" 2>/dev/null || true
      done || true # nothing to remove
    [[ -n "$other" ]] && continue
    for chain in $(iptables -t "$table" -S 2>/dev/null | awk '$1 == "-N" && $2 ~ /^DOCKER/ { print $2 }'); do
      iptables -t "$table" -F "$chain" 2>/dev/null || true
    done
    for chain in $(iptables -t "$table" -S 2>/dev/null | awk '$1 == "-N" && $2 ~ /^DOCKER/ { print $2 }'); do
      iptables -t "$table" -X "$chain" 2>/dev/null || true
    done
  done
}

down() {
  local pid
  rm -f "$STATE/ready"
  if pid="$(dockerd_pid)"; then
    if [[ -x "$KIND" ]]; then
      record_bridges || true
      PATH="$STATE/bin:$PATH" KIND="$KIND" DOCKER="$DOCKER" bash "$here/kind.sh" down ||
        log "kind.sh down failed; going on with the teardown"
    fi
  fi
  stop_dockerd
  stop_leftover_processes
  stop_leftover_containers
  unmount_leftovers
  remove_bridges
  remove_iptables
  rm -rf "$EXEC_ROOT" "$STATE/env" "$KUBECONFIG"
  log "down: nothing of the offline kind cluster is left running"
}

status() {
  local pid
  if pid="$(dockerd_pid)"; then
    echo "dockerd: running, PID $pid, $DOCKER_HOST, data root $DATA_ROOT ($(du -sh "$DATA_ROOT" 2>/dev/null | cut -f1))"
    "$KIND" get clusters 2>/dev/null | sed 's/^/kind cluster: /'
    [[ -f "$STATE/ready" ]] && echo "ready since $(cat "$STATE/ready"): source $STATE/env"
    "$STATE/bin/kubectl" get nodes,pods -A -o wide 2>/dev/null || true
  else
    echo "dockerd: not running"
    [[ -f "$STATE/ready" ]] && echo "stale $STATE/ready"
  fi
  return 0
}

# One up or down at a time: a second one would tear down the first one's daemon mid-build.
lock() {
  mkdir -p "$WORK_DIR"
  exec 9>>"$WORK_DIR/offline.lock"
  flock --nonblock 9 ||
    die "another hack/kind/offline.sh up/down is running (PID $(cat "$WORK_DIR/offline.pid" 2>/dev/null || echo unknown)); wait for it or stop it"
  echo $$ >"$WORK_DIR/offline.pid"
}

case "${1:-}" in
up) lock && up ;;
down) lock && down ;;
status) status ;;
*) die "usage: $0 up|down|status" ;;
esac
