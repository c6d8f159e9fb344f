/**
 * The one progress renderer of every subcommand, on stderr.
 *
 * On a terminal: one line redrawn in place (at most 10 times a second) with a bar, the count,
 * the rate or the loss, elapsed time and ETA; notes print above it. Not on a terminal (a log, CI):
 * the label line, then a plain line with the same text every `plainEveryMs` (default 5 s) and at
 * the end of the total, and the notes. `enabled: false` prints nothing but notes.
 */
export interface ProgressOptions {
  /** Print the bar (or the plain lines); notes print regardless. */
  enabled: boolean;
  /** Formats the amount done, e.g. `120/300 iterations` or `12.0 MB / 80.0 MB`. */
  format: (done: number, total: number | null) => string;
  /** Not on a terminal: the interval between plain lines, in ms (default 5000). */
  plainEveryMs?: number;
}

export class Progress {
  /** The run's total units (null: unknown); may be set once it becomes known. */
  total: number | null = null;
  private startedAt = 0;
  private lastDraw = 0;
  private lastPlain = -Infinity;
  private drawn = false;
  private readonly tty: boolean;

  constructor(private readonly out: NodeJS.WriteStream, private readonly opts: ProgressOptions) {
    this.tty = Boolean(out.isTTY);
  }

  /** Starts a run of `total` units (null: unknown) with a label line. */
  start(total: number | null, label: string): void {
    this.total = total;
    this.startedAt = Date.now();
    this.lastPlain = -Infinity;
    if (this.opts.enabled) this.note(label);
  }

  /**
   * @param done units done so far
   * @param detail what else to show, e.g. `iteration 12, loss 1.234e+5` or `at 3.1 MB/s`
   */
  update(done: number, detail: string): void {
    if (!this.opts.enabled) return;
    const now = Date.now();
    const elapsed = (now - this.startedAt) / 1000;
    const total = this.total;
    const eta = total && done > 0 ? (elapsed / done) * (total - done) : NaN;
    const text = `${this.opts.format(done, total)}  ${detail}  ${fmtTime(elapsed)} elapsed${total ? `, ETA ${fmtTime(eta)}` : ''}`;
    if (!this.tty) {
      if (now - this.lastPlain >= (this.opts.plainEveryMs ?? 5000) || (total !== null && done >= total)) {
        this.lastPlain = now;
        this.out.write(`${text}\n`);
      }
      return;
    }
    if (now - this.lastDraw < 100 && (total === null || done < total)) return;
    this.lastDraw = now;
    const width = 28;
    const filled = total ? Math.round(Math.min(1, done / total) * width) : 0;
    const bar = total ? `${'█'.repeat(filled)}${'░'.repeat(width - filled)} ` : '';
    this.out.write(`\r${bar}${text}\x1b[K`);
    this.drawn = true;
  }

  /** Prints a line (above the bar on a terminal). */
  note(message: string): void {
    if (this.drawn && this.tty) this.out.write('\r\x1b[K');
    this.out.write(`${message}\n`);
  }

  /** Ends the bar's line. */
  finish(): void {
    if (this.drawn && this.tty) this.out.write('\n');
    this.drawn = false;
  }
}

function fmtTime(s: number): string {
  if (!Number.isFinite(s)) return '--';
  const m = Math.floor(s / 60);
  const sec = Math.round(s % 60);
  return m ? `${m}m${String(sec).padStart(2, '0')}s` : `${sec}s`;
}
