/** Input or environment the user can fix: the CLI prints the message on one line and exits 2. */
export class UsageError extends Error {}

/** The run was interrupted by a signal; `code` is the exit code to leave with (130 SIGINT, 143 SIGTERM). */
export class InterruptedError extends Error {
  constructor(readonly signal: NodeJS.Signals) {
    super(`interrupted by ${signal}`);
  }
  get exitCode(): number {
    return this.signal === 'SIGINT' ? 130 : 143;
  }
}
