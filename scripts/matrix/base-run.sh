#!/usr/bin/env bash
# base-run.sh: the id of the latest successful run of this workflow for a push to main, written to
# GITHUB_OUTPUT (stdout elsewhere) as run-id=ID, empty when there is none yet. Its merged artifact is
# a pull request's baseline (actions/download-artifact with run-id). Needs gh and GH_TOKEN with
# actions: read; GH_REPO names the repository.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

[[ $# -eq 0 ]] || die "usage: base-run.sh"
# Only push runs: a workflow_dispatch run on main may have measured other kernels or cells.
run_id=$(gh run list --workflow kernel-matrix.yml --branch main --event push --status success \
  --limit 1 --json databaseId --jq '.[0].databaseId // empty')
[[ -z $run_id ]] || check 'run id' "$run_id" "$COUNT_PATTERN"
echo "run-id=$run_id" | to_output
echo "base-run: ${run_id:-no successful push run on main yet: the gate is skipped}" >&2
