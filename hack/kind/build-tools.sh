#!/usr/bin/env bash
# Builds, from the Go module proxy, every tool the offline kind path needs and caches each outside
# the repository keyed by version (NAME-VERSION, plus a NAME symlink), as hack/build-control-plane.sh
# does for kube-apiserver and etcd. Prints the cache's bin directory. A second run reuses them.
#
#   Kubernetes: kubeadm kubelet kubectl kube-apiserver kube-controller-manager kube-scheduler
#               kube-proxy (wrapper module, hack/build-control-plane.sh), etcd
#   go install: kind, crictl, CoreDNS, local-path-provisioner; helm (hack/build-helm.sh)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=versions.sh
source "$here/versions.sh"
# shellcheck disable=SC2034 # read by log() of build-control-plane.sh, sourced below
LOG_PREFIX=build-tools
# shellcheck source=../build-control-plane.sh
source "$here/../build-control-plane.sh"

# name, package@version, extra linker flags. crictl reports the version its Makefile stamps.
GO_INSTALL_TOOLS=(
  "kind sigs.k8s.io/kind@$KIND_VERSION"
  "crictl sigs.k8s.io/cri-tools/cmd/crictl@$CRICTL_VERSION -X=sigs.k8s.io/cri-tools/pkg/version.Version=$CRICTL_VERSION"
  "coredns github.com/coredns/coredns@$COREDNS_VERSION"
  "local-path-provisioner github.com/rancher/local-path-provisioner@$LOCAL_PATH_PROVISIONER_VERSION"
)

# `go install`ed binaries: the main module's version as Go recorded it in the binary.
module_version_is() { # binary version
  [[ "$(go version -m "$1" 2>/dev/null | awk '$1 == "mod" { print $3 }')" == "$2" ]]
}

bash "$here/../build-control-plane.sh" etcd kube-apiserver kube-controller-manager kube-scheduler \
  kube-proxy kubelet kubeadm kubectl >/dev/null
bash "$here/../build-helm.sh" >/dev/null

for tool in "${GO_INSTALL_TOOLS[@]}"; do
  read -r name pkg ldflags <<<"$tool"
  version="${pkg##*@}"
  target="$BIN_DIR/$name-$version"
  if module_version_is "$target" "$version"; then
    log "reusing $target"
  else
    require_go
    log "$name $version: building"
    (
      gobin="$(mktemp -d "$BIN_DIR/.$name.XXXXXX")"
      trap 'rm -rf "$gobin"' EXIT
      # Static (CGO off): CoreDNS and the provisioner run in images without a libc.
      CGO_ENABLED=0 GOBIN="$gobin" GOFLAGS='' go install -trimpath -ldflags "-s -w ${ldflags:-}" "$pkg" ||
        die "go install $pkg failed"
      built="$(find "$gobin" -type f | head -n 1)"
      [[ -n "$built" ]] || die "go install $pkg produced no binary"
      module_version_is "$built" "$version" || die "$name built but does not record version $version"
      mv "$built" "$target"
    )
  fi
  ln -sfn "$name-$version" "$BIN_DIR/$name"
done
echo "$BIN_DIR"
