/** The notebook harness itself: it must report a failing cell, not just pass everything. */
import * as fs from "fs";
import * as net from "net";
import * as path from "path";
import { describe, expect, it } from "vitest";
import { failureLine, KernelPorts, Message, readNotebook, runNotebook, TslabKernel } from "../src/notebook/runner";
import { scratchDir } from "./harness/scratch";

function notebook(cells: string[]): string {
  const dir = scratchDir("vae-lab-nb-");
  const file = path.join(dir, "t.ipynb");
  const nb = {
    cells: cells.map((source) => ({ cell_type: "code", metadata: {}, source, outputs: [], execution_count: null })),
    metadata: { kernelspec: { name: "tslab", display_name: "TypeScript", language: "typescript" } },
    nbformat: 4,
    nbformat_minor: 4,
  };
  fs.writeFileSync(file, JSON.stringify(nb));
  return file;
}

describe("notebook harness", () => {
  it("collects outputs and stops at the first failing cell", async () => {
    const file = notebook([
      'const a: number = 6 * 7;\nconsole.log("answer", a);',
      'throw new Error("boom in cell two");',
      'console.log("never runs");',
    ]);
    const run = await runNotebook(file, { writeTo: file });
    expect(run.cells).toHaveLength(2);
    expect(run.cells[0].result.status).toBe("ok");
    expect(run.cells[0].result.outputs.map((o) => o.text).join("")).toContain("answer 42");
    expect(run.failure?.index).toBe(1);
    expect(run.failure?.message).toContain("boom in cell two");
    // What vae-lab notebooks reports: the error's own line, not the kernel's stack frames after it.
    expect(failureLine(run.failure!.message)).toBe("Error: boom in cell two");
    const saved = JSON.parse(fs.readFileSync(file, "utf8"));
    expect(saved.cells[0].outputs[0].text).toContain("answer 42");
  });

  it("stops a cell that runs past its limit and says so (the hang detector works)", async () => {
    const file = notebook(['const end = Date.now() + 60_000;\nwhile (Date.now() < end) {}', 'console.log("never runs");']);
    const run = await runNotebook(file, { cellTimeoutSeconds: 1 });
    expect(run.cells).toHaveLength(1);
    expect(run.cells[0].result.status).toBe("timeout");
    expect(run.failure?.message).toMatch(/^timed out after 1 s/);
  });

  it("reports a type error as a failure", async () => {
    const run = await runNotebook(notebook(['const s: string = 3;']));
    expect(run.failure?.message).toMatch(/not assignable/);
    expect(failureLine(run.failure!.message)).toMatch(/not assignable/);
  });

  it("a lost 'idle' broadcast ends the cell on its reply after the grace period, with a warning, not after the hang detector", async () => {
    /** A kernel client that loses every "idle" status message, as a subscriber that misses a broadcast would. */
    class LosesIdle extends TslabKernel {
      protected receiveIopub(m: Message): void {
        if (m.header.msg_type === "status" && m.content.execution_state === "idle") return;
        super.receiveIopub(m);
      }
    }
    const k = await LosesIdle.start(scratchDir("vae-lab-nb-"));
    try {
      k.idleGraceSeconds = 1;
      const ok = await k.execute('console.log("ran");', 600);
      expect(ok.status).toBe("ok");
      expect(ok.outputs[0]).toEqual({ output_type: "stream", name: "stdout", text: "ran\n" });
      expect(ok.outputs[1].text).toBe('vae-lab: the kernel replied (ok) but its "idle" message did not follow within 1 s; outputs sent after the reply may be missing\n');
      expect(ok.seconds).toBeLessThan(600);
      const bad = await k.execute('throw new Error("still reported");', 600);
      expect(bad.status).toBe("error");
      expect(bad.outputs[0].text).toContain("Error: still reported"); // tslab reports a throw on stderr
      expect(bad.outputs.at(-1)!.text).toMatch(/^vae-lab: the kernel replied \(error\) but its "idle" message did not follow within 1 s/);
    } finally {
      await k.shutdown();
    }
  });

  it("a port taken between choosing it and the kernel binding it: that kernel is stopped and one on fresh ports answers", async () => {
    // Another process holds a port; the first kernel is told to use it (as when something takes a chosen port).
    const holder = net.createServer();
    await new Promise<void>((r) => holder.listen(0, "127.0.0.1", () => r()));
    const taken = (holder.address() as net.AddressInfo).port;
    const chosen: KernelPorts[] = [];
    class FirstPortTaken extends TslabKernel {
      protected async choosePorts(): Promise<KernelPorts> {
        const ports = await super.choosePorts();
        chosen.push(chosen.length === 0 ? { ...ports, shell_port: taken } : ports);
        return chosen.at(-1)!;
      }
    }
    try {
      const k = await FirstPortTaken.start(scratchDir("vae-lab-nb-"), {}, 60);
      try {
        expect(chosen).toHaveLength(2);
        expect(chosen[1].shell_port).not.toBe(taken);
        const ok = await k.execute('console.log("on fresh ports");', 600);
        expect(ok.outputs[0].text).toBe("on fresh ports\n");
      } finally {
        await k.shutdown();
      }
    } finally {
      holder.close();
    }
  });

  /** A preload that makes a kernel hang before it listens (as the one seen once did): each while `marker` can be made, or always. */
  function hangingPreload(dir: string, always: boolean): { env: Record<string, string>; marker: string } {
    const marker = path.join(dir, "hung.pid");
    const preload = path.join(dir, "hang.js");
    const make = always ? "" : `require("fs").writeFileSync(${JSON.stringify(marker)}, String(process.pid), { flag: "wx" });`;
    fs.writeFileSync(preload, `if (process.argv[2] === "kernel") { try { ${make} Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0); } catch {} }\n`);
    return { env: { NODE_OPTIONS: `--require ${preload}` }, marker };
  }

  it("a kernel that does not answer is stopped after the first limit and one more started, which answers", async () => {
    const dir = scratchDir("vae-lab-nb-");
    const { env, marker } = hangingPreload(dir, false);
    const k = await TslabKernel.start(dir, env, 120, 1);
    try {
      const hungPid = Number(fs.readFileSync(marker, "utf8"));
      expect(() => process.kill(hungPid, 0)).toThrow(/ESRCH/); // the silent kernel is gone
      const ok = await k.execute('console.log("the second kernel");', 600);
      expect(ok.outputs[0].text).toBe("the second kernel\n");
    } finally {
      await k.shutdown();
    }
  });

  it("when the second kernel does not answer either, the error says so for both, and neither is left running", async () => {
    const dir = scratchDir("vae-lab-nb-");
    const before = new Set(fs.readdirSync("/proc").filter((d) => /^\d+$/.test(d)));
    await expect(TslabKernel.start(dir, hangingPreload(dir, true).env, 2, 1)).rejects.toThrow(
      /^tslab kernel did not answer within 1 s \(no answer on the shell channel; process \d+, nothing on stderr\); the kernel started before it did not answer either: tslab kernel did not answer within 1 s/,
    );
    const left = fs.readdirSync("/proc").filter((d) => /^\d+$/.test(d) && !before.has(d)).filter((d) => {
      try {
        return fs.readlinkSync(`/proc/${d}/cwd`) === dir; // a kernel runs in the folder it was started for
      } catch {
        return false;
      }
    });
    expect(left).toEqual([]);
  });

  /**
   * A preload that imitates zeromq finishing the binds of the kernel's sockets late: each socket listens and
   * takes in messages at once, but its bind() settles only after `ms`, and until then send and receive on it
   * throw as zeromq's do on a socket whose bind is in progress. That is the moment in which tslab 1.0.22 was
   * seen to lose its shell loop (the kernel ran on and never answered).
   */
  function lateBindPreload(dir: string, ms: number): Record<string, string> {
    const preload = path.join(dir, "late-bind.js");
    fs.writeFileSync(
      preload,
      `const zmq = require(${JSON.stringify(require.resolve("zeromq"))});
const busy = new WeakSet();
// The kernel's socket types. defineProperty on each: Socket's native methods can be neither assigned nor redefined.
for (const type of [zmq.Router, zmq.Publisher, zmq.Reply]) {
  const bind = type.prototype.bind;
  Object.defineProperty(type.prototype, "bind", { value(address) {
    busy.add(this);
    return bind.call(this, address).then(() => new Promise((r) => setTimeout(r, ${ms}))).finally(() => busy.delete(this));
  } });
  for (const m of ["send", "receive"]) {
    const real = type.prototype[m];
    Object.defineProperty(type.prototype, m, { value(...args) {
      if (busy.has(this)) throw Object.assign(new Error("Socket is blocked by a bind or unbind operation"), { code: "EBUSY" });
      return real.apply(this, args);
    } });
  }
}
`,
    );
    return { NODE_OPTIONS: `--require ${preload}` };
  }

  it("a kernel whose sockets finish binding after the first request arrived answers it (tslab started alone never does)", async () => {
    const dir = scratchDir("vae-lab-nb-");
    const env = lateBindPreload(dir, 1500);
    class TslabAlone extends TslabKernel {
      protected kernelCommand(connectionFile: string): string[] {
        return [require.resolve("tslab/bin/tslab"), "kernel", "--config-path", connectionFile];
      }
    }
    // The failure being guarded against: tslab's own start-up, the request in the moment, no answer ever.
    const alone = await TslabAlone.start(dir, env, 4, 4).then(
      (k) => k.shutdown().then(() => "it answered"),
      (e: Error) => e.message,
    );
    expect(alone).toMatch(/did not answer within 4 s \(no answer on the shell channel; .*Socket is blocked by a bind or unbind operation/s);
    const k = await TslabKernel.start(dir, env, 60, 60);
    try {
      const ok = await k.execute('console.log("bound, then read");', 600);
      expect(ok.outputs[0].text).toBe("bound, then read\n");
    } finally {
      await k.shutdown();
    }
  });

  it("the kernel launcher exits with one line when a port is taken, so that Jupyter starts another", async () => {
    const holder = net.createServer().listen(0, "127.0.0.1");
    await new Promise((r) => holder.once("listening", r));
    try {
      const dir = scratchDir("vae-lab-nb-");
      const free = await Promise.all([0, 1, 2, 3].map(() => new Promise<number>((r) => {
        const s = net.createServer().listen(0, "127.0.0.1", () => {
          const p = (s.address() as net.AddressInfo).port;
          s.close(() => r(p));
        });
      })));
      const conn = path.join(dir, "connection.json");
      const taken = (holder.address() as net.AddressInfo).port;
      fs.writeFileSync(conn, JSON.stringify({ shell_port: free[0], iopub_port: free[1], stdin_port: taken, control_port: free[2], hb_port: free[3], ip: "127.0.0.1", transport: "tcp", signature_scheme: "hmac-sha256", key: "k" }));
      const { spawnSync } = await import("child_process");
      const launcher = path.join(__dirname, "..", "dist", "notebook", "kernel.js");
      const r = spawnSync(process.execPath, [launcher, "kernel", "--config-path", conn], { cwd: dir, encoding: "utf8", timeout: 60_000 });
      expect(r.status).toBe(1);
      expect(r.stderr.trim()).toMatch(/^vae-lab kernel: could not listen: .*Address already in use/);
      // So does one whose connection file is not JSON.
      fs.writeFileSync(conn, "{ not json");
      const bad = spawnSync(process.execPath, [launcher, "kernel", "--config-path", conn], { cwd: dir, encoding: "utf8", timeout: 60_000 });
      expect(bad.status).toBe(1);
      expect(bad.stderr.trim()).toMatch(new RegExp(`^vae-lab kernel: cannot read its connection file: ${conn}: not JSON \\(`));
    } finally {
      holder.close();
    }
  });

  it("the kernel launcher takes Jupyter's command line, hands any other to tslab, and patches only the tslab it knows", async () => {
    const { kernelArguments, bindBeforeReading } = await import("../src/notebook/kernel");
    expect(kernelArguments(["kernel", "--config-path", "/c.json"])).toEqual({ configPath: "/c.json", jsKernel: false });
    expect(kernelArguments(["kernel", "--config-path=/c.json", "--js"])).toEqual({ configPath: "/c.json", jsKernel: true });
    expect(kernelArguments(["install", "--python", "python3"])).toBeUndefined();
    expect(kernelArguments(["kernel"])).toBeUndefined();
    expect(kernelArguments(["kernel", "--config-path", "/c.json", "--other"])).toBeUndefined();
    class Foreign {
      init() {}
    }
    const before = Foreign.prototype.init;
    expect(bindBeforeReading(Foreign as never)).toBe(false);
    expect(Foreign.prototype.init).toBe(before);
    const { execFileSync } = await import("child_process");
    const launcher = path.join(__dirname, "..", "dist", "notebook", "kernel.js");
    expect(execFileSync(launcher, ["--version"], { encoding: "utf8" }).trim()).toMatch(/^tslab \d+\.\d+\.\d+$/);
  });

  it("a notebook that is not JSON, or JSON without cells, is refused naming the file, before a kernel starts", async () => {
    const dir = scratchDir("vae-lab-nb-");
    const bad = path.join(dir, "bad.ipynb");
    fs.writeFileSync(bad, "{ not json");
    expect(() => readNotebook(bad)).toThrow(new RegExp(`^${bad}: not valid notebook JSON \\(`));
    const empty = path.join(dir, "empty.ipynb");
    fs.writeFileSync(empty, "{}");
    await expect(runNotebook(empty)).rejects.toThrow(`${empty}: not a notebook (no list of cells)`);
  });
});
