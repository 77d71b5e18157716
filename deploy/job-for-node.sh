#!/usr/bin/env bash
# job-for-node.sh NODE: deploy/hookbench-job.yaml for one node, on stdout (pipe it to kubectl apply -f -).
# NODE is the node's kubernetes.io/hostname label (usually its name); IMAGE (env, required) is
# deploy/Dockerfile's image as pushed to a registry the cluster pulls from.
set -euo pipefail

die() {
  echo "job-for-node: $*" >&2
  exit 2
}

[[ $# -eq 1 ]] || die "usage: IMAGE=REGISTRY/hookbench:TAG job-for-node.sh NODE"
node=$1 image=${IMAGE:-}
# A DNS-1123 name, as Kubernetes requires of node names, short enough for the Job's name (which its
# pods carry as a 63-character label); no character that sed or YAML would read as syntax.
[[ $node =~ ^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$ && ${#node} -le 53 ]] ||
  die "NODE must be a lower-case DNS name of at most 53 characters, got '$node'"
[[ $image =~ ^[A-Za-z0-9][A-Za-z0-9._/:@-]*$ ]] || die "IMAGE must be an image reference (REGISTRY/hookbench:TAG), got '$image'"

sed -e "s|__NODE__|$node|g" -e "s|__IMAGE__|$image|g" "$(dirname "${BASH_SOURCE[0]}")/hookbench-job.yaml"
