import { spawnSync } from 'node:child_process';
import { accessSync, constants, cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { register } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PersistentVolumeClaim, Pod } from 'kubernetes-models/v1';
import { Job } from 'kubernetes-models/batch/v1';
import { describe, expect, test } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';
import { repoRoot } from '../bench/repo.js';
import { syntheticResults } from './fixtures/reports-synthetic.js';

/**
 * The kernel matrix's deployment files, checked without running them: the workflow by GitHub's own
 * parser (@actions/workflow-parser: the workflow schema, expressions and the contexts each place
 * allows), every `run:` step a script of the repository, the scripts by bash -n and shellcheck and by
 * their input checks, the PR gate on synthetic results, and the Kubernetes manifests by the
 * Kubernetes 1.27 JSON schemas of kubernetes-models. Each validator is also shown to reject a broken
 * file, so a pass means something. Running the matrix for real is test/matrix.test.ts.
 */

const ROOT = repoRoot();
const WORKFLOW_PATH = '.github/workflows/kernel-matrix.yml';
const WORKFLOW = readFileSync(join(ROOT, WORKFLOW_PATH), 'utf8');
const SCRIPTS = ['scripts/matrix', 'deploy'].flatMap((dir) =>
  readdirSync(join(ROOT, dir)).filter((f) => f.endsWith('.sh')).map((f) => `${dir}/${f}`),
);

// @actions/workflow-parser imports its schema JSON without an import attribute, which the bundlers it
// is made for accept and Node refuses. This hook adds `type: 'json'` to that package's JSON imports
// only; it must be registered before the package is imported.
const JSON_ATTRIBUTE_HOOK = `export async function load(url, context, next) {
  if (url.includes('/@actions/workflow-parser/') && url.endsWith('.json')) {
    return next(url, { ...context, importAttributes: { ...context.importAttributes, type: 'json' } });
  }
  return next(url, context);
}`;
register(`data:text/javascript,${encodeURIComponent(JSON_ATTRIBUTE_HOOK)}`);
const { convertWorkflowTemplate, NoOperationTraceWriter, parseWorkflow } = await import('@actions/workflow-parser');

/** Every error GitHub's parser finds: YAML, schema, expressions, job graph. */
async function workflowErrors(content: string): Promise<string[]> {
  const parsed = parseWorkflow({ name: WORKFLOW_PATH, content }, new NoOperationTraceWriter());
  const parseErrors = parsed.context.errors.getErrors().map((e) => e.message);
  if (!parsed.value) return parseErrors;
  const template = await convertWorkflowTemplate(parsed.context, parsed.value);
  return [...new Set([...parseErrors, ...(template.errors ?? []).map((e) => e.Message)])];
}

interface Step {
  name?: string;
  uses?: string;
  run?: string;
  if?: string;
  with?: Record<string, unknown>;
}
interface WorkflowJob {
  if?: string;
  needs?: string | string[];
  strategy?: { matrix: Record<string, unknown> };
  steps: Step[];
}
const workflow = parse(WORKFLOW) as { on: Record<string, any>; jobs: Record<string, WorkflowJob> };

