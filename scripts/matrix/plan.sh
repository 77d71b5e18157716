#!/usr/bin/env bash
# plan.sh: the workflow's first job. Checks every input before any runner starts and turns the
# kernel and host lists into the JSON arrays the jobs' matrices are made of, written to
# GITHUB_OUTPUT (stdout elsewhere) as kernels=[...] and hosts=[...].
# Env: KERNELS, HOSTS (runner labels, space or comma separated; empty: no host jobs), MECHANISMS,
# WORKLOADS, MAX_TIME, LATENCY_CYCLES (lib.sh).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# A self-hosted runner's label, as GitHub allows it, short enough for an artifact name.
LABEL_PATTERN='^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$'

[[ $# -eq 0 ]] || die "usage: plan.sh (inputs in the environment)"
load_run_options
load_kernels
raw_hosts=${HOSTS:-}
read -r -a host_list <<<"${raw_hosts//,/ }"
for label in "${host_list[@]}"; do check 'host runner label' "$label" "$LABEL_PATTERN"; done

# Every word matched a pattern without quotes or backslashes: it needs no JSON escaping.
json_array() {
  local out='' word
  for word in "$@"; do out+="${out:+,}\"$word\""; done
  printf '[%s]' "$out"
}

{
  echo "kernels=$(json_array "${KERNEL_LIST[@]}")"
  echo "hosts=$(json_array "${host_list[@]}")"
} | to_output
echo "plan: kernels ${KERNEL_LIST[*]}; hosts ${host_list[*]:-none}; run options ${RUN_OPTS[*]}" >&2
