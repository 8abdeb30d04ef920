#!/usr/bin/env bash
# Builds, without a registry, every image the offline kind path needs, into the Docker daemon at
# $DOCKER_HOST (hack/kind/offline.sh starts it):
#   - the node image: a kindest/base equivalent (debootstrap + kind's images/base/files), kubeadm,
#     kubelet, kubectl, /kind/version, kind's storage manifest, a CNI bridge conflist, and every
#     image the cluster runs, preloaded and unpacked into /var/lib/containerd;
#   - stand-ins for the Dockerfile's base images, tagged with their registry names, so the
#     webhook image builds from the unmodified Dockerfile.
# Every image carries the label $KEY_LABEL=<key>, a hash of the pinned versions and of the functions
# that build it (the node image: of this whole script): an image with its current key is reused, so
# a change rebuilds only what it affects. Prints the node image's name.
#
#   DOCKER=/usr/bin/docker DOCKER_HOST=unix://... BIN_DIR=... bash hack/kind/offline/images.sh
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
kind_dir="$(cd "$here/.." && pwd)"
# shellcheck source=../versions.sh
source "$kind_dir/versions.sh"

DOCKER="${DOCKER:-/usr/bin/docker}"
BIN_DIR="${BIN_DIR:-$CACHE_DIR/bin}"
WORK_DIR="${WORK_DIR:-$CACHE_DIR/kind}"
NODE24_BIN="${NODE24_BIN:?NODE24_BIN: the directory of Node 24 (bash hack/node24.sh prints it)}"
KEY_LABEL=dev.pod-identity-webhook.kind.key
NODE_KEY="$(cat "$kind_dir/versions.sh" "${BASH_SOURCE[0]}" | sha256sum | cut -c1-12)"
NODE_IMAGE="pod-identity-webhook/kind-node:$K8S_VERSION-$NODE_KEY"
KIND_SOURCE="$(go env GOMODCACHE)/sigs.k8s.io/kind@$KIND_VERSION"
KUBERNETES_SOURCE="$(go env GOMODCACHE)/k8s.io/kubernetes@$K8S_VERSION"
DEBIAN_MIRROR="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
BASE_PACKAGES=(systemd systemd-sysv dbus conntrack iptables nftables iproute2 ethtool util-linux mount
  kmod libseccomp2 pigz fuse-overlayfs bash ca-certificates procps containerd runc
  containernetworking-plugins socat ebtables curl jq)
MINBASE_PACKAGES=(iptables nftables conntrack ca-certificates)

log() { echo "images: $*" >&2; }
die() {
  log "$*"
  exit 1
}
docker() { command "$DOCKER" "$@"; } # `command`: DOCKER may be plain "docker"

