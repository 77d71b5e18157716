#!/usr/bin/env bash
# host.sh OUTDIR: one host job of the matrix: the matrix's `hookbench run` on this machine's own
# kernel, as root, results in OUTDIR. Env: MECHANISMS, WORKLOADS, MAX_TIME, LATENCY_CYCLES (lib.sh).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

[[ $# -eq 1 ]] || die "usage: host.sh OUTDIR"
check_path OUTDIR "$1"
load_run_options

setup setup
# A persistent host (a self-hosted runner, a Kubernetes node) may keep the journal of a job that was
# killed; `run` refuses to start until it is undone. cleanup touches only dead runs' objects.
hookbench cleanup
measured hookbench run "${RUN_OPTS[@]}" --out "$1"
