/**
 * Progress output for the CLI: a redrawn progress bar on a terminal, and nothing but whole lines when the
 * output is a file or a pipe (CI logs stay readable). There a step that goes on for long (an epoch, the
 * IWAE bound over 1 000 test images) gets one line every `lineEveryMs` (30 s), so a log never sits still
 * for minutes; a step shorter than that prints nothing extra.
 */
export interface ProgressOptions {
  /** Off a terminal: how often a long step prints a line of where it is, in ms. */
  lineEveryMs?: number;
  /** The clock (ms), for tests. */
  now?: () => number;
}

export class ProgressPrinter {
  private barShown = false;
  private lastDraw = 0;
  /** The step that is running (off a terminal): its label, when it began and when it last printed a line. */
  private current: { label: string; started: number; lastLine: number } | undefined;
  private readonly lineEveryMs: number;
  private readonly now: () => number;

  constructor(
    private readonly out: NodeJS.WriteStream,
    options: ProgressOptions = {},
  ) {
    this.lineEveryMs = options.lineEveryMs ?? 30_000;
    this.now = options.now ?? Date.now;
  }

  step(epoch: number, epochs: number, step: number, steps: number, loss: number): void {
    this.progress(`epoch ${epoch}/${epochs}`, step, steps, "steps", `loss ${loss.toFixed(2)}`);
  }

  /**
   * Where a long step that is not training stands (the test ELBO, the IWAE bound): `done` of `total` `unit`
   * (e.g. "images"). On a terminal a bar with the time left; elsewhere a line every lineEveryMs.
   */
  task(label: string, done: number, total: number, unit = "images"): void {
    this.progress(label, done, total, unit, "");
  }

  private progress(label: string, done: number, total: number, unit: string, extra: string): void {
    const now = this.now();
    if (this.current?.label !== label) this.current = { label, started: now, lastLine: now };
    const elapsed = (now - this.current.started) / 1000;
    // The time left, by the pace so far, once there is a pace to go by.
    const eta = done > 0 && done < total && elapsed >= 2 ? `~${Math.ceil((elapsed * (total - done)) / done)} s left` : "";
    if (!this.out.isTTY) {
      if (now - this.current.lastLine < this.lineEveryMs) return;
      this.current.lastLine = now;
      this.out.write(`${label}: ${done}/${total} ${unit}${extra ? `, ${extra}` : ""} (${elapsed.toFixed(0)} s${eta ? `, ${eta}` : ""})\n`);
      return;
    }
    if (done !== total && now - this.lastDraw < 100) return;
    this.lastDraw = now;
    const width = 30;
    const filled = Math.round((width * done) / total);
    this.out.write(`\r\x1b[2K${label} [${"#".repeat(filled)}${"-".repeat(width - filled)}] ${done}/${total}${extra ? `  ${extra}` : ""}${eta ? `  ${eta}` : ""}`);
    this.barShown = true;
  }

  /** End a progress bar left on screen (before an error message). */
  end(): void {
    if (this.barShown) this.out.write("\r\x1b[2K");
    this.barShown = false;
  }

  line(text: string): void {
    if (this.barShown) this.out.write("\r\x1b[2K");
    this.barShown = false;
    this.current = undefined;
    this.out.write(text + "\n");
  }
}
