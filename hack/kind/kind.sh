#!/usr/bin/env bash
# Try the webhook on kind: creates the cluster, builds the image from the repository's Dockerfile,
# loads it into the node, installs the chart and runs the demo (an annotated ServiceAccount and a
# Pod that checks its projected token), then prints the Pod's injected environment and token claims.
#
#   bash hack/kind/kind.sh up     # idempotent: a second `up` reuses the cluster, rebuilds and upgrades
#   bash hack/kind/kind.sh down   # deletes the cluster and the image
#
# Needs kind, docker, kubectl and helm. The CI path (hack/kind/offline.sh) runs this same script on a
# machine without a registry, through these overrides:
#   KIND, DOCKER, KUBECTL, HELM  the tools (default: found on PATH)
#   KIND_NODE_IMAGE              node image for `kind create cluster --image` (default: kind's own)
#   KIND_CONFIG_OVERLAY          a file appended to hack/kind/cluster.yaml (top-level keys not in it)
#   KIND_BUILD_CONTEXT           directory the webhook image is built from (default: this checkout)
#   KIND_SKIP_DEMO=1             stop after the chart is installed
#   KUBECONFIG                   where kind writes the cluster's credentials (default: ~/.kube/config)
set -euo pipefail

# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

KIND="${KIND:-kind}"
DOCKER="${DOCKER:-docker}"
KUBECTL="${KUBECTL:-kubectl}"
HELM="${HELM:-helm}"
RELEASE=pod-identity-webhook
NAMESPACE=pod-identity-webhook
CONTEXT="kind-$KIND_CLUSTER_NAME"
DEMO="$here/manifests/demo.yaml"
DEMO_NAMESPACE=irsa-demo
DEMO_POD=app
# Only the demo's Pod carries this label: the rest of demo.yaml is applied first, the Pod after.
DEMO_POD_LABEL=app.kubernetes.io/name=irsa-demo

# `command`: with KUBECTL=kubectl, the function would otherwise call itself.
kubectl() { command "$KUBECTL" --context "$CONTEXT" "$@"; }

require_tools() {
  local tool
  for tool in "$@"; do
    command -v "${!tool}" >/dev/null || die "$tool not found: '${!tool}' (install it or set $tool=/path/to/it)"
  done
}

# The shared config, plus the overlay appended as more top-level keys. A key in both would be
# a duplicate, which kind's YAML parser may silently resolve either way: refuse it instead.
cluster_config() {
  local config="$STATE/cluster.yaml" key
  mkdir -p "$STATE"
  cp "$here/cluster.yaml" "$config"
  if [[ -n "${KIND_CONFIG_OVERLAY:-}" ]]; then
    [[ -r "$KIND_CONFIG_OVERLAY" ]] || die "KIND_CONFIG_OVERLAY: cannot read $KIND_CONFIG_OVERLAY"
    for key in $(grep -oE '^[A-Za-z]+:' "$KIND_CONFIG_OVERLAY"); do
      ! grep -q "^$key" "$here/cluster.yaml" ||
        die "KIND_CONFIG_OVERLAY $KIND_CONFIG_OVERLAY sets '$key', which hack/kind/cluster.yaml sets too"
    done
    cat "$KIND_CONFIG_OVERLAY" >>"$config"
  fi
  echo "$config"
}

create_cluster() {
  local args=(create cluster --name "$KIND_CLUSTER_NAME" --config "$(cluster_config)" --wait 5m)
  [[ -n "${KIND_NODE_IMAGE:-}" ]] && args+=(--image "$KIND_NODE_IMAGE")
  if cluster_exists; then
    log "reusing cluster $KIND_CLUSTER_NAME"
  else
    log "creating cluster $KIND_CLUSTER_NAME${KIND_NODE_IMAGE:+ from $KIND_NODE_IMAGE}"
    "$KIND" "${args[@]}" || die "kind create cluster $KIND_CLUSTER_NAME failed"
  fi
}

build_image() {
  local context="${KIND_BUILD_CONTEXT:-$root}" version revision
  version="$(sed -n 's/^  "version": "\(.*\)",$/\1/p' "$context/package.json")"
  revision="$(git -C "$context" rev-parse HEAD 2>/dev/null || echo unknown)"
  log "building $WEBHOOK_IMAGE from $context/Dockerfile"
  DOCKER_BUILDKIT=1 "$DOCKER" build -t "$WEBHOOK_IMAGE" --build-arg VERSION="$version" \
    --build-arg REVISION="$revision" "$context" >&2 || die "docker build of $WEBHOOK_IMAGE failed"
  "$KIND" load docker-image --name "$KIND_CLUSTER_NAME" "$WEBHOOK_IMAGE" >&2 ||
    die "kind load docker-image $WEBHOOK_IMAGE failed"
}

install_chart() {
  local image_id
  image_id="$("$DOCKER" image inspect --format '{{.Id}}' "$WEBHOOK_IMAGE")"
  log "installing the chart (release $RELEASE in namespace $NAMESPACE)"
  # The tag stays `kind`; the image ID as a Pod annotation rolls the Deployment when it changes.
  "$HELM" upgrade --install "$RELEASE" "$root/charts/pod-identity-webhook" --kube-context "$CONTEXT" \
    --namespace "$NAMESPACE" --create-namespace --values "$here/values.yaml" \
    --set-string "podAnnotations.kind-image-id=$image_id" --wait --timeout 5m >&2 ||
    die "helm upgrade --install $RELEASE failed (kubectl -n $NAMESPACE get pods,events)"
}

