/**
 * Running notebooks through the tslab kernel with nothing but Node: a minimal Jupyter client that starts the
 * kernel (notebook/kernel.ts: tslab's, bound before it reads) with a connection file, speaks the Jupyter wire
 * protocol over ZeroMQ (the `zeromq` package tslab itself uses), and executes code cells one after another,
 * collecting their outputs the way nbclient would. Python and Jupyter are not needed.
 */
import { spawn, ChildProcess } from "child_process";
import * as crypto from "crypto";
import * as fs from "fs";
import * as net from "net";
import * as os from "os";
import * as path from "path";
import { Dealer, Subscriber } from "zeromq";
import { readFileBounded } from "../files/bounded-read";
import { FileError } from "../files/file-error";

const DELIM = "<IDS|MSG>";

export interface Output {
  output_type: "stream" | "display_data" | "execute_result" | "error";
  name?: string;
  text?: string;
  data?: Record<string, unknown>;
  metadata?: Record<string, unknown>;
  execution_count?: number;
  ename?: string;
  evalue?: string;
  traceback?: string[];
}

export interface CellResult {
  status: "ok" | "error" | "abort" | "timeout";
  executionCount?: number;
  outputs: Output[];
  seconds: number;
}

export interface Message {
  header: { msg_id: string; msg_type: string };
  parent_header: { msg_id?: string };
  content: Record<string, unknown>;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}

/**
 * Kernels running now. Every exit path shuts them down: runNotebook's finally, shutdownAllKernels (the
 * CLI calls it on SIGINT/SIGTERM), and as a last resort a process "exit" hook that kills the kernel
 * processes and removes their connection folders synchronously.
 */
const liveKernels = new Set<TslabKernel>();

function killLiveKernelsNow(): void {
  for (const k of liveKernels) k.killNow();
}

/** Shut down every running kernel (and remove its connection folder). */
export async function shutdownAllKernels(): Promise<void> {
  await Promise.all([...liveKernels].map((k) => k.shutdown()));
}

/**
 * Hang detectors, not speed limits: a kernel that has not answered in 10 minutes, or a cell still running after
 * an hour, is stuck. They are far above what was measured (kernel start-up 2–15 s; the longest full-mode cell
 * a few minutes, on a loaded 2-core machine), so no notebook passes or fails by how fast the machine is.
 */
const KERNEL_START_LIMIT_SECONDS = 600;

/**
 * A kernel that has not answered after this long is stopped and one more is started, on fresh ports, with
 * what is left of KERNEL_START_LIMIT_SECONDS. Seen in full test runs on a busy 2-core machine: a kernel that
 * never answered (no reply on the shell channel, still running) where every other of the run's kernels
 * answered in seconds. That was tslab losing a request that came while its sockets were still binding, which
 * notebook/kernel.ts now prevents; this stays for a kernel silent for any other reason. Two minutes is still
 * far above the slowest start-up measured.
 */
const KERNEL_RETRY_AFTER_SECONDS = 120;
const CELL_LIMIT_SECONDS = 3600;

/**
 * A cell is over when the kernel has replied on the shell channel (which carries its status, ok or error) and
 * said "idle" on the iopub channel (after its last output). The reply cannot be lost; the idle message, a
 * broadcast, can (ZeroMQ drops broadcasts a subscriber cannot take in time). Once the reply is in, the idle
 * message is waited for this long; if it never comes, the cell ends with its reply's status and a warning,
 * instead of waiting out the hour-long hang detector.
 */
export const IDLE_AFTER_REPLY_SECONDS = 60;

export interface KernelPorts {
  shell_port: number;
  iopub_port: number;
  stdin_port: number;
  control_port: number;
  hb_port: number;
}

/** A kernel that could not listen on a port it was given (taken after it was chosen). */
class PortTakenError extends Error {}

/** A kernel that did not answer within its start-up limit. */
class StartTimeoutError extends Error {}

/** Kernels started, at most, when each finds one of its ports taken (a race that is rare once, rarer twice). */
const PORT_ATTEMPTS = 5;

export class TslabKernel {
  private shell = new Dealer();
  // No receive limit: every broadcast the kernel sends is queued here rather than dropped.
  private iopub = new Subscriber({ receiveHighWaterMark: 0 });
  private readonly key = crypto.randomBytes(16).toString("hex");
  private readonly session = crypto.randomUUID();
  private proc?: ChildProcess;
  private stderr = "";
  private listeners = new Map<string, (m: Message) => void>();
  private replies = new Map<string, (m: Message) => void>();
  private dir = fs.mkdtempSync(path.join(os.tmpdir(), "vae-lab-kernel-"));
  private exited = false;
  private stderrEnded = false;
  /** Set when a cell ran past its limit: the kernel is busy and cannot answer a shutdown request. */
  private hung = false;
  /** Seconds to wait for the "idle" message once the reply is in (IDLE_AFTER_REPLY_SECONDS; tests lower it). */
  idleGraceSeconds = IDLE_AFTER_REPLY_SECONDS;

