#!/usr/bin/env bash
# Builds pinned kube-apiserver and etcd from the Go module proxy and caches them outside the
# repository, keyed by version. Prints the cache's bin directory. A second run reuses the binaries.
#
#   bash hack/build-control-plane.sh [NAME...]
#
# NAME: etcd or any of KUBERNETES_COMMANDS below (default: etcd kube-apiserver). Each binary is
# cached as NAME-VERSION with a NAME symlink. Sourced (`source hack/build-control-plane.sh`), it only
# defines its functions and settings, for scripts that build other tools the same way.
#
# k8s.io/kubernetes cannot be `go install`ed: its go.mod points its staging modules (k8s.io/api,
# k8s.io/apimachinery, ...) at ./staging/src/..., which only resolves inside the kubernetes repo.
# So we build from a throwaway wrapper module that replaces each staging module with its published
# v0.<minor>.<patch> tag, reading the list from the downloaded .mod so it follows the version.
set -euo pipefail

K8S_VERSION="${K8S_VERSION:-v1.34.4}"
ETCD_VERSION="${ETCD_VERSION:-v3.6.16}"
GO_MINIMUM="1.26" # etcd v3.6.16's go.mod requires go 1.26
CACHE_DIR="${POD_IDENTITY_WEBHOOK_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/pod-identity-webhook}"
BIN_DIR="$CACHE_DIR/bin"
KUBERNETES_COMMANDS=(kube-apiserver kube-controller-manager kube-scheduler kube-proxy kubelet kubeadm kubectl)

log() { echo "${LOG_PREFIX:-build-control-plane}: $*" >&2; }
die() {
  log "$*"
  exit 1
}

require_go() {
  command -v go >/dev/null || die "go is required (Go $GO_MINIMUM or newer)"
  command -v node >/dev/null || die "node is required (it reads the downloaded go.mod as JSON)"
  local go_version
  go_version="$(go env GOVERSION)"
  printf '%s\n%s\n' "go$GO_MINIMUM" "$go_version" | sort -V -C ||
    die "Go $GO_MINIMUM or newer is required, found $go_version"
  mkdir -p "$BIN_DIR"
  export GOFLAGS="${GOFLAGS:--mod=mod}"
}

# A cached binary counts only if it runs and reports the expected version. kubeadm and kubectl have
# no --version flag; binaries from `go install` are checked by the module version Go recorded.
# The output is read whole before grep: `grep -q` stops at the first match, and under pipefail the
# binary's SIGPIPE on its next line would fail the check (seen with etcd under load).
reports_version() { # binary version
  local out
  case "$(basename "$1")" in
  kubeadm*) out="$("$1" version -o short 2>/dev/null)" && grep -qx -- "$2" <<<"$out" ;;
  kubectl*) out="$("$1" version --client 2>/dev/null)" && grep -q -- "$2\$" <<<"$out" ;;
  *) out="$("$1" --version 2>/dev/null)" && grep -q -- "${2#v}" <<<"$out" ;;
  esac
}

# Builds into a temporary file and moves it into place only once it runs: a failed or concurrent
# build never leaves a broken binary in the cache. Runs in a subshell, so its cleanup always runs.
install_binary() { # target version build-function
  (
    work="$(mktemp -d)"
    out="$(mktemp "$BIN_DIR/.$(basename "$1").XXXXXX")"
    trap 'rm -rf "$work" "$out"' EXIT
    cd "$work"
    "$3" "$out"
    reports_version "$out" "$2" || die "$(basename "$1") built but does not report version $2"
    mv "$out" "$1"
  )
}

