import { spawnSync } from 'node:child_process';
import { gunzipSync } from 'node:zlib';
import { VmEnvironmentError } from './errors.js';

/** The compressions Debian uses for kernels and modules, told apart by their magic bytes. */
const FORMATS = [
  { name: 'xz', magic: Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]), tool: 'xz', args: ['-dc', '--single-stream'], debianPackage: 'xz-utils' },
  { name: 'zstd', magic: Buffer.from([0x28, 0xb5, 0x2f, 0xfd]), tool: 'zstd', args: ['-dc'], debianPackage: 'zstd' },
  { name: 'gzip', magic: Buffer.from([0x1f, 0x8b]), tool: null, args: [], debianPackage: null },
] as const;

export function compressionOf(data: Buffer): string | null {
  return FORMATS.find((f) => data.subarray(0, f.magic.length).equals(f.magic))?.name ?? null;
}

/**
 * The data decompressed, or the data itself when it is not compressed. xz and zstd run as the host's
 * tools (node has neither); their absence is an error naming the Debian package to install.
 */
export function decompress(data: Buffer, what: string): Buffer {
  const format = FORMATS.find((f) => data.subarray(0, f.magic.length).equals(f.magic));
  if (!format) return data;
  if (!format.tool) return gunzipSync(data);
  const r = spawnSync(format.tool, [...format.args], { input: data, maxBuffer: 1024 * 1024 * 1024 });
  if ((r.error as NodeJS.ErrnoException | undefined)?.code === 'ENOENT') {
    throw new VmEnvironmentError(`${format.tool} not found, needed for ${what}: apt-get install ${format.debianPackage}`);
  }
  if (r.status !== 0) throw new VmEnvironmentError(`${format.tool} could not decompress ${what}: ${r.stderr.toString().trim()}`);
  return r.stdout;
}
