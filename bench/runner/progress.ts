/**
 * One status line on stderr: rewritten in place on a terminal, printed at most every few seconds
 * otherwise (CI logs), with the elapsed time of the whole run.
 */
export class Progress {
  private readonly started = Date.now();
  private phase = '';
  private lastPrinted = 0;
  private lastLine = '';
  private readonly interactive = process.stderr.isTTY === true;

  /** A new step: printed on its own line, and kept above the status line. */
  step(title: string): void {
    this.phase = title;
    this.clear();
    process.stderr.write(`[${this.elapsed()}] ${title}\n`);
  }

  /** The current step's status (counts so far); cheap to call often. */
  update(status: string): void {
    const line = `[${this.elapsed()}] ${this.phase}: ${status}`;
    if (this.interactive) {
      process.stderr.write(`\r\x1b[2K${line.slice(0, (process.stderr.columns ?? 120) - 1)}`);
      this.lastLine = line;
    } else if (Date.now() - this.lastPrinted > 5_000) {
      process.stderr.write(`${line}\n`);
      this.lastPrinted = Date.now();
    }
  }

  /** A result worth keeping in the log. */
  note(message: string): void {
    this.clear();
    process.stderr.write(`    ${message}\n`);
  }

  private clear(): void {
    if (this.interactive && this.lastLine) process.stderr.write('\r\x1b[2K');
    this.lastLine = '';
  }

  private elapsed(): string {
    const seconds = Math.floor((Date.now() - this.started) / 1000);
    return `${String(Math.floor(seconds / 60)).padStart(2, '0')}:${String(seconds % 60).padStart(2, '0')}`;
  }
}
