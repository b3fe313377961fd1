/**
 * Progress output for the CLI: a redrawn progress bar on a terminal, and nothing but whole lines when the
 * output is a file or a pipe (CI logs stay readable).
 */
export class ProgressPrinter {
  private barShown = false;
  private lastDraw = 0;
  constructor(private readonly out: NodeJS.WriteStream) {}

  step(epoch: number, epochs: number, step: number, steps: number, loss: number): void {
    if (!this.out.isTTY) return;
    const now = Date.now();
    if (step !== steps && now - this.lastDraw < 100) return;
    this.lastDraw = now;
    const width = 30;
    const filled = Math.round((width * step) / steps);
    this.out.write(`\r\x1b[2Kepoch ${epoch}/${epochs} [${"#".repeat(filled)}${"-".repeat(width - filled)}] ${step}/${steps}  loss ${loss.toFixed(2)}`);
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
    this.out.write(text + "\n");
  }
}
