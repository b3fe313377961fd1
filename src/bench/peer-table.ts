/**
 * The side-by-side table of `vae-lab bench --peers`: one row per framework that ran the epoch, with seconds
 * per epoch, CPU seconds, images per second, the test −ELBO after it, and the ratio to the fastest run of the
 * same thread setting; pure functions of the measured rows, so that the table can be tested without running
 * anything.
 */

/** "one": every framework on one thread; "default": each at its own default (vae-lab is on one thread in both). */
export type ThreadSetting = "one" | "default";

export interface PeerRow {
  /** Who ran it ("vae-lab (wasm)", "PyTorch 2.13.0+cpu eager", …). */
  name: string;
  threads: ThreadSetting;
  /** Threads the framework said it uses (torch.get_num_threads(), …), where known. */
  threadCount?: number;
  secondsPerEpoch: number;
  cpuSecondsPerEpoch?: number;
  /** The test −ELBO after the timed steps (nats per image); absent where not measured. */
  testLoss?: number;
  /** Compile / trace / warm-up time outside the timing. */
  warmupSeconds?: number;
}

const TRAIN_IMAGES = 60000;

/** Each row's time over the fastest time among the rows of its thread setting (1 for the fastest). */
export function ratiosToFastest(rows: readonly PeerRow[]): number[] {
  const fastest = new Map<ThreadSetting, number>();
  for (const r of rows) {
    if (!(r.secondsPerEpoch > 0 && Number.isFinite(r.secondsPerEpoch))) continue;
    fastest.set(r.threads, Math.min(fastest.get(r.threads) ?? Infinity, r.secondsPerEpoch));
  }
  return rows.map((r) => {
    const f = fastest.get(r.threads);
    return f === undefined || !(r.secondsPerEpoch > 0 && Number.isFinite(r.secondsPerEpoch)) ? NaN : r.secondsPerEpoch / f;
  });
}

/** Images per second of an epoch of 60 000 images taking `secondsPerEpoch`. */
export function imagesPerSecond(secondsPerEpoch: number): number {
  return TRAIN_IMAGES / secondsPerEpoch;
}

const HEADER = ["", "threads", "s / epoch", "CPU s / epoch", "images/s", "test −ELBO", "× fastest", "warm-up s"];

/**
 * The table as lines of a Markdown table (readable in a terminal and pasted as it is into docs/speed.md):
 * rows in the order given, grouped by thread setting (one thread first), the fastest of each group in bold.
 */
export function formatPeerTable(rows: readonly PeerRow[]): string[] {
  const ratios = ratiosToFastest(rows);
  const order = rows.map((r, i) => i).sort((a, b) => (rows[a].threads === rows[b].threads ? a - b : rows[a].threads === "one" ? -1 : 1));
  const cells = order.map((i) => {
    const r = rows[i];
    const ratio = ratios[i];
    const best = ratio === 1;
    const threads = r.threads === "one" ? "1" : `default${r.threadCount ? ` (${r.threadCount})` : ""}`;
    return [
      best ? `**${r.name}**` : r.name,
      threads,
      best ? `**${r.secondsPerEpoch.toFixed(2)}**` : r.secondsPerEpoch.toFixed(2),
      r.cpuSecondsPerEpoch === undefined ? "" : r.cpuSecondsPerEpoch.toFixed(2),
      imagesPerSecond(r.secondsPerEpoch).toFixed(0),
      r.testLoss === undefined ? "" : r.testLoss.toFixed(1),
      Number.isNaN(ratio) ? "" : `${ratio.toFixed(2)}×`,
      r.warmupSeconds === undefined ? "" : r.warmupSeconds.toFixed(1),
    ];
  });
  const all = [HEADER, ...cells];
  const widths = HEADER.map((_, c) => Math.max(...all.map((row) => row[c].length)));
  const line = (row: string[]) => `| ${row.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]) : cell.padStart(widths[c]))).join(" | ")} |`;
  const rule = `|${widths.map((w, c) => (c === 0 ? "-".repeat(w + 2) : `${"-".repeat(w + 1)}:`)).join("|")}|`;
  return [line(HEADER), rule, ...cells.map(line)];
}
