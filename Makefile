# hookbench: `make bench` and `make test` each set up everything they need (as root, on Debian),
# quietly when nothing is missing.
SHELL := /bin/bash
.DEFAULT_GOAL := bench

# Debian packages: the compiler for the workloads, clang and libbpf for the bare BPF programs, the measured mechanisms' tools, qemu and a busybox
# initramfs for kernels in VMs, Chromium + fonts for the report tests, and shellcheck for the test of
# the matrix scripts.
APT_PACKAGES := gcc libc6-dev clang libbpf-dev linux-perf bpftrace bpftool auditd strace \
	qemu-system-x86 busybox-static cpio kmod xz-utils zstd \
	chromium fonts-dejavu-core shellcheck

# Extra options for `make bench`, e.g. ARGS='--mechanisms tracepoint --workloads mprotect'.
ARGS ?=

.PHONY: setup apt-packages node-modules build bench test test-guest matrix clean

setup: apt-packages node-modules build

apt-packages:
	@missing=$$(for p in $(APT_PACKAGES); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		echo "installing Debian packages:" $$missing; \
		export DEBIAN_FRONTEND=noninteractive; \
		apt-get update -qq && apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi

node_modules/.package-lock.json: package-lock.json
	@npm ci --no-audit --no-fund --loglevel=error

node-modules: node_modules/.package-lock.json

build: node-modules
	@npx tsc -p tsconfig.json
	@chmod +x dist/bench/cli.js

# A FAILing or INCONCLUSIVE cell is a result, not a broken bench: exit codes 1 and 3 are success here.
bench: setup
	@node dist/bench/cli.js run $(ARGS); rc=$$?; \
	if [ $$rc -eq 0 ] || [ $$rc -eq 1 ] || [ $$rc -eq 3 ]; then echo "hookbench exit code $$rc (0 all pass, 1 a cell fails its budget, 3 inconclusive/invalid)"; else exit $$rc; fi

# The whole suite; test/guest.test.ts in it boots a Debian 6.1 guest and runs the kernel-dependent
# files again there. The end of the output lists every skip with its reason.
test: setup
	@npx vitest run

# Only the guest run (HOOKBENCH_TEST_GUEST_KERNEL=6.12 for another Debian line).
test-guest: setup
	@npx vitest run test/guest.test.ts

# The jobs of .github/workflows/kernel-matrix.yml one after another on this machine, then their merged
# report: make matrix KERNELS="6.1 6.12" [HOST=1] [MECHANISMS=a,b] [WORKLOADS=x,y] [MAX_TIME=120]
# [LATENCY_CYCLES=n] [ACCEL=auto|kvm|tcg] [MATRIX_OUT=dir]. The variables reach the scripts through
# the environment, never pasted into a recipe, and the scripts check them (scripts/matrix/lib.sh).
export KERNELS HOST MECHANISMS WORKLOADS MAX_TIME LATENCY_CYCLES ACCEL MATRIX_OUT
matrix:
	@scripts/matrix/local.sh

clean:
	rm -rf dist build test-artifacts
