/**
 * Ctrl-C (SIGINT), SIGTERM and SIGHUP for the CLI: the first signal asks the running command to stop
 * (it finishes cleanly: says it was interrupted, keeps earlier outputs, shuts kernels down); a second one
 * stops the process at once, which is safe because outputs are only ever replaced atomically.
 * The exit code is 128 + the signal's number, as a shell reports a process killed by it.
 *
 * "At once" even in the middle of a long computation: a JavaScript handler runs only when the event loop is
 * free, so after the first signal the handlers are removed and a second signal takes its default action,
 * ending the process in the kernel. A command whose main thread stays free and that must tidy up after a
 * second signal too (`notebooks`, which shuts its kernel down) asks for `{ secondAtOnce: false }`: its handler
 * then stays, and a second signal prints a line and exits from JavaScript.
 */
import * as os from "os";

const SIGNALS = ["SIGINT", "SIGTERM", "SIGHUP"] as const;

export function exitCodeOf(signal: string): number {
  const n = (os.constants.signals as Record<string, number>)[signal];
  return n ? 128 + n : 1;
}

/** A command stopped by a signal: main() exits with 128 + the signal's number. */
export class InterruptedError extends Error {
  constructor(
    readonly signalName: string,
    message: string,
  ) {
    super(message);
    this.name = "InterruptedError";
  }
}

/**
 * Run a command that computes and then writes (sample, encode, export) so that a signal stops it between
 * two chunks of work: `checkpoint()` lets pending signal handlers run and, after the first signal, throws an
 * InterruptedError saying that nothing was written. Its writes are single atomic renames made in synchronous
 * code, which a signal handler cannot cut in half, so an interrupted command leaves no partial or temporary file.
 */
export async function interruptible<T>(what: string, run: (checkpoint: () => Promise<void>) => Promise<T>): Promise<T> {
  let signal: string | undefined;
  const release = onInterrupt((s) => (signal = s));
  const checkpoint = async () => {
    await new Promise((r) => setImmediate(r));
    if (signal) throw new InterruptedError(signal, `interrupted by ${signal} while ${what}; nothing written`);
  };
  try {
    return await run(checkpoint);
  } finally {
    release();
  }
}

/** Call `stop` on the first of these signals; returns a function that removes the handlers. */
export function onInterrupt(stop: (signal: string) => void, options: { secondAtOnce?: boolean } = {}): () => void {
  const { secondAtOnce = true } = options;
  let seen = false;
  const remove = () => {
    for (const s of SIGNALS) process.off(s, handler);
  };
  function handler(signal: NodeJS.Signals): void {
    if (seen) {
      if (process.stderr.isTTY) process.stderr.write("\r\x1b[2K");
      process.stderr.write(`vae-lab: interrupted by ${signal} again; stopped at once\n`);
      process.exit(exitCodeOf(signal));
    }
    seen = true;
    if (secondAtOnce) remove(); // the next signal ends the process in the kernel, busy or not
    stop(signal);
  }
  for (const s of SIGNALS) process.on(s, handler);
  return remove;
}
