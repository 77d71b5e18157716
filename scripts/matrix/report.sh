#!/usr/bin/env bash
# report.sh OUTDIR INPUT...: one report (report.html, summary.md, results.csv, charts) in OUTDIR over
# every results.json found under the INPUT directories: the jobs' results, wherever they ran.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

[[ $# -ge 2 ]] || die "usage: report.sh OUTDIR INPUT..."
out=$1
shift
check_path OUTDIR "$out"
for input in "$@"; do
  check_path INPUT "$input"
  [[ -d $input ]] || die "$input is not a directory"
done

# Sorted, so the report's runs come in the same order on every machine.
mapfile -d '' files < <(find "$@" -name results.json -type f -print0 | sort -z)
((${#files[@]} > 0)) || die "no results.json under $*"

setup build
hookbench report "${files[@]}" --out "$out"
