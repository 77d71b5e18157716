import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { hostname, release, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { beforeAll, describe, expect, test } from 'vitest';
import { repoRoot } from '../bench/repo.js';
import { ResultsSchema, type Results } from '../bench/results.js';

/**
 * The kernel matrix's local path for real, made small: `make matrix` runs the workflow's scripts one
 * after another, here with one Debian kernel in a guest (6.1, KVM where this machine has it, else TCG)
 * and this machine's own kernel (HOST=1), one cell (tracepoint × mprotect), 20 s per cell, no attach
 * and detach latency cycles. Then: every job left a valid results.json, the guest measured another
 * kernel than the host, and the merged report covers both. About 5 minutes under TCG.
 */
const TIMEOUT_S = 30 * 60;
const OUT = mkdtempSync(join(tmpdir(), 'hookbench-matrix-'));
const ENV = { KERNELS: '6.1', HOST: '1', MECHANISMS: 'tracepoint', WORKLOADS: 'mprotect', MAX_TIME: '20', LATENCY_CYCLES: '0', MATRIX_OUT: OUT };

/** The host job's directory, named as local.sh names it (`hostname -s`, made safe for a path). */
const HOST_JOB = `host-${hostname().split('.')[0]!.replace(/[^A-Za-z0-9._-]/g, '_')}`;

let exitCode: number | null;
let jobs: string[];

/** `make matrix`, its output streamed as it runs. */
function makeMatrix(): Promise<number | null> {
  const child = spawn('make', ['-s', 'matrix'], { cwd: repoRoot(), env: { ...process.env, ...ENV }, stdio: ['ignore', 'pipe', 'pipe'] });
  for (const stream of [child.stdout, child.stderr]) createInterface({ input: stream }).on('line', (line) => process.stdout.write(`matrix| ${line}\n`));
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', resolve);
  });
}

/** The one results.json under a job's directory (a kernel job's sits in a directory named after the package). */
function resultsOf(job: string): Results {
  const dir = join(OUT, job);
  const found = readdirSync(dir, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('results.json'));
  expect(found, job).toHaveLength(1);
  return ResultsSchema.parse(JSON.parse(readFileSync(join(dir, found[0]!), 'utf8')));
}

beforeAll(async () => {
  const started = Date.now();
  exitCode = await makeMatrix();
  jobs = existsSync(OUT) ? readdirSync(OUT).sort() : [];
  console.log(`make matrix: exit ${exitCode} after ${((Date.now() - started) / 60_000).toFixed(1)} min; ${OUT}: ${jobs.join(', ')}`);
}, TIMEOUT_S * 1000);

describe('make matrix KERNELS=6.1 HOST=1, one cell', () => {
  test('ran every job and the report (exit 0: FAIL and INCONCLUSIVE cells are results)', () => {
    expect(exitCode).toBe(0);
    expect(jobs).toEqual([HOST_JOB, 'kernel-6.1', 'report'].sort());
  });

  test('each job wrote a valid results.json with the cell asked for', () => {
    for (const job of jobs.filter((j) => j !== 'report')) {
      const results = resultsOf(job);
      expect(results.cells.map((c) => `${c.mechanism}×${c.workload}`), job).toEqual(['tracepoint×mprotect']);
      expect(results.options.maxTimeS, job).toBe(20);
      expect(results.latency, `${job}: --latency-cycles 0`).toBeUndefined();
    }
  });

  test("the guest measured a Debian 6.1 kernel, not the host's", () => {
    const guest = resultsOf('kernel-6.1').environment;
    const host = resultsOf(HOST_JOB).environment;
    expect(host.kernelRelease).toBe(release());
    expect(host.accel).toBeNull();
    expect(guest.kernelRelease).toMatch(/^6\.1\./);
    expect(guest.kernelRelease).not.toBe(host.kernelRelease);
    expect(guest.accel).toMatch(/^(kvm|tcg)$/);
  });

  test('the merged report exists and names both kernels', () => {
    const html = readFileSync(join(OUT, 'report', 'report.html'), 'utf8');
    expect(html).toContain(resultsOf('kernel-6.1').environment.kernelRelease);
    expect(html).toContain(release());
  });
});
