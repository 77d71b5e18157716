import { relative } from 'node:path';
import type { Reporter, TestModule } from 'vitest/node';
import { auditEnabledSinceBoot } from '../probes/audit.js';

/**
 * What the end of a test run must tell its reader. First, every test skipped at run time, with its reason. Tests follow the kernel they run on, so such
 * a skip is information ("kprobe is unsupported on this kernel: ..."), given by `ctx.skip(reason)`; one
 * without a reason would be a silent pass in disguise, and fails the run. Tests not selected (`-t`, a
 * file filter) are only counted: the suite has no static skips.
 */
export default class EndReporter implements Reporter {
  async onTestRunEnd(testModules: ReadonlyArray<TestModule>): Promise<void> {
    this.printSkips(testModules);
    await printAuditNote();
    printFailures(testModules);
  }

  private printSkips(testModules: ReadonlyArray<TestModule>): void {
    const skips: { where: string; note: string | undefined }[] = [];
    let notSelected = 0;
    for (const module of testModules) {
      for (const test of module.children.allTests()) {
        const result = test.result();
        if (result.state !== 'skipped') continue;
        if (test.options.mode !== 'run') notSelected++;
        else skips.push({ where: `${relative(process.cwd(), module.moduleId)} > ${test.fullName}`, note: result.note });
      }
    }
    const unexplained = skips.filter((s) => !s.note).length;
    const lines = skips.map((s) => `  ${s.where}\n      ${s.note ?? 'NO REASON GIVEN (a skip must say why: ctx.skip(reason))'}`);
    const selection = notSelected > 0 ? `; ${notSelected} not selected` : '';
    process.stdout.write(`\nskipped on this kernel: ${skips.length}${selection}\n${lines.join('\n')}\n`);
    if (unexplained > 0) process.exitCode = 1;
  }
}

/**
 * Last, the failures again, one line each: vitest details them above the skip list, which can run to
 * hundreds of lines, so a reader of only the output's tail (a CI log cut to its end) would see skips and
 * "Error 1" and not what failed.
 */
function printFailures(testModules: ReadonlyArray<TestModule>): void {
  const failures: string[] = [];
  for (const module of testModules) {
    const file = relative(process.cwd(), module.moduleId);
    for (const suite of [module, ...module.children.allSuites()]) {
      for (const error of suite.errors()) failures.push(`  ${file}${suite === module ? '' : ` > ${(suite as { fullName: string }).fullName}`}: ${firstLine(error.message)}`);
    }
    for (const test of module.children.allTests()) {
      const result = test.result();
      if (result.state === 'failed') failures.push(`  ${file} > ${test.fullName}\n      ${firstLine(result.errors?.[0]?.message)}`);
    }
  }
  if (failures.length > 0) process.stdout.write(`\nFAILED: ${failures.length}\n${failures.join('\n')}\n`);
}

const firstLine = (message: string | undefined): string => (message ?? 'no error message').split('\n')[0]!.slice(0, 300);

/**
 * Then audit: the tests enable it on this kernel, and that cannot be undone before reboot (every task
 * created afterwards carries an audit context). Benchmarks run later in this boot measure a slower
 * syscall path; `hookbench run` notes it in its results too.
 */
async function printAuditNote(): Promise<void> {
  if (!(await auditEnabledSinceBoot())) return;
  process.stdout.write(
    '\nnote: audit has been enabled on this kernel since boot (these tests enable it): until reboot every new task carries an audit context, so `make bench` run now measures a slower syscall path than a freshly booted machine (its results say so).\n',
  );
}
