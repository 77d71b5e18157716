import { StringDecoder } from 'node:string_decoder';

/** A console line without carriage returns and the terminal escapes SeaBIOS and the kernel emit. */
export const printable = (line: string): string => line.replace(/\x1b(\[[0-9;?]*[A-Za-z]|c)/g, '').replace(/\r/g, '');

/**
 * Cuts a console byte stream into printable lines. A UTF-8 character (the runner's "×") or a line can
 * straddle two chunks, so both are carried over to the next one.
 */
export class ConsoleLines {
  private readonly decoder = new StringDecoder('utf8');
  private partial = '';

  /** The lines this chunk completes. */
  push(chunk: Buffer): string[] {
    const lines = (this.partial + this.decoder.write(chunk)).split('\n');
    this.partial = lines.pop() ?? '';
    return lines.map(printable);
  }

  /** The unterminated last line, if any, once the stream has ended. */
  end(): string[] {
    const rest = this.partial + this.decoder.end();
    this.partial = '';
    return rest ? [printable(rest)] : [];
  }
}
