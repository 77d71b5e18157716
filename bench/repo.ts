import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface Manifest {
  name: string;
  version?: string;
}

/**
 * The checkout hookbench runs from: the nearest ancestor of this module holding hookbench's
 * package.json. Walking up works from bench/repo.ts (vitest) and dist/bench/repo.js alike.
 */
export function repoRoot(): string {
  for (let dir = dirname(fileURLToPath(import.meta.url)); ; dir = dirname(dir)) {
    const manifest = join(dir, 'package.json');
    if (existsSync(manifest) && (JSON.parse(readFileSync(manifest, 'utf8')) as Partial<Manifest>).name === 'hookbench') return dir;
    if (dirname(dir) === dir) throw new Error(`cannot find hookbench's package.json above ${fileURLToPath(import.meta.url)}`);
  }
}

export function hookbenchManifest(): Manifest {
  return JSON.parse(readFileSync(join(repoRoot(), 'package.json'), 'utf8')) as Manifest;
}