/** What is wrong with the workflow's run: steps: each must be one call of an executable script of the repository. */
function runStepProblems(w: { jobs: Record<string, WorkflowJob> }): string[] {
  return Object.entries(w.jobs).flatMap(([job, j]) =>
    j.steps.flatMap((step) => {
      if (step.run === undefined) return [];
      const line = step.run.trim();
      const script = /^(scripts\/matrix\/[a-z-]+\.sh)(\s|$)/.exec(line)?.[1];
      if (!script) return [`${job}: '${line}' is not a call of scripts/matrix/*.sh`];
      if (line.includes('${{')) return [`${job}: '${line}' pastes an expression into the shell (inputs go through env)`];
      if (/[\n;&|`]/.test(line)) return [`${job}: '${line}' is more than one command`];
      try {
        accessSync(join(ROOT, script), constants.X_OK);
      } catch {
        return [`${job}: ${script} is not an executable file of the repository`];
      }
      return [];
    }),
  );
}

const run = (cmd: string, args: string[], options: { env?: Record<string, string>; input?: string; cwd?: string } = {}) =>
  spawnSync(cmd, args, { cwd: options.cwd ?? ROOT, encoding: 'utf8', input: options.input, env: { ...process.env, ...options.env } });

describe('the kernel-matrix workflow', () => {
  test("GitHub's workflow parser accepts it", async () => {
    expect(await workflowErrors(WORKFLOW)).toEqual([]);
  });

  // Each a one-place change of the real file: proof that the check above can fail.
  test.each([
    ['a misspelt job key', 'timeout-minutes: 150', 'timeout-minute: 150', /Unexpected value 'timeout-minute'/],
    ['an unclosed expression call', 'fromJSON(needs.plan.outputs.kernels)', 'fromJSON(needs.plan.outputs.kernels', /Unexpected symbol: 'EOF'/],
    ['an unknown context', 'KERNELS: ${{ inputs.kernels }}', 'KERNELS: ${{ input.kernels }}', /Unrecognized named-value: 'input'/],
    ['an unknown function', 'fromJSON(needs.plan.outputs.hosts)', 'fromJSONList(needs.plan.outputs.hosts)', /Unrecognized function: 'fromJSONList'/],
    ['a dependency on a missing job', 'needs: [plan, kernel, host]', 'needs: [plan, kernel, hosts]', /Job 'report' depends on unknown job 'hosts'/],
    ['a wrong trigger', '  pull_request:\n', '  pull-request:\n', /Unexpected value 'pull-request'/],
  ])('the parser rejects %s', async (_what, from, to, error) => {
    expect(WORKFLOW).toContain(from);
    const errors = await workflowErrors(WORKFLOW.replace(from, to));
    expect(errors.join('\n')).toMatch(error);
  });

  test('triggers: workflow_dispatch with the matrix inputs, pull requests, pushes to main', () => {
    expect(Object.keys(workflow.on.workflow_dispatch.inputs)).toEqual(['kernels', 'hosts', 'mechanisms', 'workloads', 'max-time']);
    expect(workflow.on).toHaveProperty('pull_request');
    expect(workflow.on.push.branches).toEqual(['main']);
  });

  test('every run: step calls an executable script of the repository, with no expression pasted into the shell', () => {
    expect(runStepProblems(workflow)).toEqual([]);
    const steps = Object.values(workflow.jobs).flatMap((j) => j.steps.filter((s) => s.run !== undefined));
    expect(steps.length).toBeGreaterThanOrEqual(6);
  });

  test.each([
    ['an inline command', 'run: scripts/matrix/plan.sh', 'run: echo planning'],
    ['an input pasted into the shell', 'run: scripts/matrix/kernel.sh "$KERNEL"', 'run: scripts/matrix/kernel.sh "${{ matrix.kernel }}"'],
    ['a script that does not exist', 'run: scripts/matrix/host.sh', 'run: scripts/matrix/hosts.sh'],
    ['two commands in one step', 'run: scripts/matrix/report.sh matrix/report matrix', 'run: scripts/matrix/report.sh matrix/report matrix; ls'],
  ])('and that check rejects %s', (_what, from, to) => {
    expect(WORKFLOW).toContain(from);
    expect(runStepProblems(parse(WORKFLOW.replace(from, to)))).toHaveLength(1);
  });

  test('each measuring job uploads its results; the last job merges them, reports and gates pull requests on main', () => {
    const uses = (job: string) => workflow.jobs[job]!.steps.map((s) => s.uses ?? s.run);
    for (const job of ['kernel', 'host']) expect(uses(job).at(-1), job).toBe('actions/upload-artifact@v4');
    expect(workflow.jobs.kernel!.strategy!.matrix.kernel).toBe('${{ fromJSON(needs.plan.outputs.kernels) }}');
    expect(workflow.jobs.host!.if).toBe("needs.plan.outputs.hosts != '[]'");
    const report = workflow.jobs.report!.steps;
    expect(report.map((s) => s.uses ?? s.run)).toEqual([
      'actions/checkout@v4',
      'actions/setup-node@v4',
      'actions/download-artifact@v4',
      'scripts/matrix/report.sh matrix/report matrix',
      'actions/upload-artifact@v4',
      'scripts/matrix/base-run.sh',
      'actions/download-artifact@v4',
      'scripts/matrix/gate.sh base matrix',
      'actions/upload-artifact@v4',
    ]);
    expect(report[6]!.with).toMatchObject({ name: 'hookbench-matrix', 'run-id': '${{ steps.base.outputs.run-id }}', 'github-token': '${{ github.token }}' });
    expect(report[4]!.with).toMatchObject({ name: 'hookbench-matrix', path: 'matrix' });
  });
});

describe('the matrix scripts', () => {
  test('bash -n and shellcheck pass on every script', () => {
    expect(SCRIPTS.length).toBeGreaterThanOrEqual(8);
    for (const script of SCRIPTS) {
      const syntax = run('bash', ['-n', script]);
      expect(syntax.stderr, script).toBe('');
      expect(syntax.status, script).toBe(0);
    }
    const lint = run('shellcheck', ['-x', ...SCRIPTS]);
    expect(lint.error, 'shellcheck is installed by make setup').toBeUndefined();
    expect(lint.stdout).toBe('');
    expect(lint.status).toBe(0);
  });

  test('and both reject a broken script (an unquoted argument, an unclosed if)', () => {
    const lint = run('shellcheck', ['-'], { input: '#!/usr/bin/env bash\nrm -rf $1\n' });
    expect(lint.status).not.toBe(0);
    expect(lint.stdout).toContain('SC2086');
    expect(run('bash', ['-n'], { input: 'if true; then echo\n' }).status).not.toBe(0);
  });

  test('every script runs under set -euo pipefail (its own or lib.sh\'s)', () => {
    for (const script of SCRIPTS) {
      const text = readFileSync(join(ROOT, script), 'utf8');
      expect(/^set -euo pipefail$/m.test(text) || /^source "\$\(dirname "\$\{BASH_SOURCE\[0\]\}"\)\/lib\.sh"$/m.test(text), script).toBe(true);
    }
  });

  test('plan.sh turns the kernel and host lists into the matrices, as JSON', () => {
    const dir = mkdtempSync(join(tmpdir(), 'hookbench-plan-'));
    const output = join(dir, 'github_output');
    const plan = run('scripts/matrix/plan.sh', [], { env: { KERNELS: '6.1, 6.12 linux-image-6.1.0-57-amd64', HOSTS: 'big-box,arm.1', GITHUB_OUTPUT: output } });
    expect(plan.stderr).toContain('plan: kernels 6.1 6.12 linux-image-6.1.0-57-amd64; hosts big-box arm.1');
    expect(plan.status).toBe(0);
    const outputs = Object.fromEntries(readFileSync(output, 'utf8').trim().split('\n').map((l) => l.split(/=(.*)/s).slice(0, 2)));
    expect(JSON.parse(outputs.kernels)).toEqual(['6.1', '6.12', 'linux-image-6.1.0-57-amd64']);
    expect(JSON.parse(outputs.hosts)).toEqual(['big-box', 'arm.1']);
    const defaults = run('scripts/matrix/plan.sh', [], { env: { KERNELS: '', HOSTS: '', GITHUB_OUTPUT: '' } });
    expect(defaults.stdout).toBe('kernels=["6.1","6.12"]\nhosts=[]\n');
  });

  // Run from a copy of the scripts with no dist/ beside it and set-up marked done: were a check to let
  // one of these through, nothing could be measured, booted or installed.
  test.each([
    ['kernel.sh', ['6.1; id', 'out'], {}, /kernel must match/],
    ['kernel.sh', ['6.1', '--out'], {}, /OUTDIR must be a path not starting with '-'/],
    ['kernel.sh', ['6.1', 'out'], { ACCEL: 'hvf' }, /ACCEL must match/],
    ['host.sh', ['out'], { MECHANISMS: 'tracepoint $(id)' }, /MECHANISMS must match/],
    ['host.sh', ['out'], { WORKLOADS: 'mprotect,' }, /WORKLOADS must match/],
    ['host.sh', ['out'], { MAX_TIME: '1e3' }, /MAX_TIME must match/],
    ['host.sh', ['out'], { LATENCY_CYCLES: '-1' }, /LATENCY_CYCLES must match/],
    ['host.sh', [], {}, /usage: host.sh OUTDIR/],
    ['plan.sh', [], { KERNELS: '6.1 `id`' }, /kernel must match/],
    ['plan.sh', [], { KERNELS: '*' }, /kernel must match .* got '\*'/],
    ['plan.sh', [], { HOSTS: 'runner "x"' }, /host runner label must match/],
    ['local.sh', [], { HOST: 'yes' }, /HOST must match/],
    ['local.sh', [], { MATRIX_OUT: '-rf' }, /MATRIX_OUT must be a path/],
    ['report.sh', ['out', '/nonexistent'], {}, /\/nonexistent is not a directory/],
    ['gate.sh', ['base', 'new'], {}, /BASE and NEW must be directories/],
  ] as [string, string[], Record<string, string>, RegExp][])('%s %j %j is refused (exit 2) before it does anything', (script, args, env, message) => {
    const sandbox = mkdtempSync(join(tmpdir(), 'hookbench-scripts-'));
    cpSync(join(ROOT, 'scripts/matrix'), join(sandbox, 'scripts/matrix'), { recursive: true });
    const result = run(join(sandbox, 'scripts/matrix', script), args, { cwd: sandbox, env: { MATRIX_SETUP_DONE: '1', GITHUB_OUTPUT: '', ...env } });
    expect(result.stderr).toMatch(message);
    expect(result.status).toBe(2);
    expect(readdirSync(sandbox)).toEqual(['scripts']);
  });

  test('job-for-node.sh refuses a node name or image that is not one', () => {
    for (const [node, image] of [['Node_1', 'r/h:1'], ['n;id', 'r/h:1'], ['a'.repeat(54), 'r/h:1'], ['node-1', 'r/h:1 | x'], ['node-1', '']]) {
      const result = run('deploy/job-for-node.sh', [node!], { env: { IMAGE: image! } });
      expect(result.status, `${node} ${image}`).toBe(2);
      expect(result.stdout).toBe('');
    }
  });
});

describe('the pull-request gate (gate.sh, hookbench compare per job)', () => {
  // SYNTHETIC results (test/fixtures/reports-synthetic.ts): made-up numbers, no measurement.
  const cells = { mechanisms: ['tracepoint'], workloads: ['mprotect'] };
  function matrixDir(jobs: Record<string, object>): string {
    const dir = mkdtempSync(join(tmpdir(), 'hookbench-gate-'));
    for (const [job, results] of Object.entries(jobs)) {
      // A kernel job's results sit one level down, named after the package, which differs run to run.
      const resultsDir = join(dir, job, `linux-image-${Math.random().toString(36).slice(2)}`);
      mkdirSync(resultsDir, { recursive: true });
      writeFileSync(join(resultsDir, 'results.json'), JSON.stringify(results));
    }
    mkdirSync(join(dir, 'report'));
    return dir;
  }
  const gate = (base: string, next: string) => run('scripts/matrix/gate.sh', [base, next], { env: { MATRIX_SETUP_DONE: '1' } });

  test('a job whose cell regressed fails the gate (exit 1); a job without a baseline is not gated', () => {
    const base = matrixDir({ 'kernel-6.1': syntheticResults(cells) });
    const next = matrixDir({ 'kernel-6.1': syntheticResults({ ...cells, shiftPp: 10 }), 'kernel-6.12': syntheticResults(cells) });
    const result = gate(base, next);
    expect(result.stdout).toContain('gate: kernel-6.1 regressed');
    expect(result.stdout).toContain(`gate: kernel-6.12 has no baseline in ${base}: not gated`);
    expect(result.stdout).toContain('gate: 1 job(s) compared');
    expect(result.status).toBe(1);
    expect(existsSync(join(next, 'compare/kernel-6.1/compare.md'))).toBe(true);
  }, 60_000);

  test('the same results pass it (exit 0)', () => {
    const same = syntheticResults(cells);
    const result = gate(matrixDir({ 'kernel-6.1': same }), matrixDir({ 'kernel-6.1': same }));
    expect(result.stdout).toContain('gate: 1 job(s) compared');
    expect(result.status).toBe(0);
  }, 60_000);
});

describe('the Kubernetes example', () => {
  type Manifest = { apiVersion: string; kind: string } & Record<string, any>;
  const MODELS: Record<string, new (data: any) => { validate(): void }> = {
    'batch/v1 Job': Job,
    'v1 PersistentVolumeClaim': PersistentVolumeClaim,
    'v1 Pod': Pod,
  };
  /** Throws what the Kubernetes schema says is wrong with a manifest. */
  function validate(manifest: Manifest): void {
    const Model = MODELS[`${manifest.apiVersion} ${manifest.kind}`];
    if (!Model) throw new Error(`no schema here for ${manifest.apiVersion} ${manifest.kind}`);
    new Model(manifest).validate();
  }
  const manifests = (text: string): Manifest[] => parseAllDocuments(text).map((d) => d.toJS() as Manifest);

  const rendered = run('deploy/job-for-node.sh', ['node-1.example'], { env: { IMAGE: 'registry.example.com/hookbench:abc123' } });
  const [job] = manifests(rendered.stdout);
  const pod = job!.spec.template.spec;
  const container = pod.containers[0];
  const mounted = (path: string) => {
    const mount = container.volumeMounts.find((m: any) => m.mountPath === path);
    return mount && { ...mount, volume: pod.volumes.find((v: any) => v.name === mount.name) };
  };

  test('job-for-node.sh renders a Job that the Kubernetes schema accepts', () => {
    expect(rendered.status).toBe(0);
    expect(rendered.stdout).not.toContain('__');
    expect(() => validate(job!)).not.toThrow();
    expect(job!.metadata.name).toBe('hookbench-node-1.example');
    expect(container.image).toBe('registry.example.com/hookbench:abc123');
  });

  test('the other manifests are valid too', () => {
    const docs = manifests(readFileSync(join(ROOT, 'deploy/hookbench-results.yaml'), 'utf8'));
    expect(docs.map((d) => d.kind)).toEqual(['PersistentVolumeClaim', 'Pod']);
    for (const doc of docs) expect(() => validate(doc), doc.kind).not.toThrow();
  });

  // The schema accepts unknown fields, so a misspelt field would pass it: the fields hookbench needs
  // are asserted where Kubernetes reads them.
  test('the pod runs host.sh on the chosen node, privileged, with the host pids and hookbench\'s mounts', () => {
    expect(pod.nodeSelector).toEqual({ 'kubernetes.io/hostname': 'node-1.example' });
    expect(pod.hostPID).toBe(true);
    expect(pod.restartPolicy).toBe('Never');
    expect(container.securityContext.privileged).toBe(true);
    expect(container.command).toEqual(['scripts/matrix/host.sh']);
    for (const path of ['/sys/kernel/tracing', '/sys/kernel/debug', '/sys/fs/bpf', '/lib/modules', '/run/hookbench']) {
      expect(mounted(path)?.volume?.hostPath?.path, path).toBe(path);
    }
    expect(mounted('/lib/modules').readOnly).toBe(true);
    expect(mounted('/run/hookbench').readOnly).toBeUndefined();
    expect(mounted('/results').volume.persistentVolumeClaim.claimName).toBe('hookbench-results');
    expect(container.args).toEqual(['/results/$(POD_NAME)']);
  });

  test.each([
    ['privileged as a string', (j: any) => (j.spec.template.spec.containers[0].securityContext.privileged = 'yes'), /privileged must be boolean/],
    ['a hostPath without its path', (j: any) => delete j.spec.template.spec.volumes[0].hostPath.path, /hostPath must have required property path/],
    ['a mount without its mountPath', (j: any) => delete j.spec.template.spec.containers[0].volumeMounts[0].mountPath, /volumeMounts\/0 must have required property mountPath/],
    ['an unknown restart policy', (j: any) => (j.spec.template.spec.restartPolicy = 'Sometimes'), /restartPolicy must be equal to one of the allowed values/],
  ])('the schema check rejects %s', (_what, breakIt, message) => {
    const broken = structuredClone(job!);
    breakIt(broken);
    expect(() => validate(broken)).toThrow(message);
  });

  test('the image is Debian 12 with hookbench set up by make setup', () => {
    const dockerfile = readFileSync(join(ROOT, 'deploy/Dockerfile'), 'utf8');
    expect(dockerfile.match(/^FROM .*$/gm)?.at(-1)).toBe('FROM debian:12');
    expect(dockerfile).toMatch(/^RUN make setup/m);
  });
});
