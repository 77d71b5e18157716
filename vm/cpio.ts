/**
 * A writer for the kernel's initramfs format (cpio "newc", see Documentation/driver-api/early-userspace/
 * buffer-format.rst). Written here rather than with cpio(1) so the archive can hold /dev/console
 * without mknod on the host, and is byte-for-byte reproducible (uid 0, mtime 0).
 */
export type CpioEntry =
  | { kind: 'dir'; path: string }
  | { kind: 'file'; path: string; data: Buffer; executable?: boolean }
  | { kind: 'symlink'; path: string; target: string }
  | { kind: 'chardev'; path: string; major: number; minor: number; mode: number };

const S_IFDIR = 0o040000;
const S_IFREG = 0o100000;
const S_IFLNK = 0o120000;
const S_IFCHR = 0o020000;

interface Header {
  mode: number;
  size: number;
  rdevMajor: number;
  rdevMinor: number;
  nlink: number;
}

function headerOf(entry: CpioEntry): Header {
  switch (entry.kind) {
    case 'dir':
      return { mode: S_IFDIR | 0o755, size: 0, rdevMajor: 0, rdevMinor: 0, nlink: 2 };
    case 'file':
      return { mode: S_IFREG | (entry.executable ? 0o755 : 0o644), size: entry.data.length, rdevMajor: 0, rdevMinor: 0, nlink: 1 };
    case 'symlink':
      return { mode: S_IFLNK | 0o777, size: Buffer.byteLength(entry.target), rdevMajor: 0, rdevMinor: 0, nlink: 1 };
    case 'chardev':
      return { mode: S_IFCHR | entry.mode, size: 0, rdevMajor: entry.major, rdevMinor: entry.minor, nlink: 1 };
  }
}

function bodyOf(entry: CpioEntry): Buffer {
  if (entry.kind === 'file') return entry.data;
  if (entry.kind === 'symlink') return Buffer.from(entry.target);
  return Buffer.alloc(0);
}

const hex8 = (n: number): string => n.toString(16).padStart(8, '0');
const padTo4 = (n: number): Buffer => Buffer.alloc((4 - (n % 4)) % 4);

function record(ino: number, name: string, h: Header, body: Buffer): Buffer[] {
  const nameBytes = Buffer.from(`${name}\0`);
  // magic, ino, mode, uid, gid, nlink, mtime, filesize, devmajor, devminor, rdevmajor, rdevminor, namesize, check
  const fields = [ino, h.mode, 0, 0, h.nlink, 0, h.size, 0, 0, h.rdevMajor, h.rdevMinor, nameBytes.length, 0];
  const header = Buffer.from(`070701${fields.map(hex8).join('')}`, 'ascii');
  return [header, nameBytes, padTo4(header.length + nameBytes.length), body, padTo4(body.length)];
}

/** The archive for these entries, in the order given (parents must precede their children). */
export function writeCpio(entries: CpioEntry[]): Buffer {
  const parts: Buffer[] = [];
  entries.forEach((entry, i) => {
    const name = entry.path.replace(/^\/+/, '');
    parts.push(...record(i + 1, name, headerOf(entry), bodyOf(entry)));
  });
  parts.push(...record(0, 'TRAILER!!!', { mode: 0, size: 0, rdevMajor: 0, rdevMinor: 0, nlink: 1 }, Buffer.alloc(0)));
  return Buffer.concat(parts);
}