# The wrapper module for k8s.io/kubernetes at $K8S_VERSION in the current directory, importing the
# given commands. Prints the linker flags that stamp the version, as a release build does.
kubernetes_wrapper() { # command...
  local gomod minor patch ldflags pkg name
  go mod init local/kube-apiserver-build >/dev/null 2>&1
  gomod="$(go mod download -json "k8s.io/kubernetes@$K8S_VERSION" |
    node -e 'const m = JSON.parse(require("fs").readFileSync(0, "utf8")); if (m.Error) { console.error(m.Error); process.exit(1) } console.log(m.GoMod)')" ||
    die "could not download k8s.io/kubernetes@$K8S_VERSION from the Go module proxy"
  minor="$(echo "$K8S_VERSION" | cut -d. -f2)"
  patch="$(echo "$K8S_VERSION" | cut -d. -f3)"
  # The wrapper takes kubernetes' go directive and godebug settings (a dependency's are ignored) and
  # replaces every staging module (those pointing into ./staging/src) with its published tag.
  go mod edit -json "$gomod" | node -e '
    const mod = JSON.parse(require("fs").readFileSync(0, "utf8"));
    const [version, staging] = process.argv.slice(1);
    const lines = ["module local/kube-apiserver-build", "", `go ${mod.Go}`];
    for (const { Key, Value } of mod.GoDebug ?? []) lines.push(`godebug ${Key}=${Value}`);
    lines.push("", `require k8s.io/kubernetes ${version}`, "", "replace (");
    for (const { Old, New } of mod.Replace ?? []) {
      if (New.Path.startsWith("./staging/src/")) lines.push(`\t${Old.Path} => ${Old.Path} ${staging}`);
    }
    lines.push(")");
    console.log(lines.join("\n"));
  ' "$K8S_VERSION" "v0.$minor.$patch" >go.mod
  log "$* $K8S_VERSION: $(grep -c ' => ' go.mod) staging replaces; building (minutes on a cold cache)"
  {
    printf '//go:build tools\n\npackage tools\n\nimport (\n'
    for name in "$@"; do printf '\t_ "k8s.io/kubernetes/cmd/%s"\n' "$name"; done
    printf ')\n'
  } >tools.go
  go mod tidy >&2 || die "go mod tidy failed for the Kubernetes wrapper module ($*)"
  ldflags="-s -w"
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ldflags+=" -X $pkg.gitVersion=$K8S_VERSION -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor -X $pkg.gitTreeState=clean"
  done
  echo "$ldflags"
}

# Builds the given Kubernetes commands from one wrapper module (so `go mod tidy` runs once) into the
# cache, each through a temporary file moved into place only once it reports $K8S_VERSION.
build_kubernetes() { # command...
  (
    work="$(mktemp -d)"
    out="$(mktemp "$BIN_DIR/.kubernetes.XXXXXX")"
    trap 'rm -rf "$work" "$out"' EXIT
    cd "$work"
    ldflags="$(kubernetes_wrapper "$@")"
    for name in "$@"; do
      go build -trimpath -ldflags "$ldflags" -o "$out" "k8s.io/kubernetes/cmd/$name" ||
        die "go build of $name $K8S_VERSION failed"
      # reports_version looks at the name, so check through a link carrying it.
      ln -sfn "$out" "$work/$name"
      reports_version "$work/$name" "$K8S_VERSION" || die "$name built but does not report version $K8S_VERSION"
      mv "$out" "$BIN_DIR/$name-$K8S_VERSION"
      log "built $BIN_DIR/$name-$K8S_VERSION"
    done
  )
}

build_etcd() { # output
  # etcd's server module has replace lines too (for its sibling modules); a wrapper module ignores
  # them and takes the siblings at the versions the server's go.mod requires.
  go mod init local/etcd-build >/dev/null 2>&1
  printf '//go:build tools\n\npackage tools\n\nimport _ "go.etcd.io/etcd/server/v3"\n' >tools.go
  log "etcd $ETCD_VERSION: downloading and building"
  go get "go.etcd.io/etcd/server/v3@$ETCD_VERSION" || die "could not get go.etcd.io/etcd/server/v3@$ETCD_VERSION"
  go mod tidy || die "go mod tidy failed for the etcd wrapper module"
  go build -trimpath -ldflags "-s -w" -o "$1" go.etcd.io/etcd/server/v3 || die "go build of etcd $ETCD_VERSION failed"
}

[[ "${BASH_SOURCE[0]}" != "$0" ]] && return 0

names=("$@")
((${#names[@]})) || names=(etcd kube-apiserver)
missing=()
for name in "${names[@]}"; do
  case "$name" in
  etcd) version="$ETCD_VERSION" ;;
  *)
    [[ " ${KUBERNETES_COMMANDS[*]} " == *" $name "* ]] ||
      die "unknown binary '$name': expected etcd or one of ${KUBERNETES_COMMANDS[*]}"
    version="$K8S_VERSION"
    ;;
  esac
  if reports_version "$BIN_DIR/$name-$version" "$version"; then
    log "reusing $BIN_DIR/$name-$version"
  elif [[ "$name" == etcd ]]; then
    require_go
    install_binary "$BIN_DIR/etcd-$ETCD_VERSION" "$ETCD_VERSION" build_etcd
  else
    missing+=("$name")
  fi
done
if ((${#missing[@]})); then
  require_go
  build_kubernetes "${missing[@]}"
fi
for name in "${names[@]}"; do
  [[ "$name" == etcd ]] && version="$ETCD_VERSION" || version="$K8S_VERSION"
  ln -sfn "$name-$version" "$BIN_DIR/$name"
done
echo "$BIN_DIR"