  /**
   * Start the tslab kernel in `cwd` (the notebook's folder) with extra environment variables. The ports are
   * chosen free, then handed to the kernel, which binds them a moment later; another process (a kernel
   * starting beside it, any outgoing connection) can take one in between. The kernel then says so and exits
   * (tslab alone would stay up without listening), and a new one is started on fresh ports, up to
   * PORT_ATTEMPTS times. A kernel that has not answered after `retryAfterSeconds` is
   * stopped and one more started, once, with what is left of `startupSeconds`.
   */
  static async start<K extends TslabKernel>(this: new () => K, cwd: string, env: Record<string, string> = {}, startupSeconds = KERNEL_START_LIMIT_SECONDS, retryAfterSeconds = KERNEL_RETRY_AFTER_SECONDS): Promise<K> {
    const until = Date.now() + startupSeconds * 1000;
    let silent: string | undefined; // what the kernel that did not answer said, once one has
    for (let attempt = 1; ; attempt++) {
      const k = new this();
      if (liveKernels.size === 0) process.on("exit", killLiveKernelsNow);
      liveKernels.add(k);
      const left = (until - Date.now()) / 1000;
      const limit = silent === undefined ? Math.min(retryAfterSeconds, left) : left;
      const wait = Math.max(limit, 1);
      try {
        await k.launch(cwd, env, wait);
        return k;
      } catch (e) {
        if (e instanceof StartTimeoutError) k.hung = true; // it answers nothing: stop it at once
        await k.shutdown();
        if (e instanceof PortTakenError && attempt < PORT_ATTEMPTS) continue;
        if (e instanceof StartTimeoutError && silent === undefined && limit < left) {
          silent = e.message;
          process.stderr.write(`vae-lab: tslab kernel did not answer within ${Math.round(wait)} s; stopped it, starting one more\n`);
          continue;
        }
        if (silent !== undefined && e instanceof Error) throw new Error(`${e.message}; the kernel started before it did not answer either: ${silent}`);
        throw e;
      }
    }
  }

  /**
   * Node's arguments that start the kernel: notebook/kernel.ts, tslab's kernel started so that it listens on
   * every socket before it reads any (the same path from src/notebook and dist/notebook; the built one runs).
   * Tests override it.
   */
  protected kernelCommand(connectionFile: string): string[] {
    return [path.join(__dirname, "..", "..", "dist", "notebook", "kernel.js"), "kernel", "--config-path", connectionFile];
  }

  /** The five ports the kernel is told to listen on (free when chosen). Tests override it. */
  protected async choosePorts(): Promise<KernelPorts> {
    const ports = { shell_port: 0, iopub_port: 0, stdin_port: 0, control_port: 0, hb_port: 0 };
    for (const k of Object.keys(ports) as (keyof KernelPorts)[]) ports[k] = await freePort();
    return ports;
  }

