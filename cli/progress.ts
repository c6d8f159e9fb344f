/**
 * A one-line progress bar for a terminal: evaluations done of the budget, the loss, elapsed time
 * and ETA. When the stream is not a TTY (a pipe, a log file) it prints nothing but notes.
 */
export class Progress {
  private total = 0;
  private startedAt = 0;
  private lastDraw = 0;
  private drawn = false;
  private readonly tty: boolean;

  constructor(private readonly out: NodeJS.WriteStream, private readonly enabled: boolean) {
    this.tty = Boolean(out.isTTY);
  }

  start(total: number, label: string): void {
    this.total = total;
    this.startedAt = Date.now();
    if (this.enabled) this.out.write(`${label}\n`);
  }

  /**
   * @param done evaluations used so far (the bar's unit: the budget counts evaluations)
   * @param loss the current total loss
   * @param iteration the optimiser's iteration
   */
  update(done: number, loss: number, iteration: number): void {
    if (!this.enabled || !this.tty) return;
    const now = Date.now();
    if (now - this.lastDraw < 100 && done < this.total) return;
    this.lastDraw = now;
    const width = 28;
    const frac = Math.min(1, done / this.total);
    const filled = Math.round(frac * width);
    const elapsed = (now - this.startedAt) / 1000;
    const eta = done > 0 ? (elapsed / done) * (this.total - done) : NaN;
    const bar = '█'.repeat(filled) + '░'.repeat(width - filled);
    this.out.write(`\r${bar} iteration ${iteration}, ${done}/${this.total} evaluations  loss ${loss.toExponential(3)}  ${fmtTime(elapsed)} elapsed, ETA ${fmtTime(eta)}\x1b[K`);
    this.drawn = true;
  }

  /** Prints a line above the bar. */
  note(message: string): void {
    if (this.drawn && this.tty) this.out.write('\r\x1b[K');
    this.out.write(`${message}\n`);
  }

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
