#!/usr/bin/env bash
# Builds a pinned helm from the Go module proxy and caches it outside the repository, keyed by
# version ($CACHE/bin/helm-<version>, plus a `helm` symlink). Prints the cache's bin directory. A
# second run reuses the binary when it runs and reports the pinned version.
#
# helm.sh/helm/v3 has no replace directives, so it builds from its own module directory in the Go
# module cache, as its Makefile builds a release. The release ldflags matter: without them
# `helm version` prints "v3.22" with no commit, and helm assumes Kubernetes v1.20 for
# `.Capabilities.KubeVersion` (helm template, helm lint) and for its deprecation checks. The
# Makefile sets both from the module's k8s.io/client-go version (v0.<minor>.x => 1.<minor>).
set -euo pipefail

HELM_VERSION="${HELM_VERSION:-v3.22.0}"
GO_MINIMUM="1.26" # helm v3.22.0's go.mod says go 1.26.0
CACHE_DIR="${POD_IDENTITY_WEBHOOK_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/pod-identity-webhook}"
BIN_DIR="$CACHE_DIR/bin"
HELM="$BIN_DIR/helm-$HELM_VERSION"

log() { echo "build-helm: $*" >&2; }
die() {
  log "$*"
  exit 1
}

# A cached binary counts only if it runs and reports the expected version.
reports_version() { [[ "$("$1" version --template '{{.Version}}' 2>/dev/null)" == "$HELM_VERSION" ]]; }

if reports_version "$HELM"; then
  log "reusing $HELM"
else
  command -v go >/dev/null || die "go is required (Go $GO_MINIMUM or newer)"
  command -v node >/dev/null || die "node is required (it reads go's JSON output)"
  go_version="$(go env GOVERSION)"
  printf '%s\n%s\n' "go$GO_MINIMUM" "$go_version" | sort -V -C ||
    die "Go $GO_MINIMUM or newer is required, found $go_version"
  mkdir -p "$BIN_DIR"

  # Builds into a temporary file and moves it into place only once it runs: a failed or concurrent
  # build never leaves a broken binary in the cache. A subshell, so its cleanup always runs.
  (
    out="$(mktemp "$BIN_DIR/.helm-$HELM_VERSION.XXXXXX")"
    trap 'rm -f "$out"' EXIT
    # The module's directory, its go.mod, the commit of its tag (from the proxy's origin record) and
    # the k8s.io/client-go version it requires, one per line.
    facts="$(go mod download -json "helm.sh/helm/v3@$HELM_VERSION" | node -e '
      const { execFileSync } = require("node:child_process");
      const m = JSON.parse(require("node:fs").readFileSync(0, "utf8"));
      if (m.Error) { console.error(m.Error); process.exit(1); }
      const mod = JSON.parse(execFileSync("go", ["mod", "edit", "-json", m.GoMod], { encoding: "utf8" }));
      const clientGo = (mod.Require ?? []).find((r) => r.Path === "k8s.io/client-go");
      if (!clientGo) { console.error("its go.mod does not require k8s.io/client-go"); process.exit(1); }
      console.log([m.Dir, m.Origin?.Hash ?? "", clientGo.Version].join("\n"));
    ')" || die "could not download helm.sh/helm/v3@$HELM_VERSION from the Go module proxy"
    { read -r dir && read -r commit && read -r client_go; } <<<"$facts"
    # client-go v0.<minor>.<patch> belongs to Kubernetes 1.<minor>, as the Makefile computes.
    k8s_minor="$(echo "$client_go" | cut -d. -f2)"
    ldflags="-w -s -X helm.sh/helm/v3/internal/version.version=$HELM_VERSION"
    ldflags+=" -X helm.sh/helm/v3/internal/version.metadata="
    ldflags+=" -X helm.sh/helm/v3/internal/version.gitCommit=$commit"
    ldflags+=" -X helm.sh/helm/v3/internal/version.gitTreeState=clean"
    for pkg in helm.sh/helm/v3/pkg/lint/rules helm.sh/helm/v3/pkg/chartutil; do
      ldflags+=" -X $pkg.k8sVersionMajor=1 -X $pkg.k8sVersionMinor=$k8s_minor"
    done
    log "helm $HELM_VERSION (commit ${commit:-unknown}, Kubernetes 1.$k8s_minor defaults): building (about 4 minutes on a cold Go cache)"
    (cd "$dir" && CGO_ENABLED=0 GOFLAGS=-mod=readonly go build -trimpath -ldflags "$ldflags" -o "$out" ./cmd/helm) ||
      die "go build of helm $HELM_VERSION failed"
    reports_version "$out" || die "helm built but does not report version $HELM_VERSION"
    mv "$out" "$HELM"
  )
fi
ln -sfn "$(basename "$HELM")" "$BIN_DIR/helm"
echo "$BIN_DIR"
