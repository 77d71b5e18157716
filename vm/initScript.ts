/**
 * The guest's /init. It is a constant: nothing from the command line is ever written into it. What
 * varies per run reaches the guest another way: the command as a quoted script in the results share
 * (`.vm/command.sh`, see guestCommand.ts), the accelerator as one of two fixed kernel parameters.
 *
 * Markers (`hookbench-vm: <stage>`) on the console let the host time the boot and tell a guest that
 * never reached its command from one whose command failed.
 */
export const MARKER = 'hookbench-vm:';
export const GUEST_RESULTS_DIR = '/hookbench-results';
export const VM_META_DIR = '.vm';
export const COMMAND_FILE = 'command.sh';
export const EXIT_STATUS_FILE = 'exit-status';
export const HOST_ROOT_TAG = 'hostroot';
export const RESULTS_TAG = 'hbresults';
/** Where the initramfs carries the kernel's config, when the host knows it. */
export const KERNEL_CONFIG_PATH = '/kernel-config';

export const INIT_SCRIPT = `#!/bin/sh
export PATH=/bin
/bin/busybox mount -t proc proc /proc
/bin/busybox --install -s /bin
say() { echo "${MARKER} $*"; }
fail() { say "error $*"; sync; poweroff -f; }
say init
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev

for m in /modules/*.ko; do
  [ -e "$m" ] || continue
  insmod "$m" || fail "insmod $m failed"
done
say modules-loaded

# The host's root, read-only, under a tmpfs layer that takes every write the guest makes.
mount -t 9p -o trans=virtio,version=9p2000.L,ro,cache=loose,msize=262144 ${HOST_ROOT_TAG} /lower || fail "cannot mount the host root over 9p"
mount -t tmpfs -o mode=0755 tmpfs /overlay || fail "cannot mount the overlay tmpfs"
mkdir -p /overlay/upper /overlay/work
mount -t overlay overlay -o lowerdir=/lower,upperdir=/overlay/upper,workdir=/overlay/work /newroot || fail "cannot mount the overlay root"

R=/newroot
mkdir -p $R${GUEST_RESULTS_DIR}
mount -t 9p -o trans=virtio,version=9p2000.L,msize=262144 ${RESULTS_TAG} $R${GUEST_RESULTS_DIR} || fail "cannot mount the results share"
mount -t proc proc $R/proc || fail "cannot mount proc"
mount -t sysfs sysfs $R/sys || fail "cannot mount sysfs"
mount -t devtmpfs devtmpfs $R/dev || fail "cannot mount devtmpfs"
mkdir -p $R/dev/pts $R/dev/shm
mount -t devpts devpts $R/dev/pts
mount -t tmpfs -o mode=1777 tmpfs $R/dev/shm
mount -t tmpfs -o mode=0755 tmpfs $R/run
mount -t tracefs tracefs $R/sys/kernel/tracing || fail "cannot mount tracefs"
mount -t securityfs securityfs $R/sys/kernel/security
mount -t debugfs debugfs $R/sys/kernel/debug
mount -t bpf bpf $R/sys/fs/bpf
hostname hookbench-vm
# Loopback only (no network device): workloads such as hids-mix connect and send to 127.0.0.1.
ip link set lo up || fail "cannot bring up the loopback interface"
# The host's container marker is not the guest's: hide it in the overlay, so the guest's environment
# fingerprint says what the guest is.
rm -f $R/.dockerenv $R/run/.containerenv
# The kernel's config where hookbench's environment record (and the tests) look for it.
if [ -e ${KERNEL_CONFIG_PATH} ]; then mkdir -p $R/boot && cp ${KERNEL_CONFIG_PATH} $R/boot/config-$(uname -r); fi
say root-ready

accel=tcg
case " $(cat /proc/cmdline) " in *" hookbench.accel=kvm "*) accel=kvm ;; esac
# Through a pipe, so the command's output is not the serial tty: it prints plain lines the host forwards.
# Temporary files on a tmpfs, not the overlay root (whose /tmp is the host's, where the repository may
# be): on overlayfs every open passes the file LSM hooks twice, the overlay's file's and the upper layer's.
set -o pipefail
say run-start
chroot $R /usr/bin/env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root TERM=dumb \\
  TMPDIR=/dev/shm HOOKBENCH_ACCEL=$accel /bin/sh ${GUEST_RESULTS_DIR}/${VM_META_DIR}/${COMMAND_FILE} </dev/null 2>&1 | cat
rc=$?
echo $rc > $R${GUEST_RESULTS_DIR}/${VM_META_DIR}/${EXIT_STATUS_FILE}
say run-exit $rc
sync
umount $R${GUEST_RESULTS_DIR}
poweroff -f
`;
