#!/usr/bin/env node
/**
 * The TypeScript kernel the notebooks run in: tslab's, started so that it listens on all its sockets before it
 * reads a request from any of them.
 *
 * tslab 1.0.22 (`ZmqServer.init`) starts its receive loops first and then binds its five ZeroMQ sockets side by
 * side. zeromq 6 marks a socket busy from the moment `bind()` is called until the bind's completion reaches
 * the main thread, and a socket asked to send or receive meanwhile throws EBUSY ("Socket is blocked by a bind
 * or unbind operation"). But the socket listens, and takes in messages, a moment before that completion
 * arrives; every Jupyter client sends its first request as soon as it can connect (nbclient, JupyterLab,
 * vae-lab's own runner). A request that lands in that moment makes the shell loop throw and end: the kernel
 * keeps running and never answers again (seen in test runs on a loaded two-core machine; Jupyter reports a
 * dead or unresponsive kernel). Here `init` binds the five sockets, waits for all of them, and only then
 * starts the loops; the rest of tslab is used as it is.
 *
 * A kernel that cannot listen (a port taken since Jupyter chose it), or whose shell, control or heartbeat loop
 * fails, exits with one line on stderr, so that Jupyter restarts it rather than waiting on a deaf one.
 *
 * Registered with Jupyter as the "TypeScript" (and "JavaScript") kernel:
 *
 *   npx tslab install --python PY --binary "$PWD/dist/notebook/kernel.js"
 *   node dist/notebook/kernel.js install --python PY                      (the same)
 *
 * It takes tslab's kernel command line (`kernel --config-path FILE [--js]`); any other command goes to tslab.
 * It always runs the tslab beside it, not one installed in the notebook's own folder (tslab's default).
 */
import { createRequire } from "module";
import { readFileBounded } from "../files/bounded-read";
import { FileError } from "../files/file-error";

/** The connection file Jupyter writes (five ports, an address and a key) is a few hundred bytes. */
const CONNECTION_FILE_LIMIT = 64 * 1024;

interface ZmqSocket extends AsyncIterable<Buffer[]> {
  send(message: unknown): Promise<void>;
}

/** The parts of tslab's ZmqServer this launcher relies on (tslab/dist/jupyter.js, 1.0.x). */
interface TslabServer {
  configPath: string;
  connInfo: Record<string, unknown>;
  iopub: ZmqSocket;
  shell: ZmqSocket;
  control: ZmqSocket;
  stdin: ZmqSocket;
  hb: ZmqSocket;
  bindSocket(socket: ZmqSocket, port: unknown): Promise<void>;
  handleShellMessage(socket: ZmqSocket, ...parts: Buffer[]): Promise<void>;
}

/** End the kernel with one line on stderr: Jupyter sees a dead kernel, which it restarts, not a deaf one. */
function fail(what: string, e: unknown): never {
  process.stderr.write(`vae-lab kernel: ${what}: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
}

/**
 * Hand every message a socket receives to `handle`, without waiting for it (as tslab does). The loop ends
 * quietly when the socket is closed (shutdown); any other error would leave the channel unread, so it ends
 * the kernel instead.
 */
async function serve(name: string, socket: ZmqSocket, handle: (parts: Buffer[]) => unknown): Promise<void> {
  try {
    for await (const parts of socket) void handle(parts);
  } catch (e) {
    fail(`the ${name} channel stopped`, e);
  }
}

/** Read the connection file, bounded (readFileBounded), and parse it; a FileError names the file. */
function readConnectionFile(file: string): Record<string, unknown> {
  const text = readFileBounded(file, CONNECTION_FILE_LIMIT, "a Jupyter connection file").toString("utf8");
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new FileError(file, `not JSON (${(e as Error).message})`);
  }
}

/**
 * Give tslab's ZmqServer the start-up described above: bind, then read. Returns false, changing nothing, when
 * the class is not the shape this was written for (another tslab version).
 */
export function bindBeforeReading(ZmqServer: { prototype: Partial<TslabServer> & { init?: unknown } }): boolean {
  const p = ZmqServer.prototype;
  if (typeof p.init !== "function" || typeof p.bindSocket !== "function" || typeof p.handleShellMessage !== "function") return false;
  p.init = async function init(this: TslabServer): Promise<void> {
    let info: Record<string, unknown> = {};
    try {
      info = readConnectionFile(this.configPath);
    } catch (e) {
      fail("cannot read its connection file", e);
    }
    this.connInfo = info;
    // The zeromq tslab itself would load (from tslab's folder, not this file's).
    const zmq = createRequire(require.resolve("tslab/dist/jupyter"))("zeromq");
    this.iopub = new zmq.Publisher();
    this.shell = new zmq.Router();
    this.control = new zmq.Router();
    this.stdin = new zmq.Router();
    this.hb = new zmq.Reply();
    try {
      await Promise.all([
        this.bindSocket(this.iopub, info.iopub_port),
        this.bindSocket(this.shell, info.shell_port),
        this.bindSocket(this.control, info.control_port),
        this.bindSocket(this.stdin, info.stdin_port),
        this.bindSocket(this.hb, info.hb_port),
      ]);
    } catch (e) {
      // A port taken since it was chosen (EADDRINUSE): exit, and Jupyter starts a kernel on fresh ports.
      fail("could not listen", e);
    }
    void serve("shell", this.shell, (parts) => this.handleShellMessage(this.shell, ...parts));
    void serve("control", this.control, (parts) => this.handleShellMessage(this.control, ...parts));
    void serve("heartbeat", this.hb, (parts) => this.hb.send(parts));
  };
  return true;
}

/** `kernel --config-path FILE [--js]`, as Jupyter starts it; undefined for any other command line. */
export function kernelArguments(args: string[]): { configPath: string; jsKernel: boolean } | undefined {
  if (args[0] !== "kernel") return undefined;
  let configPath: string | undefined;
  let jsKernel = false;
  for (let i = 1; i < args.length; i++) {
    const a = args[i];
    if (a === "--js") jsKernel = true;
    else if (a === "--config-path" && i + 1 < args.length) configPath = args[++i];
    else if (a.startsWith("--config-path=")) configPath = a.slice("--config-path=".length);
    else return undefined;
  }
  return configPath === undefined ? undefined : { configPath, jsKernel };
}

function main(): void {
  let tslab: { main(): void; startKernel(o: { configPath: string; enableFindLocal: boolean; jsKernel: boolean; globalVersion: string }): void };
  let jupyter: { ZmqServer: { prototype: Partial<TslabServer> } };
  try {
    tslab = require("tslab/dist/main");
    jupyter = require("tslab/dist/jupyter");
  } catch {
    process.stderr.write("vae-lab kernel: tslab is not installed here (it comes with the repository: npm install in a clone)\n");
    process.exit(1);
  }
  const args = process.argv.slice(2);
  const kernel = kernelArguments(args);
  if (!kernel) {
    // install, --help, --version: tslab's own, except that `install` registers this launcher unless told otherwise.
    if (args[0] === "install" && !args.some((a) => a === "--binary" || a.startsWith("--binary="))) process.argv.push("--binary", __filename);
    tslab.main();
    return;
  }
  if (!bindBeforeReading(jupyter.ZmqServer)) {
    process.stderr.write("vae-lab kernel: this tslab's ZmqServer is not the one this launcher knows; starting it unchanged\n");
  }
  // This tslab, the one patched above: not another found from the notebook's folder (tslab's default).
  tslab.startKernel({ ...kernel, enableFindLocal: false, globalVersion: "" });
}

if (require.main === module) main();