  private async launch(cwd: string, env: Record<string, string>, startupSeconds: number): Promise<void> {
    const ports = await this.choosePorts();
    const conn = { ...ports, ip: "127.0.0.1", transport: "tcp", signature_scheme: "hmac-sha256", key: this.key };
    const connFile = path.join(this.dir, "connection.json");
    fs.writeFileSync(connFile, JSON.stringify(conn));
    this.proc = spawn(process.execPath, this.kernelCommand(connFile), {
      cwd,
      env: { ...process.env, ...env },
      stdio: ["ignore", "ignore", "pipe"],
    });
    this.proc.stderr?.on("data", (d) => (this.stderr += d.toString()));
    this.proc.stderr?.on("end", () => (this.stderrEnded = true));
    this.proc.on("exit", () => (this.exited = true));

    this.shell.connect(`tcp://127.0.0.1:${ports.shell_port}`);
    this.iopub.connect(`tcp://127.0.0.1:${ports.iopub_port}`);
    this.iopub.subscribe();
    void this.pump(this.shell, (m) => this.replies.get(m.parent_header.msg_id ?? "")?.(m));
    void this.pump(this.iopub, (m) => this.receiveIopub(m));

    // The kernel is up when it answers a kernel_info request on the shell channel (ZeroMQ holds the request
    // until the kernel binds its socket). The iopub channel is live when a status broadcast for one of our
    // requests arrives there: a subscriber that connected late misses the first ones, so ask again, briefly
    // apart, until one arrives. (Polling with a long timeout instead cost up to a second per kernel.)
    const deadline = Date.now() + startupSeconds * 1000;
    let shellUp = false;
    let iopubUp = false;
    let exitSeen: number | undefined;
    const ours = new Set<string>();
    const ask = async () => {
      const id = await this.send("kernel_info_request", {});
      ours.add(id);
      this.replies.set(id, () => (shellUp = true));
      this.listeners.set(id, () => (iopubUp = true));
    };
    try {
      await ask();
      for (let waited = 0; !(shellUp && iopubUp); ) {
        // A taken port first: the kernel says so and exits (notebook/kernel.ts), or stays up deaf (tslab alone).
        if (/EADDRINUSE|Address already in use/.test(this.stderr)) {
          this.hung = true; // it cannot answer a shutdown request on a socket it never bound: stop it at once
          throw new PortTakenError(`tslab kernel could not listen: ${this.stderr.trim()}`);
        }
        // Exited: once its last words are read (they may arrive after the exit), or a second later.
        if (this.exited && (this.stderrEnded || (exitSeen ??= Date.now()) < Date.now() - 1000)) {
          throw new Error(`tslab kernel exited during start-up: ${this.stderr.trim()}`);
        }
        if (Date.now() > deadline) {
          // Say how far it got (no shell reply, or a reply but no broadcast on iopub) and what it wrote.
          const got = shellUp ? "it answered on the shell channel, but nothing reached iopub" : "no answer on the shell channel";
          throw new StartTimeoutError(`tslab kernel did not answer within ${Math.round(startupSeconds)} s (${got}; process ${this.proc?.pid}${this.stderr.trim() ? `; it wrote: ${this.stderr.trim().slice(-2000)}` : ", nothing on stderr"})`);
        }
        await new Promise((r) => setTimeout(r, 20));
        waited += 20;
        // Once the kernel answers on the shell, a status broadcast still missing means iopub joined late: ask again.
        if (shellUp && !iopubUp && waited >= 100) {
          waited = 0;
          await ask();
        }
      }
    } finally {
      for (const id of ours) {
        this.replies.delete(id);
        this.listeners.delete(id);
      }
    }
  }

  /** Hand a broadcast to the cell (or start-up check) it belongs to. A test may override this to lose some. */
  protected receiveIopub(m: Message): void {
    this.listeners.get(m.parent_header.msg_id ?? "")?.(m);
  }

  private sign(parts: string[]): string {
    const h = crypto.createHmac("sha256", this.key);
    for (const p of parts) h.update(p);
    return h.digest("hex");
  }

  private async send(msgType: string, content: Record<string, unknown>): Promise<string> {
    const msgId = crypto.randomUUID();
    const header = JSON.stringify({
      msg_id: msgId,
      username: "vae-lab",
      session: this.session,
      date: new Date().toISOString(),
      msg_type: msgType,
      version: "5.3",
    });
    const parts = [header, "{}", "{}", JSON.stringify(content)];
    await this.shell.send([DELIM, this.sign(parts), ...parts]);
    return msgId;
  }

  private async pump(sock: Dealer | Subscriber, deliver: (m: Message) => void): Promise<void> {
    try {
      for await (const frames of sock) {
        const strs = frames.map((f) => f.toString("utf8"));
        const i = strs.indexOf(DELIM);
        if (i < 0) continue;
        const [sig, header, parent, metadata, content] = strs.slice(i + 1, i + 6);
        if (sig !== this.sign([header, parent, metadata, content])) continue;
        deliver({ header: JSON.parse(header), parent_header: JSON.parse(parent), content: JSON.parse(content) });
      }
    } catch {
      // socket closed
    }
  }

