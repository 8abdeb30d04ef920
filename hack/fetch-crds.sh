#!/usr/bin/env bash
# Fetches the real CustomResourceDefinitions of the optional objects the chart renders, pinned, from
# the Go module proxy, and caches them outside the repository, keyed by version. Prints the directory
# holding the CRD files. A second run reuses them.
#
# Why: the chart proof creates every rendered object in a real kube-apiserver with strict field
# validation. For Certificate, Issuer, ServiceMonitor and PrometheusRule that proves something only
# when the API server knows their real schemas, so the tests install the projects' own CRDs first.
# The Go module proxy is the one registry-free source here that carries both projects, verified
# against the checksum database.
#
# - cert-manager: the module zip holds the CRDs twice, as templated Helm chart files
#   (deploy/charts/cert-manager/templates/crd-*.yaml, wrapped in {{ if .Values.crds.enabled }} and
#   chart labels) and as the plain controller-gen output they are generated from (deploy/crds/).
#   Their specs are identical, so we take the plain files and need no Helm rendering.
# - prometheus-operator: example/prometheus-operator-crd/ holds the plain controller-gen CRDs.
set -euo pipefail

CERT_MANAGER_VERSION="${CERT_MANAGER_VERSION:-v1.21.2}"
PROMETHEUS_OPERATOR_VERSION="${PROMETHEUS_OPERATOR_VERSION:-v0.85.0}"
CACHE_DIR="${POD_IDENTITY_WEBHOOK_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/pod-identity-webhook}"
TARGET="$CACHE_DIR/crds/cert-manager-$CERT_MANAGER_VERSION+prometheus-operator-$PROMETHEUS_OPERATOR_VERSION"

# module version path-in-module (the files we install, one per kind the chart may render or name)
SOURCES=(
  "github.com/cert-manager/cert-manager $CERT_MANAGER_VERSION deploy/crds/cert-manager.io_certificates.yaml"
  "github.com/cert-manager/cert-manager $CERT_MANAGER_VERSION deploy/crds/cert-manager.io_issuers.yaml"
  "github.com/cert-manager/cert-manager $CERT_MANAGER_VERSION deploy/crds/cert-manager.io_clusterissuers.yaml"
  "github.com/cert-manager/cert-manager $CERT_MANAGER_VERSION deploy/crds/cert-manager.io_certificaterequests.yaml"
  "github.com/prometheus-operator/prometheus-operator $PROMETHEUS_OPERATOR_VERSION example/prometheus-operator-crd/monitoring.coreos.com_servicemonitors.yaml"
  "github.com/prometheus-operator/prometheus-operator $PROMETHEUS_OPERATOR_VERSION example/prometheus-operator-crd/monitoring.coreos.com_podmonitors.yaml"
  "github.com/prometheus-operator/prometheus-operator $PROMETHEUS_OPERATOR_VERSION example/prometheus-operator-crd/monitoring.coreos.com_prometheusrules.yaml"
)

log() { echo "fetch-crds: $*" >&2; }
die() {
  log "$*"
  exit 1
}

# A cached set counts only if every file is there and is a CRD.
complete() {
  local source file
  for source in "${SOURCES[@]}"; do
    file="$1/$(basename "${source##* }")"
    grep -q '^kind: CustomResourceDefinition' "$file" 2>/dev/null || return 1
  done
}

if complete "$TARGET"; then
  log "reusing $TARGET"
  echo "$TARGET"
  exit 0
fi

command -v go >/dev/null || die "go is required to download modules from the Go module proxy"
command -v node >/dev/null || die "node is required (it reads go's JSON output)"
mkdir -p "$(dirname "$TARGET")"
work="$(mktemp -d "$(dirname "$TARGET")/.crds.XXXXXX")"
trap 'rm -rf "$work"' EXIT
chmod 755 "$work"

declare -A dirs=()
for source in "${SOURCES[@]}"; do
  read -r module version path <<<"$source"
  if [[ -z "${dirs[$module@$version]:-}" ]]; then
    log "downloading $module@$version"
    dirs[$module@$version]="$(go mod download -json "$module@$version" | node -e '
      const m = JSON.parse(require("fs").readFileSync(0, "utf8"));
      if (m.Error) { console.error(m.Error); process.exit(1) }
      console.log(m.Dir)')" || die "could not download $module@$version from the Go module proxy"
  fi
  cp "${dirs[$module@$version]}/$path" "$work/" || die "$module@$version has no $path"
  chmod 644 "$work/$(basename "$path")" # the module cache is read-only
done
complete "$work" || die "a fetched file is not a CustomResourceDefinition"

rm -rf "$TARGET"
mv "$work" "$TARGET" || complete "$TARGET" || die "could not move the CRDs into $TARGET"
log "cached $(ls "$TARGET" | wc -l) CRDs in $TARGET"
echo "$TARGET"
