# hookbench: `make bench` and `make test` each set up everything they need (as root, on Debian),
# quietly when nothing is missing.
SHELL := /bin/bash
.DEFAULT_GOAL := bench

# Debian packages: the compiler for the workloads, the measured mechanisms' tools, qemu and a busybox
# initramfs for kernels in VMs, and Chromium + fonts for the report tests.
APT_PACKAGES := gcc libc6-dev linux-perf bpftrace bpftool auditd strace \
	qemu-system-x86 busybox-static cpio kmod xz-utils zstd \
	chromium fonts-dejavu-core

# Extra options for `make bench`, e.g. ARGS='--mechanisms tracepoint --workloads mprotect'.
ARGS ?=

.PHONY: setup apt-packages node-modules build bench test test-guest clean

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

clean:
	rm -rf dist build test-artifacts