  /** Execute one cell's code; resolves when the kernel is idle again (or the timeout passes). */
  async execute(code: string, timeoutSeconds = CELL_LIMIT_SECONDS): Promise<CellResult> {
    const t0 = Date.now();
    const outputs: Output[] = [];
    const displayIndex = new Map<string, number>();
    const msgId = crypto.randomUUID();
    let status: CellResult["status"] = "ok";
    let executionCount: number | undefined;
    let idle!: () => void;
    let replied!: () => void;
    const idleP = new Promise<void>((r) => (idle = r));
    const replyP = new Promise<void>((r) => (replied = r));

    const onIopub = (m: Message): void => {
      const c = m.content;
      switch (m.header.msg_type) {
        case "status":
          if (c.execution_state === "idle") idle();
          break;
        case "stream": {
          const last = outputs[outputs.length - 1];
          if (last && last.output_type === "stream" && last.name === c.name) last.text += String(c.text);
          else outputs.push({ output_type: "stream", name: String(c.name), text: String(c.text) });
          break;
        }
        case "display_data":
        case "update_display_data": {
          const id = (c.transient as { display_id?: string } | undefined)?.display_id;
          const out: Output = { output_type: "display_data", data: c.data as Record<string, unknown>, metadata: (c.metadata ?? {}) as Record<string, unknown> };
          if (m.header.msg_type === "update_display_data" && id && displayIndex.has(id)) outputs[displayIndex.get(id)!] = out;
          else {
            if (id) displayIndex.set(id, outputs.length);
            outputs.push(out);
          }
          break;
        }
        case "execute_result":
          outputs.push({ output_type: "execute_result", data: c.data as Record<string, unknown>, metadata: {}, execution_count: c.execution_count as number });
          break;
        case "error":
          outputs.push({ output_type: "error", ename: String(c.ename), evalue: String(c.evalue), traceback: (c.traceback as string[]) ?? [] });
          break;
      }
    };
    this.listeners.set(msgId, onIopub);
    this.replies.set(msgId, (m) => {
      status = m.content.status as CellResult["status"];
      executionCount = m.content.execution_count as number | undefined;
      replied();
    });

    const header = JSON.stringify({
      msg_id: msgId,
      username: "vae-lab",
      session: this.session,
      date: new Date().toISOString(),
      msg_type: "execute_request",
      version: "5.3",
    });
    const content = { code, silent: false, store_history: true, user_expressions: {}, allow_stdin: false, stop_on_error: true };
    const parts = [header, "{}", "{}", JSON.stringify(content)];
    await this.shell.send([DELIM, this.sign(parts), ...parts]);

    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<"timeout">((r) => (timer = setTimeout(() => r("timeout"), timeoutSeconds * 1000)));
    const exit = new Promise<"exit">((r) => {
      const check = setInterval(() => {
        if (this.exited) {
          clearInterval(check);
          r("exit");
        }
      }, 200);
      void Promise.all([replyP, idleP]).then(() => clearInterval(check));
    });
    let sawIdle = false;
    void idleP.then(() => (sawIdle = true));
    let graceTimer: NodeJS.Timeout | undefined;
    const idleOrGrace = replyP.then(
      () =>
        new Promise<"done" | "no-idle">((r) => {
          graceTimer = setTimeout(() => r("no-idle"), this.idleGraceSeconds * 1000);
          void idleP.then(() => r("done"));
        }),
    );
    const result = await Promise.race([idleOrGrace, timeout, exit]);
    clearTimeout(timer);
    clearTimeout(graceTimer);
    this.listeners.delete(msgId);
    this.replies.delete(msgId);
    if (result === "no-idle" && !sawIdle) {
      const note = `vae-lab: the kernel replied (${status}) but its "idle" message did not follow within ${this.idleGraceSeconds} s; outputs sent after the reply may be missing\n`;
      process.stderr.write(note);
      outputs.push({ output_type: "stream", name: "stderr", text: note });
    }
    if (result === "timeout") {
      status = "timeout";
      this.hung = true;
    }
    if (result === "exit") {
      status = "error";
      outputs.push({ output_type: "stream", name: "stderr", text: `kernel died: ${this.stderr.slice(-2000)}` });
    }
    return { status, executionCount, outputs, seconds: (Date.now() - t0) / 1000 };
  }

  /** Kill the kernel process and remove its connection folder, synchronously (for process exit). */
  killNow(): void {
    if (this.proc && !this.exited) this.proc.kill("SIGKILL");
    fs.rmSync(this.dir, { recursive: true, force: true });
    this.forget();
  }

  private forget(): void {
    liveKernels.delete(this);
    if (liveKernels.size === 0) process.off("exit", killLiveKernelsNow);
  }

  private shuttingDown?: Promise<void>;

  /**
   * Ask the kernel to shut down (killing it after 5 s, or at once if a cell of it ran past its limit and it is
   * still busy), close the sockets, remove the connection folder. Idempotent.
   */
  shutdown(): Promise<void> {
    this.shuttingDown ??= this.doShutdown();
    return this.shuttingDown;
  }