# Waits for the demo Pod to finish (it checks its token and exits), at most $1 seconds.
await_demo_pod() {
  local deadline=$((SECONDS + $1)) phase
  while ((SECONDS < deadline)); do
    phase="$(kubectl get pod -n "$DEMO_NAMESPACE" "$DEMO_POD" -o jsonpath='{.status.phase}')"
    [[ "$phase" == Succeeded || "$phase" == Failed ]] && return 0
    sleep 1
  done
  die "the demo Pod $DEMO_NAMESPACE/$DEMO_POD did not finish within $1 s (phase: ${phase:-none})"
}

# Waits until kube-apiserver reaches the webhook, at most $1 seconds. It calls the Service's
# ClusterIP, and kube-proxy's rules follow the Pods' readiness (helm's --wait) by a second or more;
# until then the call fails and failurePolicy Ignore admits the Pod unmutated. Dry-run creates of
# the demo Pod until one comes back with the role.
await_webhook_routed() {
  local deadline=$((SECONDS + $1)) start=$SECONDS role='' error=''
  while ((SECONDS < deadline)); do
    if role="$(kubectl create --dry-run=server -f "$DEMO" -l "$DEMO_POD_LABEL" -o \
      jsonpath='{.spec.containers[0].env[?(@.name=="AWS_ROLE_ARN")].value}' 2>"$STATE/dry-run.err")"; then
      [[ -n "$role" ]] && { log "kube-apiserver reaches the webhook ($((SECONDS - start)) s)"; return 0; }
    else
      error="$(tail -n 1 "$STATE/dry-run.err")"
    fi
    sleep 0.5
  done
  die "kube-apiserver did not reach the webhook within $1 s: a dry-run create of the demo Pod came back" \
    "unmutated${error:+ (last error: $error)} (kubectl -n $NAMESPACE get pods,endpointslices)"
}

run_demo() {
  [[ -r "$DEMO" ]] || die "the demo manifest $DEMO is missing"
  log "running the demo: $DEMO"
  # A Pod is immutable and this one runs once: start it afresh on every `up`.
  kubectl delete pod -n "$DEMO_NAMESPACE" "$DEMO_POD" --ignore-not-found --wait >&2
  kubectl apply -f "$DEMO" -l "${DEMO_POD_LABEL/=/!=}" >&2 || die "kubectl apply -f $DEMO (all but the Pod) failed"
  await_webhook_routed 60
  kubectl apply -f "$DEMO" >&2 || die "kubectl apply -f $DEMO failed"
  await_demo_pod 180
  local report
  report="$(kubectl logs -n "$DEMO_NAMESPACE" "$DEMO_POD")" || die "could not read the demo Pod's logs"
  echo
  echo "The webhook mutated Pod $DEMO_NAMESPACE/$DEMO_POD (ServiceAccount $DEMO_POD):"
  kubectl get pod -n "$DEMO_NAMESPACE" "$DEMO_POD" \
    -o jsonpath='{range .spec.volumes[?(@.name=="aws-iam-token")]}  volume aws-iam-token: {.projected.sources[0].serviceAccountToken}{"\n"}{end}'
  if command -v jq >/dev/null; then
    echo "Injected environment (as the container sees it):"
    jq -r '.env | to_entries[] | "  \(.key)=\(.value)"' <<<"$report"
    echo "Token claims (read and decoded inside the container, as uid $(jq -r .user.uid <<<"$report")):"
    jq '.token.claims' <<<"$report"
    echo "Checks:"
    jq -r '.checks // {} | to_entries[] | "  \(.key): \(.value)"' <<<"$report"
    jq -e '.ok' <<<"$report" >/dev/null || die "the demo's checks failed: $(jq -r '.error // "see above"' <<<"$report")"
  else
    echo "$report"
    grep -q '"ok":true' <<<"$report" || die "the demo's checks failed (see the report above)"
  fi
}

up() {
  require_tools KIND DOCKER KUBECTL HELM
  local start=$SECONDS
  create_cluster
  log "cluster ready ($((SECONDS - start)) s)"
  build_image
  log "image built and loaded ($((SECONDS - start)) s)"
  install_chart
  log "chart installed, webhook Pods ready ($((SECONDS - start)) s)"
  [[ "${KIND_SKIP_DEMO:-}" == 1 ]] || run_demo
  log "up in $((SECONDS - start)) s; kubectl --context $CONTEXT"
}

down() {
  require_tools KIND DOCKER
  if cluster_exists; then
    "$KIND" delete cluster --name "$KIND_CLUSTER_NAME" >&2 || die "kind delete cluster $KIND_CLUSTER_NAME failed"
  fi
  "$DOCKER" image rm --force "$WEBHOOK_IMAGE" >/dev/null 2>&1 || true
  rm -f "$STATE/cluster.yaml"
  log "down: cluster $KIND_CLUSTER_NAME and image $WEBHOOK_IMAGE removed"
}

case "${1:-}" in
up) up ;;
down) down ;;
*) die "usage: $0 up|down" ;;
esac
