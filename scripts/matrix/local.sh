#!/usr/bin/env bash
# local.sh (`make matrix`): the workflow's jobs one after another on this machine, into one
# directory laid out as the workflow's merged artifact (kernel-LINE/, host-NAME/, report/).
# Env: KERNELS (default 6.1 6.12), HOST=1 to add this machine's own kernel, MECHANISMS, WORKLOADS,
# MAX_TIME, LATENCY_CYCLES (lib.sh), ACCEL, MATRIX_OUT (default results/matrix-TIMESTAMP).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
here=$(dirname "${BASH_SOURCE[0]}")

[[ $# -eq 0 ]] || die "usage: local.sh (inputs in the environment; see make matrix)"
# Everything is checked before the first guest boots, not one kernel job later.
load_kernels
load_run_options
check HOST "${HOST:-0}" '^[01]$'
out=${MATRIX_OUT:-results/matrix-$(date -u +%Y%m%dT%H%M%SZ)}
check_path MATRIX_OUT "$out"
[[ ! -e $out || -z $(ls -A "$out") ]] || die "MATRIX_OUT $out is not empty"

setup setup
export MATRIX_SETUP_DONE=1 # the jobs below need not set up again

# As in the workflow, one job's environment error does not stop the others: the report covers what
# was measured, and the exit code says something failed.
failed=0
for kernel in "${KERNEL_LIST[@]}"; do
  "$here/kernel.sh" "$kernel" "$out/kernel-$kernel" || failed=1
done
if [[ ${HOST:-0} == 1 ]]; then
  name=$(hostname -s)
  "$here/host.sh" "$out/host-${name//[^A-Za-z0-9._-]/_}" || failed=1
fi
"$here/report.sh" "$out/report" "$out" || failed=1
echo "matrix: $out (open $out/report/report.html)"
exit "$failed"