  private async doShutdown(): Promise<void> {
    if (this.proc && !this.exited && this.hung) this.proc.kill("SIGKILL");
    if (this.proc && !this.exited) {
      try {
        await this.send("shutdown_request", { restart: false });
      } catch {
        // ignore
      }
      const done = new Promise<void>((r) => (this.exited ? r() : this.proc!.once("exit", () => r())));
      const t = setTimeout(() => this.proc!.kill("SIGKILL"), 5000);
      await done;
      clearTimeout(t);
    }
    this.shell.close();
    this.iopub.close();
    fs.rmSync(this.dir, { recursive: true, force: true });
    this.forget();
  }
}

export interface NotebookRun {
  file: string;
  seconds: number;
  cells: { index: number; source: string; result: CellResult }[];
  /** The first failing cell, if any. */
  failure?: { index: number; source: string; message: string };
}

function cellText(src: string | string[]): string {
  return Array.isArray(src) ? src.join("") : src;
}

/** Plain text of a cell's outputs (streams and text/plain), for error messages. */
export function outputText(outputs: Output[]): string {
  return outputs
    .map((o) => o.text ?? (o.data?.["text/plain"] as string | undefined) ?? (o.evalue ? `${o.ename}: ${o.evalue}` : ""))
    .join("");
}

/** The most a notebook file may hold (checked before it is read): far above the executed notebooks' 22 MB. */
const MAX_NOTEBOOK_BYTES = 256 * 1024 * 1024;

/** A notebook file as JSON with a list of cells; anything else is a FileError naming the file. */
export function readNotebook(file: string): { cells: unknown[] } & Record<string, unknown> {
  const text = readFileBounded(file, MAX_NOTEBOOK_BYTES, "a notebook").toString("utf8");
  let nb: unknown;
  try {
    nb = JSON.parse(text);
  } catch (e) {
    throw new FileError(file, `not valid notebook JSON (${(e as Error).message})`);
  }
  if (!nb || typeof nb !== "object" || !Array.isArray((nb as { cells?: unknown }).cells)) throw new FileError(file, "not a notebook (no list of cells)");
  return nb as { cells: unknown[] } & Record<string, unknown>;
}

/**
 * What a failed cell's output says, in one line: the error's own line ("TypeError: x is not a function"),
 * not the kernel's stack frames that follow it; else the last line of the output.
 */
export function failureLine(message: string): string {
  const lines = message.split("\n").map((l) => l.trim()).filter((l) => l !== "" && !l.startsWith("at ") && l !== "^");
  const error = lines.find((l) => /^([A-Z]\w*)?(Error|Exception)\b.*:/.test(l) || /^error TS\d+/.test(l) || /\berror TS\d+:/.test(l));
  return error ?? lines.at(-1) ?? message.trim();
}

/**
 * Execute a notebook top to bottom in a fresh tslab kernel (started in the notebook's folder). Stops at the
 * first failing cell. With `writeTo`, the executed notebook (outputs filled in) is written there.
 */
export async function runNotebook(
  file: string,
  options: { env?: Record<string, string>; cellTimeoutSeconds?: number; writeTo?: string } = {},
): Promise<NotebookRun> {
  const t0 = Date.now();
  const nb = readNotebook(file);
  const kernel = await TslabKernel.start(path.dirname(path.resolve(file)), options.env ?? {});
  const run: NotebookRun = { file, seconds: 0, cells: [] };
  try {
    for (const [index, cell] of (nb.cells as { cell_type: string; source: string | string[]; outputs?: Output[]; execution_count?: number | null }[]).entries()) {
      if (cell.cell_type !== "code") continue;
      const source = cellText(cell.source);
      if (source.trim() === "") continue;
      const result = await kernel.execute(source, options.cellTimeoutSeconds ?? CELL_LIMIT_SECONDS);
      cell.outputs = result.outputs;
      cell.execution_count = result.executionCount ?? null;
      run.cells.push({ index, source, result });
      if (result.status !== "ok") {
        const why = result.status === "timeout" ? `timed out after ${options.cellTimeoutSeconds ?? CELL_LIMIT_SECONDS} s` : result.status;
        run.failure = { index, source, message: `${why}: ${outputText(result.outputs).trim().slice(-3000)}` };
        break;
      }
    }
  } finally {
    await kernel.shutdown();
  }
  run.seconds = (Date.now() - t0) / 1000;
  if (options.writeTo) {
    fs.mkdirSync(path.dirname(options.writeTo), { recursive: true });
    fs.writeFileSync(options.writeTo, JSON.stringify(nb, null, 1) + "\n");
  }
  return run;
}
