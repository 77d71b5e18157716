import { spawn, spawnSync } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { ConsoleLines } from './consoleLines.js';
import { QEMU_BINARY } from './qemu.js';

export interface QemuOutcome {
  /** qemu's exit code; null when it was killed. */
  exitCode: number | null;
  timedOut: boolean;
  /** Killed because the host process got SIGINT or SIGTERM. */
  interrupted: boolean;
  /** Killed because onLine asked to stop. */
  stopped: boolean;
  /** The last console lines (guest serial and qemu's own stderr). */
  tail: string[];
}

export interface QemuRunOptions {
  /** Every byte qemu prints goes here. */
  consoleLog: string;
  timeoutS: number;
  /** Called per console line with seconds since qemu started; return 'stop' to kill qemu. */
  onLine?: (line: string, elapsedS: number) => 'stop' | void;
  tailLines?: number;
}

const HOST_SIGNALS = ['SIGINT', 'SIGTERM'] as const;

function hasSetpriv(): boolean {
  return !spawnSync('setpriv', ['--version']).error;
}

/**
 * setpriv's parent-death signal kills qemu even when the host process dies by SIGKILL, which no
 * handler in node can see. Without setpriv the signal handlers below still cover SIGINT/SIGTERM.
 */
function commandLine(args: string[]): [string, string[]] {
  return hasSetpriv() ? ['setpriv', ['--pdeathsig', 'KILL', '--', QEMU_BINARY, ...args]] : [QEMU_BINARY, args];
}

/**
 * Runs qemu to its end, teeing its output into the console log. No qemu survives this call: on
 * timeout, on stop, on SIGINT/SIGTERM of this process, it is SIGKILLed and waited for.
 */
export function runQemu(args: string[], opts: QemuRunOptions): Promise<QemuOutcome> {
  const tailLines = opts.tailLines ?? 40;
  const log = createWriteStream(opts.consoleLog);
  const [cmd, argv] = commandLine(args);
  const child = spawn(cmd, argv, { stdio: ['ignore', 'pipe', 'pipe'] });
  const started = process.hrtime.bigint();
  const tail: string[] = [];
  const state = { timedOut: false, interrupted: false, stopped: false };
  const kill = (): void => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  };

  const onSignal = (signal: NodeJS.Signals): void => {
    state.interrupted = true;
    kill();
    // Re-raise once qemu is gone, unless someone else (the runner) handles the signal too.
    child.once('close', () => {
      if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
    });
    removeHandlers();
  };
  const removeHandlers = (): void => HOST_SIGNALS.forEach((s) => process.removeListener(s, onSignal));
  HOST_SIGNALS.forEach((s) => process.on(s, onSignal));

  const timer = setTimeout(() => {
    state.timedOut = true;
    kill();
  }, opts.timeoutS * 1000);

  const takeLine = (line: string): void => {
    tail.push(line);
    if (tail.length > tailLines) tail.shift();
    const elapsedS = Number(process.hrtime.bigint() - started) / 1e9;
    if (opts.onLine?.(line, elapsedS) === 'stop') {
      state.stopped = true;
      kill();
    }
  };
  const lines = new ConsoleLines();
  const onData = (chunk: Buffer): void => {
    log.write(chunk);
    lines.push(chunk).forEach(takeLine);
  };
  child.stdout.on('data', onData);
  child.stderr.on('data', onData);

  return new Promise((resolve, reject) => {
    child.once('error', (err) => {
      clearTimeout(timer);
      removeHandlers();
      log.end();
      reject(err);
    });
    child.once('close', (code) => {
      clearTimeout(timer);
      removeHandlers();
      lines.end().forEach(takeLine);
      log.end(() => resolve({ exitCode: code, ...state, tail }));
    });
  });
}
