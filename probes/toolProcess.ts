import { spawn, type ChildProcess, type StdioOptions } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { processStartTime, type Journal } from './journal.js';
import type { JournaledChange } from './bpfStats.js';

/** A long-running tool hookbench started (bpftrace, the bare BPF loader), journaled so a SIGKILLed run's cleanup ends it. */
export interface ToolProcess {
  child: ChildProcess;
  /** Null when the tool could not be spawned at all. */
  process: JournaledChange | null;
  /** Resolves on 'close', not 'exit': by then all of stderr has been read, so a failure's reason is complete. */
  exited: Promise<void>;
}

/** Spawns `command` (never through a shell) and journals its process right away. */
export function spawnJournaled(command: string, args: readonly string[], stdio: StdioOptions, journal: Journal): ToolProcess {
  const child = spawn(command, args, { stdio });
  const exited = new Promise<void>((resolve) => {
    child.once('close', () => resolve());
    child.once('error', () => resolve());
  });
  const pid = child.pid;
  if (pid === undefined) return { child, process: null, exited };
  const entry = { kind: 'process' as const, pid, startTime: processStartTime(pid) ?? '', comm: commOf(pid, command) };
  return { child, process: { id: journal.add(entry), entry }, exited };
}

/** Why a spawn without a pid failed (ENOENT, EACCES): its 'error' event. */
export const spawnError = (child: ChildProcess): Promise<Error> => new Promise<Error>((resolve) => child.once('error', resolve));

function commOf(pid: number, command: string): string {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return command.split('/').at(-1)!.slice(0, 15);
  }
}

/** A tool's stdout, one parsed message a line (lines `parse` rejects are skipped), handed to whoever waits for one. */
export class ToolOutput<M> {
  private readonly waiting = new Set<(m: M) => void>();

  constructor(
    child: ChildProcess,
    parse: (line: string) => M | undefined,
    private readonly tool: string,
  ) {
    createInterface({ input: child.stdout! }).on('line', (line) => {
      const m = parse(line);
      if (m === undefined) return;
      for (const deliver of [...this.waiting]) deliver(m);
    });
  }

  /** The next message `wanted` maps to a value; register before provoking it. */
  next<T>(wanted: (m: M) => T | undefined, exited: Promise<unknown>, timeoutMs: number, what: string): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const done = () => {
        this.waiting.delete(deliver);
        clearTimeout(timer);
      };
      const deliver = (m: M) => {
        const value = wanted(m);
        if (value === undefined) return;
        done();
        resolve(value);
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`${this.tool}: no ${what} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiting.add(deliver);
      void exited.then(() => {
        done();
        reject(new Error(`${this.tool} exited before ${what}`));
      });
    });
  }
}
