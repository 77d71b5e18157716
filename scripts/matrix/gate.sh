#!/usr/bin/env bash
# gate.sh BASE NEW: the pull-request gate. BASE and NEW are matrix directories (one subdirectory per
# job: kernel-6.1, host-LABEL, ...); each job of NEW is compared with the job of the same name in
# BASE by `hookbench compare`. Exit 1 when any cell confidently regressed, 2 on bad input; a job
# without a baseline (new kernel line, first run) is said and not gated. The comparisons are
# written to NEW/compare/JOB/. Env: GATE_NOISE, percentage points a change must clear (default:
# hookbench compare's own).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

[[ $# -eq 2 ]] || die "usage: gate.sh BASE NEW"
base=$1 new=$2
check_path BASE "$base"
check_path NEW "$new"
[[ -d $base && -d $new ]] || die "BASE and NEW must be directories"
noise=()
if [[ -n ${GATE_NOISE:-} ]]; then
  check GATE_NOISE "$GATE_NOISE" "$NUMBER_PATTERN"
  noise=(--noise "$GATE_NOISE")
fi

# The one results.json of a job directory (a kernel job's sits one level down, named after the
# package, which changes with each Debian point release: jobs are matched by their own name).
results_of() {
  local found
  mapfile -d '' found < <(find "$1" -name results.json -type f -print0)
  ((${#found[@]} == 1)) && printf '%s' "${found[0]}"
}

setup build
regressed=0 compared=0
for job_dir in "$new"/*/; do
  job=$(basename "$job_dir")
  next=$(results_of "$job_dir") || continue # not a job (the report, earlier comparisons)
  if ! reference=$(results_of "$base/$job" 2>/dev/null); then
    echo "gate: $job has no baseline in $base: not gated"
    continue
  fi
  rc=0
  hookbench compare "$reference" "$next" "${noise[@]}" --out "$new/compare/$job" || rc=$?
  case $rc in
    0) ;;
    1)
      regressed=1
      echo "gate: $job regressed"
      ;;
    *) exit "$rc" ;;
  esac
  compared=$((compared + 1))
done
if ((regressed)); then verdict='at least one cell regressed'; else verdict='no confident regression'; fi
echo "gate: $compared job(s) compared with $base: $verdict"
exit "$regressed"
