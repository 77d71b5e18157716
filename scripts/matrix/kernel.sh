#!/usr/bin/env bash
# kernel.sh LINE OUTDIR: one kernel job of the matrix. `hookbench vm` boots Debian's newest kernel of
# LINE (6.1, 6.12, or a linux-image-... package) and runs the matrix's `hookbench run` inside it;
# OUTDIR (new or empty) gets the guest's results directory, its report and comparison.json.
# Env: MECHANISMS, WORKLOADS, MAX_TIME, LATENCY_CYCLES (lib.sh), ACCEL (auto: KVM where /dev/kvm
# boots, else TCG).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

[[ $# -eq 2 ]] || die "usage: kernel.sh LINE OUTDIR"
check kernel "$1" "$KERNEL_PATTERN"
check_path OUTDIR "$2"
accel=${ACCEL:-auto}
check ACCEL "$accel" '^(auto|kvm|tcg)$'
load_run_options

setup setup
# vm forwards the run options to the guest's `hookbench run` and renders the reports on the host.
measured hookbench vm --kernel "$1" --accel "$accel" --out "$2" "${RUN_OPTS[@]}"
