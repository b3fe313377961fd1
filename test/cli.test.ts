import { spawnSync } from "child_process";
import * as path from "path";
import { describe, expect, it } from "vitest";

const cli = path.resolve(__dirname, "../dist/cli.js");
function run(...args: string[]) {
  const r = spawnSync(process.execPath, [cli, ...args], { encoding: "utf8", timeout: 120_000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

describe("vae-lab CLI (compiled)", () => {
  it("--help prints usage and exits 0", () => {
    const r = run("--help");
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^vae-lab — /);
  });

  it("info reports the backend and the data", () => {
    const r = run("info", "--backend", "cpu", "--data", path.resolve(__dirname, "../data/mnist-tiny"));
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^backend: cpu — tfjs 4\./m);
    expect(r.out).toMatch(/train 100 × 28×28, test 50/);
  });

  it.each([
    [["frob"], 2, /^vae-lab: unknown command "frob" \(see vae-lab --help\)\n$/],
    [["info", "--bogus"], 2, /^vae-lab: Unknown option '--bogus' \(see vae-lab --help\)\n$/],
    [["info", "--backend", "gpu"], 2, /^vae-lab: --backend: unknown backend "gpu"/],
    [["info", "--data", "/no/such/dir"], 1, /^vae-lab: \/no\/such\/dir: MNIST folder not found\n$/],
  ])("bad input %j: one clear line, exit %i, no stack trace", (args, code, message) => {
    const r = run(...(args as string[]));
    expect(r.code).toBe(code);
    expect(r.err).toMatch(message as RegExp);
    expect(r.err.split("\n").filter(Boolean)).toHaveLength(1);
    expect(r.out).toBe("");
  });
});
