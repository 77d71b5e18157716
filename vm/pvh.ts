import { compressionOf, decompress } from './decompress.js';

const PT_NOTE = 4;
/** XEN_ELFNOTE_PHYS32_ENTRY: the 32-bit entry point qemu's -kernel uses to boot an ELF vmlinux directly (PVH). */
const PHYS32_ENTRY = 18;

/**
 * The compressed kernel inside a bzImage, located by its boot-protocol header (Documentation/arch/
 * x86/boot.rst: payload_offset/payload_length, protocol >= 2.08); null for anything else.
 */
export function bzImagePayload(bz: Buffer): Buffer | null {
  if (bz.length < 0x250 || bz.toString('latin1', 0x202, 0x206) !== 'HdrS' || bz.readUInt16LE(0x206) < 0x208) return null;
  const setupSectors = bz[0x1f1] || 4;
  const start = (setupSectors + 1) * 512 + bz.readUInt32LE(0x248);
  const end = start + bz.readUInt32LE(0x24c);
  return end <= bz.length ? bz.subarray(start, end) : null;
}

/** True for an ELF64 vmlinux carrying the PVH entry note. */
export function hasPvhEntry(elf: Buffer): boolean {
  if (elf.length < 64 || elf.readUInt32BE(0) !== 0x7f454c46 || elf[4] !== 2) return false;
  const phoff = Number(elf.readBigUInt64LE(0x20));
  const phentsize = elf.readUInt16LE(0x36);
  for (let i = 0; i < elf.readUInt16LE(0x38); i++) {
    const ph = phoff + i * phentsize;
    if (elf.readUInt32LE(ph) !== PT_NOTE) continue;
    const offset = Number(elf.readBigUInt64LE(ph + 8));
    const end = offset + Number(elf.readBigUInt64LE(ph + 32));
    for (let n = offset; n + 12 <= end; ) {
      const nameSize = elf.readUInt32LE(n);
      const descSize = elf.readUInt32LE(n + 4);
      const name = elf.toString('latin1', n + 12, n + 12 + nameSize).replace(/\0+$/, '');
      if (name === 'Xen' && elf.readUInt32LE(n + 8) === PHYS32_ENTRY) return true;
      n += 12 + Math.ceil(nameSize / 4) * 4 + Math.ceil(descSize / 4) * 4;
    }
  }
  return false;
}

/**
 * The uncompressed vmlinux behind a bzImage when it can boot by PVH, else null. Booting it skips the
 * in-guest decompression, which under TCG costs several seconds per boot. The x86 build appends the
 * uncompressed size (4 bytes) to xz and zstd payloads; it is stripped and checked.
 */
export function extractPvhKernel(bzImage: Buffer): Buffer | null {
  const payload = bzImagePayload(bzImage);
  const format = payload && compressionOf(payload);
  if (!payload || !format) return null;
  const sized = format !== 'gzip';
  try {
    const elf = decompress(sized ? payload.subarray(0, payload.length - 4) : payload, 'the kernel image');
    if (sized && elf.length !== payload.readUInt32LE(payload.length - 4)) return null;
    return hasPvhEntry(elf) ? elf : null;
  } catch {
    return null;
  }
}
