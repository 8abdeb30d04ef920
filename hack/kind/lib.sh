# What hack/kind/kind.sh and hack/kind/offline.sh both start with, sourced after their
# `set -euo pipefail`: the repository's paths, the pinned versions, the state folder, log and die
# (prefixed with the script's name), and whether the kind cluster exists.
# shellcheck shell=bash
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
# shellcheck source=versions.sh
source "$here/versions.sh"
# The kubeconfig, env file, tool links and logs of the kind scripts (git-ignored).
# shellcheck disable=SC2034 # read by the scripts that source this file
STATE="$root/.kind"

log() { echo "${0##*/}: $*" >&2; }
die() {
  log "$*"
  exit 1
}

# With the kind binary $KIND.
cluster_exists() { "$KIND" get clusters 2>/dev/null | grep -qx "$KIND_CLUSTER_NAME"; }
