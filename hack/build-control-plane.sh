#!/usr/bin/env bash
# Builds pinned kube-apiserver and etcd from the Go module proxy and caches them outside the
# repository, keyed by version. Prints the cache's bin directory. A second run reuses the binaries.
#
# k8s.io/kubernetes cannot be `go install`ed: its go.mod points its staging modules (k8s.io/api,
# k8s.io/apimachinery, ...) at ./staging/src/..., which only resolves inside the kubernetes repo.
# So we build from a throwaway wrapper module that replaces each staging module with its published
# v0.<minor>.<patch> tag, reading the list from the downloaded .mod so it follows the version.
set -euo pipefail

K8S_VERSION="${K8S_VERSION:-v1.34.4}"
ETCD_VERSION="${ETCD_VERSION:-v3.6.16}"
CACHE_DIR="${POD_IDENTITY_WEBHOOK_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/pod-identity-webhook}"
BIN_DIR="$CACHE_DIR/bin"
KUBE_APISERVER="$BIN_DIR/kube-apiserver-$K8S_VERSION"
ETCD="$BIN_DIR/etcd-$ETCD_VERSION"

log() { echo "build-control-plane: $*" >&2; }

command -v go >/dev/null || { log "go is required (Go 1.24 or newer)"; exit 1; }
mkdir -p "$BIN_DIR"
export GOFLAGS="${GOFLAGS:--mod=mod}"

build_kube_apiserver() {
  local work gomod minor patch staging_version ldflags pkg
  work="$(mktemp -d)"
  trap 'rm -rf "$work"' RETURN
  cd "$work"
  go mod init local/kube-apiserver-build >/dev/null 2>&1
  gomod="$(go mod download -json "k8s.io/kubernetes@$K8S_VERSION" | sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",\{0,1\}$/\1/p')"
  [ -f "$gomod" ] || { log "could not download k8s.io/kubernetes@$K8S_VERSION"; return 1; }
  minor="$(echo "$K8S_VERSION" | cut -d. -f2)"
  patch="$(echo "$K8S_VERSION" | cut -d. -f3)"
  staging_version="v0.$minor.$patch"
  {
    echo "module local/kube-apiserver-build"
    echo
    grep -E '^go [0-9]' "$gomod"
    # Dependencies' godebug lines are ignored; the main module must carry kubernetes' own.
    sed -n '/^godebug/,/^)/p' "$gomod"
    echo
    echo "require k8s.io/kubernetes $K8S_VERSION"
    echo
    echo "replace ("
    grep -E '^[[:space:]]*k8s\.io/[^ ]+ => \./staging/src/' "$gomod" |
      awk -v v="$staging_version" '{ print "\t" $1 " => " $1 " " v }'
    echo ")"
  } >go.mod
  log "kube-apiserver $K8S_VERSION: $(grep -c ' => ' go.mod) staging replaces, building (several minutes on a cold cache)"
  cat >tools.go <<'GO'
//go:build tools

package tools

import _ "k8s.io/kubernetes/cmd/kube-apiserver"
GO
  go mod tidy >/dev/null
  ldflags="-s -w"
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ldflags+=" -X $pkg.gitVersion=$K8S_VERSION -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor -X $pkg.gitTreeState=clean"
  done
  go build -trimpath -ldflags "$ldflags" -o "$KUBE_APISERVER.tmp" k8s.io/kubernetes/cmd/kube-apiserver
  mv "$KUBE_APISERVER.tmp" "$KUBE_APISERVER"
}

build_etcd() {
  local work
  work="$(mktemp -d)"
  trap 'rm -rf "$work"' RETURN
  cd "$work"
  # etcd's server module has replace lines too (for its sibling modules); a wrapper module ignores
  # them and takes the siblings at the versions the server's go.mod requires.
  go mod init local/etcd-build >/dev/null 2>&1
  cat >tools.go <<'GO'
//go:build tools

package tools

import _ "go.etcd.io/etcd/server/v3"
GO
  go get "go.etcd.io/etcd/server/v3@$ETCD_VERSION" >/dev/null 2>&1
  go mod tidy >/dev/null
  log "etcd $ETCD_VERSION: building"
  go build -trimpath -ldflags "-s -w" -o "$ETCD.tmp" go.etcd.io/etcd/server/v3
  mv "$ETCD.tmp" "$ETCD"
}

if [ -x "$ETCD" ]; then log "reusing $ETCD"; else build_etcd; fi
if [ -x "$KUBE_APISERVER" ]; then log "reusing $KUBE_APISERVER"; else build_kube_apiserver; fi
ln -sf "$(basename "$KUBE_APISERVER")" "$BIN_DIR/kube-apiserver"
ln -sf "$(basename "$ETCD")" "$BIN_DIR/etcd"
echo "$BIN_DIR"