work="$(mktemp -d "${TMPDIR:-/tmp}/kind-images.XXXXXX")"
containerd_pid=""
cleanup() {
  [[ -n "$containerd_pid" ]] && kill "$containerd_pid" 2>/dev/null && wait "$containerd_pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

has_key() { # image key
  [[ "$(docker image inspect --format "{{index .Config.Labels \"$KEY_LABEL\"}}" "$1" 2>/dev/null)" == "$2" ]]
}

# The key of what a builder makes: the versions, the builder, the helpers every builder may use and
# its arguments (which name the images it builds on, whose tags carry their own keys).
builder_key() { # builder args...
  {
    cat "$kind_dir/versions.sh"
    declare -f "$1" import_rootfs copy_with_libraries minimal_rootfs debootstrap_rootfs build_binary_image
    declare -p BASE_PACKAGES MINBASE_PACKAGES DEBIAN_MIRROR
    [[ $# -lt 2 ]] || echo "${@:2}"
  } | sha256sum | cut -c1-12
}

# Runs a builder for an image unless an image with its current key is there (builders label what
# they build with $KEY); prints timing.
ensure() { # image builder args...
  local image="$1" start=$SECONDS KEY
  shift
  # The builder's first argument is the image itself (whose tag may be the key): not part of it.
  [[ "$1" == build_node ]] && KEY="$NODE_KEY" || KEY="$(builder_key "$1" "${@:3}")"
  if has_key "$image" "$KEY"; then
    log "reusing $image"
  else
    log "building $image"
    "$@" || die "building $image failed"
    has_key "$image" "$KEY" || die "built $image but it lacks label $KEY_LABEL=$KEY"
    log "built $image ($((SECONDS - start)) s)"
  fi
}

# A rootfs directory as an image (docker import), with Dockerfile instructions as --change.
import_rootfs() { # dir image change...
  local dir="$1" image="$2" args=() change
  shift 2
  for change in "$@" "LABEL $KEY_LABEL=$KEY"; do args+=(--change "$change"); done
  tar --numeric-owner --xattrs -C "$dir" -c . | docker import "${args[@]}" - "$image" >/dev/null
}

# Copies a binary and the shared libraries it loads (as ldd resolves them here) under a rootfs.
copy_with_libraries() { # binary rootfs destination
  local lib
  install -D -m 0755 "$1" "$2$3"
  for lib in $(ldd "$1" 2>/dev/null | grep -oE '/[^ ]+' || true); do
    mkdir -p "$2$(dirname "$lib")"
    cp -L "$lib" "$2$lib"
  done
}

# The files every small image gets: users, CA bundle, /tmp.
minimal_rootfs() { # dir
  mkdir -p "$1/etc/ssl/certs" "$1/tmp" "$1/home/nonroot"
  chmod 1777 "$1/tmp"
  chown 65532:65532 "$1/home/nonroot"
  printf 'root:x:0:0:root:/root:/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n' >"$1/etc/passwd"
  printf 'root:x:0:\nnobody:x:65534:\nnonroot:x:65532:\n' >"$1/etc/group"
  echo 'hosts: files dns' >"$1/etc/nsswitch.conf"
  cp /etc/ssl/certs/ca-certificates.crt "$1/etc/ssl/certs/ca-certificates.crt"
}

debootstrap_rootfs() { # dir packages...
  local dir="$1"
  shift
  mkdir -p "$WORK_DIR/debootstrap-cache"
  debootstrap --variant=minbase --cache-dir="$WORK_DIR/debootstrap-cache" \
    --include="$(
      IFS=,
      echo "$*"
    )" "$DEBIAN_SUITE" "$dir" "$DEBIAN_MIRROR" >"$work/debootstrap-$(basename "$dir").log" 2>&1 ||
    die "debootstrap $DEBIAN_SUITE failed: $(tail -n 3 "$work/debootstrap-$(basename "$dir").log")"
  rm -rf "$dir"/var/cache/apt/archives/*.deb "$dir"/var/lib/apt/lists/*
}

# --- images of the node ---------------------------------------------------------------------------

# Debian minbase with iptables: kube-proxy and the node:24 stand-in (a shell and apt).
build_minbase() {
  debootstrap_rootfs "$work/minbase" "${MINBASE_PACKAGES[@]}"
  import_rootfs "$work/minbase" "$1" 'CMD ["/bin/bash"]'
}

# kindest/base as kind's images/base/Dockerfile builds it, with Debian's containerd and runc.
build_base_rootfs() {
  local r="$work/base" f
  debootstrap_rootfs "$r" "${BASE_PACKAGES[@]}"
  f="$KIND_SOURCE/images/base/files"
  install -m 0755 "$f"/usr/local/bin/* "$r/usr/local/bin/"
  mkdir -p "$r/kind" "$r/LICENSES" && cp -r "$f/kind/." "$r/kind/" && cp "$f"/LICENSES/* "$r/LICENSES/"
  chmod -R u=rwX,go=rX "$r/kind" && chmod 0755 "$r"/kind/bin/*
  install -m 0644 "$f/etc/crictl.yaml" "$r/etc/"
  install -m 0644 -D -t "$r/etc/containerd" "$f"/etc/containerd/*
  install -m 0644 -D -t "$r/etc/default" "$f"/etc/default/*
  install -m 0644 -D -t "$r/etc/sysctl.d" "$f"/etc/sysctl.d/*
  install -m 0644 -D -t "$r/etc/systemd/system" "$f"/etc/systemd/system/*.{service,slice}
  install -m 0644 -D -t "$r/etc/systemd/system/kubelet.service.d" "$f"/etc/systemd/system/kubelet.service.d/*
  # Root here lacks CAP_SYS_RESOURCE: no negative oom_score_adj; unprivileged ports as in
  # containerd 2.x (kind's), which sets ip_unprivileged_port_start=0 in every Pod.
  sed -i 's/restrict_oom_score_adj = false/restrict_oom_score_adj = true\n  enable_unprivileged_ports = true/' \
    "$r/etc/containerd/config.toml"
  grep -q 'restrict_oom_score_adj = true' "$r/etc/containerd/config.toml" ||
    die "kind's containerd config.toml no longer sets restrict_oom_score_adj = false"
  # What kind's Dockerfile runs after installing packages.
  find "$r/lib/systemd/system/sysinit.target.wants/" -name systemd-tmpfiles-setup.service -delete
  rm -f "$r"/lib/systemd/system/multi-user.target.wants/* "$r"/etc/systemd/system/*.wants/* \
    "$r"/lib/systemd/system/local-fs.target.wants/* "$r"/lib/systemd/system/sockets.target.wants/*udev* \
    "$r"/lib/systemd/system/sockets.target.wants/*initctl* "$r"/lib/systemd/system/basic.target.wants/*
  echo ReadKMsg=no >>"$r/etc/systemd/journald.conf"
  ln -sf /usr/lib/systemd/systemd "$r/sbin/init"
  chroot "$r" systemctl enable kubelet.service containerd.service undo-mount-hacks.service >/dev/null 2>&1 ||
    die "systemctl enable in the base rootfs failed"
  chroot "$r" systemctl mask systemd-binfmt.service >/dev/null 2>&1
  mkdir -p "$r/etc/kubernetes/manifests" "$r/opt/cni/bin" "$r/usr/local/sbin"
  # kind's units and config expect its own builds in /usr/local; Debian's are in /usr.
  for f in containerd ctr containerd-shim-runc-v2; do ln -sf "/usr/bin/$f" "$r/usr/local/bin/$f"; done
  ln -sf /usr/sbin/runc "$r/usr/local/sbin/runc"
  for f in "$r"/usr/lib/cni/*; do ln -sf "/usr/lib/cni/$(basename "$f")" "$r/opt/cni/bin/"; done
  install -m 0755 "$BIN_DIR/crictl" "$r/usr/local/bin/crictl"
  chroot "$r" ctr oci spec |
    jq '.hooks.createContainer[.hooks.createContainer | length] |= . + {"path": "/kind/bin/mount-product-files.sh"}' |
    jq 'del(.process.rlimits)' >"$r/etc/containerd/cri-base.json"
  import_rootfs "$r" "$1" 'ENV container=docker' 'ENTRYPOINT ["/usr/local/bin/entrypoint", "/sbin/init"]'
}

# `docker import` cannot set STOPSIGNAL: systemd exits on SIGRTMIN+3 (SIGTERM re-executes it).
build_base() { # image rootfs-image
  printf 'FROM %s\nSTOPSIGNAL SIGRTMIN+3\nLABEL %s=%s\n' "$2" "$KEY_LABEL" "$KEY" |
    DOCKER_BUILDKIT=1 docker build -q -t "$1" - >/dev/null
}

# glibc and its loader, for the dynamically linked control-plane binaries.
build_glibc() {
  local r="$work/glibc" bin
  minimal_rootfs "$r"
  for bin in kube-apiserver kube-controller-manager kube-scheduler etcd; do
    copy_with_libraries "$BIN_DIR/$bin" "$r" "/usr/local/bin/$bin"
  done
  rm -rf "$r/usr/local/bin"
  import_rootfs "$r" "$1" 'ENV PATH=/usr/local/bin:/usr/bin:/bin'
}

# An image of one binary on a base image.
build_binary_image() { # image base binary destination [entrypoint]
  local dir="$work/image-$RANDOM"
  mkdir -p "$dir"
  cp "$3" "$dir/binary"
  {
    echo "FROM $2"
    echo "COPY --chmod=0755 binary $4"
    [[ -n "${5:-}" ]] && echo "ENTRYPOINT [\"$5\"]"
    echo "LABEL $KEY_LABEL=$KEY"
  } >"$dir/Dockerfile"
  DOCKER_BUILDKIT=1 docker build -q -t "$1" "$dir" >/dev/null
}

build_pause() { # image
  local r="$work/pause"
  mkdir -p "$r"
  gcc -Os -static -DVERSION="${1##*:}" -o "$r/pause" "$KUBERNETES_SOURCE/build/pause/linux/pause.c" ||
    die "gcc -static of Kubernetes' pause.c failed"
  import_rootfs "$r" "$1" 'USER 65535:65535' 'ENTRYPOINT ["/pause"]'
}

build_scratch_binary() { # image binary destination entrypoint
  local r="$work/scratch-$RANDOM"
  minimal_rootfs "$r"
  install -D -m 0755 "$2" "$r$3"
  import_rootfs "$r" "$1" 'ENV PATH=/usr/local/bin:/usr/bin:/bin' "ENTRYPOINT [\"$4\"]"
}

# kind's local-path helper runs shell scripts (mkdir, rm): busybox.
build_busybox() { # image
  local r="$work/busybox" applet
  minimal_rootfs "$r"
  install -D -m 0755 /bin/busybox "$r/bin/busybox"
  for applet in $(/bin/busybox --list); do [[ -e "$r/bin/$applet" ]] || ln -s busybox "$r/bin/$applet"; done
  import_rootfs "$r" "$1" 'ENV PATH=/usr/local/bin:/usr/bin:/bin' 'CMD ["/bin/sh"]'
}

# kind keeps its storage manifest as a Go string constant built from raw strings and constants.
storage_manifest() {
  node -e '
    const src = require("fs").readFileSync(process.argv[1], "utf8");
    const consts = Object.fromEntries([...src.matchAll(/^const (\w+) = "([^"]*)"$/gm)].map((m) => [m[1], m[2]]));
    let rest = src.slice(src.indexOf("const defaultStorageManifest =") + "const defaultStorageManifest =".length);
    let out = "";
    for (;;) {
      rest = rest.trimStart();
      if (rest[0] === "`") { const end = rest.indexOf("`", 1); out += rest.slice(1, end); rest = rest.slice(end + 1); }
      else { const id = rest.match(/^\w+/)[0]; if (!(id in consts)) throw new Error(`unknown constant ${id}`); out += consts[id]; rest = rest.slice(id.length); }
      rest = rest.trimStart();
      if (rest[0] !== "+") break;
      rest = rest.slice(1);
    }
    process.stdout.write(out.trimStart());
  ' "$KIND_SOURCE/pkg/build/nodeimage/const_storage.go"
}

storage_image() { # provisioner|helper
  local name
  case "$1" in
  provisioner) name=storageProvisionerImage ;;
  helper) name=storageHelperImage ;;
  esac
  sed -n "s/^const $name = \"\\(.*\\)\"$/\\1/p" "$KIND_SOURCE/pkg/build/nodeimage/const_storage.go"
}

# Imports the images into a throwaway containerd whose root becomes the node's /var/lib/containerd,
# unpacked (the node's containerd 1.6 does not run images imported without unpacking).
preload() { # tar images...
  local out="$1" root="$work/preload" socket
  shift
  mkdir -p "$root/rootfs/var/lib/containerd" "$root/state"
  socket="$root/containerd.sock"
  cat >"$root/config.toml" <<EOF
version = 2
root = "$root/rootfs/var/lib/containerd"
state = "$root/state"
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
  address = "$socket"
EOF
  /usr/bin/containerd --config "$root/config.toml" >"$work/preload-containerd.log" 2>&1 &
  containerd_pid=$!
  local deadline=$((SECONDS + 30))
  until /usr/bin/ctr --address "$socket" version >/dev/null 2>&1; do
    ((SECONDS < deadline)) || die "the throwaway containerd did not start: $(tail -n 3 "$work/preload-containerd.log")"
    kill -0 "$containerd_pid" 2>/dev/null || die "the throwaway containerd exited: $(tail -n 3 "$work/preload-containerd.log")"
    sleep 0.2
  done
  docker save "$@" | /usr/bin/ctr --address "$socket" -n k8s.io images import --snapshotter overlayfs - >&2 ||
    die "ctr images import of the preloaded images failed"
  kill "$containerd_pid" 2>/dev/null || true
  wait "$containerd_pid" 2>/dev/null || true
  containerd_pid=""
  tar --numeric-owner --xattrs -C "$root/rootfs" -cf "$out" var
}

build_node() { # image base preloaded-images...
  local image="$1" base="$2" dir="$work/node"
  shift 2
  mkdir -p "$dir"
  cp "$BIN_DIR/kubeadm" "$BIN_DIR/kubelet" "$BIN_DIR/kubectl" "$dir/"
  echo "$K8S_VERSION" >"$dir/version"
  storage_manifest >"$dir/default-storage.yaml"
  cat >"$dir/10-kind-bridge.conflist" <<'EOF'
{
  "cniVersion": "0.4.0",
  "name": "kind-bridge",
  "plugins": [
    {
      "type": "bridge",
      "bridge": "cni0",
      "isGateway": true,
      "ipMasq": true,
      "hairpinMode": true,
      "ipam": { "type": "host-local", "ranges": [[{ "subnet": "10.244.0.0/24" }]], "routes": [{ "dst": "0.0.0.0/0" }] }
    },
    { "type": "portmap", "capabilities": { "portMappings": true } }
  ]
}
EOF
  preload "$dir/containerd.tar" "$@"
  cat >"$dir/Dockerfile" <<EOF
FROM $base
COPY --chmod=0755 kubeadm kubelet kubectl /usr/bin/
COPY --chmod=0644 version /kind/version
COPY --chmod=0644 default-storage.yaml /kind/manifests/default-storage.yaml
COPY --chmod=0644 10-kind-bridge.conflist /etc/cni/net.d/10-kind-bridge.conflist
ADD containerd.tar /
LABEL $KEY_LABEL=$KEY
EOF
  DOCKER_BUILDKIT=1 docker build -q -t "$image" "$dir" >/dev/null
}

# --- stand-ins for the Dockerfile's base images ---------------------------------------------------

# node:24-bookworm-slim: Debian with Node 24 and npm. NODE_EXTRA_CA_CERTS: this machine reaches the
# npm registry through a CA of its own, in its bundle.
build_node_slim() { # image base
  local dir="$work/node-slim" npm
  npm="$(dirname "$(dirname "$(readlink -f "$(command -v npm)")")")" # .../npm/bin/npm-cli.js
  [[ -f "$npm/bin/npm-cli.js" ]] || die "npm is required (its package is copied into the node:24 stand-in)"
  mkdir -p "$dir"
  cp "$NODE24_BIN/node" "$dir/node"
  cp -r "$npm" "$dir/npm"
  cp /etc/ssl/certs/ca-certificates.crt "$dir/ca-certificates.crt"
  cat >"$dir/Dockerfile" <<EOF
FROM $2
COPY --chmod=0755 node /usr/local/bin/node
COPY npm /usr/local/lib/node_modules/npm
COPY --chmod=0644 ca-certificates.crt /etc/ssl/certs/machine-ca-certificates.crt
RUN ln -s ../lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm \\
  && ln -s ../lib/node_modules/npm/bin/npx-cli.js /usr/local/bin/npx \\
  && node --version && npm --version
ENV NODE_EXTRA_CA_CERTS=/etc/ssl/certs/machine-ca-certificates.crt
CMD ["node"]
LABEL $KEY_LABEL=$KEY
EOF
  DOCKER_BUILDKIT=1 docker build -q -t "$1" "$dir" >/dev/null
}

# gcr.io/distroless/nodejs24-debian12:nonroot: /nodejs/bin/node, its libraries, a CA bundle and the
# nonroot user (65532); no shell.
build_distroless_node() { # image
  local r="$work/distroless-node"
  minimal_rootfs "$r"
  copy_with_libraries "$NODE24_BIN/node" "$r" /nodejs/bin/node
  import_rootfs "$r" "$1" 'USER 65532:65532' 'WORKDIR /home/nonroot' \
    'ENV SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt' 'ENTRYPOINT ["/nodejs/bin/node"]'
}

# --- main ---------------------------------------------------------------------------------------

# kind's base image files and storage manifest, Kubernetes' pause.c: from their Go modules.
[[ -d "$KIND_SOURCE/images/base/files" ]] || GOFLAGS='' go mod download "sigs.k8s.io/kind@$KIND_VERSION" ||
  die "could not download sigs.k8s.io/kind@$KIND_VERSION from the Go module proxy"
[[ -f "$KUBERNETES_SOURCE/build/pause/linux/pause.c" ]] || GOFLAGS='' go mod download "k8s.io/kubernetes@$K8S_VERSION" ||
  die "could not download k8s.io/kubernetes@$K8S_VERSION from the Go module proxy"

MINBASE="pod-identity-webhook/kind-minbase:$(builder_key build_minbase)"
BASE_ROOTFS="pod-identity-webhook/kind-base-rootfs:$(builder_key build_base_rootfs)"
BASE="pod-identity-webhook/kind-base:$(builder_key build_base "$BASE_ROOTFS")"
GLIBC="pod-identity-webhook/kind-glibc:$(builder_key build_glibc)"

ensure "$MINBASE" build_minbase "$MINBASE"
ensure gcr.io/distroless/nodejs24-debian12:nonroot build_distroless_node gcr.io/distroless/nodejs24-debian12:nonroot
ensure node:24-bookworm-slim build_node_slim node:24-bookworm-slim "$MINBASE"

if has_key "$NODE_IMAGE" "$NODE_KEY"; then
  log "reusing $NODE_IMAGE"
else
  start=$SECONDS
  ensure "$BASE_ROOTFS" build_base_rootfs "$BASE_ROOTFS"
  ensure "$BASE" build_base "$BASE" "$BASE_ROOTFS"
  for tool in kubeadm kubelet kubectl kube-apiserver kube-controller-manager kube-scheduler kube-proxy etcd coredns local-path-provisioner crictl; do
    [[ -x "$BIN_DIR/$tool" ]] || die "$BIN_DIR/$tool is missing (bash hack/kind/build-tools.sh builds it)"
  done
  ensure "$GLIBC" build_glibc "$GLIBC"
  preloaded=()
  while read -r image; do
    name="${image%:*}"
    case "${name##*/}" in
    kube-apiserver | kube-controller-manager | kube-scheduler)
      ensure "$image" build_binary_image "$image" "$GLIBC" "$BIN_DIR/${name##*/}" "/usr/local/bin/${name##*/}"
      ;;
    etcd) ensure "$image" build_binary_image "$image" "$GLIBC" "$BIN_DIR/etcd" /usr/local/bin/etcd ;;
    kube-proxy) ensure "$image" build_binary_image "$image" "$MINBASE" "$BIN_DIR/kube-proxy" /usr/local/bin/kube-proxy ;;
    coredns) ensure "$image" build_scratch_binary "$image" "$BIN_DIR/coredns" /coredns /coredns ;;
    pause) ;;
    *) die "kubeadm lists an image this script cannot build: $image" ;;
    esac
    [[ "${name##*/}" == pause ]] || preloaded+=("$image")
  done < <("$BIN_DIR/kubeadm" config images list --kubernetes-version "$K8S_VERSION")
  # kubeadm's pause and the one kind's containerd config names (sandbox_image).
  sandbox="$(sed -n 's/^ *sandbox_image = "\(.*\)"$/\1/p' "$KIND_SOURCE/images/base/files/etc/containerd/config.toml")"
  for image in $("$BIN_DIR/kubeadm" config images list --kubernetes-version "$K8S_VERSION" | grep /pause:) "$sandbox"; do
    ensure "$image" build_pause "$image"
    preloaded+=("$image")
  done
  provisioner="$(storage_image provisioner)" helper="$(storage_image helper)"
  [[ -n "$provisioner" && -n "$helper" ]] || die "kind's storage images not found in const_storage.go"
  ensure "$provisioner" build_scratch_binary "$provisioner" "$BIN_DIR/local-path-provisioner" \
    /usr/bin/local-path-provisioner /usr/bin/local-path-provisioner
  ensure "$helper" build_busybox "$helper"
  preloaded+=("$provisioner" "$helper")
  ensure "$NODE_IMAGE" build_node "$NODE_IMAGE" "$BASE" "${preloaded[@]}"
  log "node image ready ($((SECONDS - start)) s)"
fi

# The data root persists between runs: keep only the current images, drop the build contexts
# (gigabytes: the node's binaries and preloaded images) and what newer builds left untagged.
for image in $(docker images --filter 'reference=pod-identity-webhook/kind-*' --format '{{.Repository}}:{{.Tag}}'); do
  [[ " $MINBASE $BASE_ROOTFS $BASE $GLIBC $NODE_IMAGE " == *" $image "* ]] ||
    docker image rm "$image" >/dev/null 2>&1 || true
done
docker image prune --force >/dev/null
docker builder prune --force --filter type=source.local >/dev/null
# BuildKit's layers of replaced images (an old node image's 1.3 GB of preloaded images, npm ci of
# an old package-lock): the most recently used gigabyte stays, for the webhook image's next build.
docker builder prune --force --keep-storage 1000000000 >/dev/null
echo "$NODE_IMAGE"
