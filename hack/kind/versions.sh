# Pinned versions of everything the kind scripts build or run, in one place. Sourced by
# hack/kind/*.sh; each can be overridden from the environment.
# shellcheck shell=bash
KIND_VERSION="${KIND_VERSION:-v0.33.0}"
K8S_VERSION="${K8S_VERSION:-v1.34.4}"
ETCD_VERSION="${ETCD_VERSION:-v3.6.16}"
CRICTL_VERSION="${CRICTL_VERSION:-v1.34.0}"
COREDNS_VERSION="${COREDNS_VERSION:-v1.12.1}"
LOCAL_PATH_PROVISIONER_VERSION="${LOCAL_PATH_PROVISIONER_VERSION:-v0.0.30}"
HELM_VERSION="${HELM_VERSION:-v3.22.0}"
DEBIAN_SUITE="${DEBIAN_SUITE:-bookworm}"
# The cluster the laptop and CI paths create, and the webhook image they build and load.
KIND_CLUSTER_NAME="${KIND_CLUSTER_NAME:-pod-identity-webhook}"
WEBHOOK_IMAGE="${WEBHOOK_IMAGE:-pod-identity-webhook:kind}"
CACHE_DIR="${POD_IDENTITY_WEBHOOK_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/pod-identity-webhook}"
export KIND_VERSION K8S_VERSION ETCD_VERSION CRICTL_VERSION COREDNS_VERSION \
  LOCAL_PATH_PROVISIONER_VERSION HELM_VERSION DEBIAN_SUITE KIND_CLUSTER_NAME WEBHOOK_IMAGE CACHE_DIR
