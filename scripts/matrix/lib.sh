# shellcheck shell=bash
# Shared by the matrix scripts (sourced, never run). The same scripts are every step of
# .github/workflows/kernel-matrix.yml, of `make matrix` and of the Kubernetes Job in deploy/, so a
# result looks the same wherever it was measured.
set -euo pipefail

MATRIX_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)

# One set of run options for every job: a merged report compares like with like only when each
# kernel and each host measured the same cells. The function-level hooks are what a kernel matrix is
# for (a host kernel may lack kprobes or the function tracer: there they are UNSUPPORTED cells, a
# result); audit is left out by default because it stays enabled until reboot on a persistent host.
DEFAULT_KERNELS='6.1 6.12'
DEFAULT_MECHANISMS='tracepoint,kprobe,kretprobe,ftrace'
DEFAULT_WORKLOADS='mprotect,null'
# Under TCG a round takes seconds: shorter cells give only a block or two (README, "Debian kernels under TCG").
DEFAULT_MAX_TIME=120

# Inputs come from workflow_dispatch fields, make variables and Job env: each is matched whole
# against a fixed pattern before it is used, and is only ever passed on as one quoted argument.
KERNEL_PATTERN='^([0-9]+\.[0-9]+|linux-image-[0-9][A-Za-z0-9.+-]*)$'
NAME_LIST_PATTERN='^[a-z0-9][a-z0-9-]*(,[a-z0-9][a-z0-9-]*)*$'
NUMBER_PATTERN='^[0-9]+(\.[0-9]+)?$'
COUNT_PATTERN='^[0-9]+$'

# Exit 2, as hookbench does for a usage or environment error.
die() {
  echo "matrix: $*" >&2
  exit 2
}

# check WHAT VALUE PATTERN
check() {
  [[ $2 =~ $3 ]] || die "$1 must match $3, got '$2'"
}

# A path from the command line, never taken for an option by the tools it is handed to.
check_path() {
  [[ -n $2 && $2 != -* ]] || die "$1 must be a path not starting with '-', got '$2'"
}

# RUN_OPTS: the `hookbench run` options of every job, from MECHANISMS, WORKLOADS, MAX_TIME and
# LATENCY_CYCLES (empty or unset: the defaults above; LATENCY_CYCLES: hookbench's own default).
load_run_options() {
  local mechanisms=${MECHANISMS:-$DEFAULT_MECHANISMS} workloads=${WORKLOADS:-$DEFAULT_WORKLOADS}
  local max_time=${MAX_TIME:-$DEFAULT_MAX_TIME} latency=${LATENCY_CYCLES:-}
  check MECHANISMS "$mechanisms" "$NAME_LIST_PATTERN"
  check WORKLOADS "$workloads" "$NAME_LIST_PATTERN"
  check MAX_TIME "$max_time" "$NUMBER_PATTERN"
  RUN_OPTS=(--mechanisms "$mechanisms" --workloads "$workloads" --max-time "$max_time")
  if [[ -n $latency ]]; then
    check LATENCY_CYCLES "$latency" "$COUNT_PATTERN"
    RUN_OPTS+=(--latency-cycles "$latency")
  fi
}

# KERNEL_LIST: the kernels of KERNELS (space or comma separated; default DEFAULT_KERNELS), checked.
load_kernels() {
  local raw=${KERNELS:-$DEFAULT_KERNELS} k
  read -r -a KERNEL_LIST <<<"${raw//,/ }" # split into words, no glob expansion
  for k in "${KERNEL_LIST[@]}"; do check kernel "$k" "$KERNEL_PATTERN"; done
}

# setup TARGET: `make setup` for jobs that measure, `make build` for those that only read results
# (skipped under local.sh, which has set up once for all its jobs). A bare debian:12 container (the
# workflow's kernel jobs) has no make yet.
setup() {
  [[ ${MATRIX_SETUP_DONE:-} != 1 ]] || return 0
  if ! command -v make >/dev/null; then
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends make >/dev/null
  fi
  make -s -C "$MATRIX_ROOT" "$1"
}

# Step outputs (key=value lines on stdin) to GITHUB_OUTPUT in a workflow, to stdout elsewhere.
to_output() {
  if [[ -n ${GITHUB_OUTPUT:-} ]]; then cat >>"$GITHUB_OUTPUT"; else cat; fi
}

hookbench() {
  node "$MATRIX_ROOT/dist/bench/cli.js" "$@"
}

# measured COMMAND...: a FAILing (1) or INCONCLUSIVE/INVALID (3) cell is a result, not a broken job,
# as in `make bench`; a usage or environment error (2) or a crash fails the job.
measured() {
  local rc=0
  "$@" || rc=$?
  case $rc in
    0 | 1 | 3) echo "matrix: hookbench exit code $rc (0 all pass, 1 a cell fails its budget, 3 inconclusive/invalid): a result" ;;
    *) exit "$rc" ;;
  esac
}
