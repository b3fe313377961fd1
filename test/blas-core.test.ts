import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { afterEach, describe, expect, it } from "vitest";
import { blasCoreCacheFile, cachedProbe, chooseCoreType, coreIsa, cpuVectorIsa, prepareBlasCore, probeBlasCore, ProbeResult, SELF_CHECK_TOLERANCE, sgemmSelfCheck } from "../src/engine/blas-core";
import { NATIVE_ADDON_PATH } from "../src/engine/native-kernels";

const SKYLAKE_FLAGS = "flags\t\t: fpu sse sse2 ssse3 sse4_1 sse4_2 avx fma avx2 avx512f avx512dq avx512cd avx512bw avx512vl\n";
const HASWELL_FLAGS = "processor : 0\nflags\t\t: fpu sse sse2 ssse3 sse4_1 sse4_2 avx fma avx2 bmi2\n";
const OLD_FLAGS = "flags\t\t: fpu sse sse2 ssse3 sse4_1 sse4_2 avx\n";

const cpuinfo = fs.existsSync("/proc/cpuinfo") ? fs.readFileSync("/proc/cpuinfo", "utf8") : "";
const canProbe = fs.existsSync(NATIVE_ADDON_PATH) && cpuVectorIsa(cpuinfo) !== "none";
/** The CLI loads the addon (and so probes the core) unless the user switched the native kernels off. */
const cliProbes = canProbe && process.env.VAE_LAB_NATIVE !== "0";

/** A plain row-major product with sgemm's signature (no transposes, batch 1). */
function jsSgemm(heap: Float32Array, a: number, b: number, c: number, _batch: number, _sa: number, _sb: number, m: number, n: number, k: number): void {
  for (let i = 0; i < m; i++)
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let t = 0; t < k; t++) s += heap[a + i * k + t] * heap[b + t * n + j];
      heap[c + i * n + j] = s;
    }
}

describe("OpenBLAS core choice", () => {
  const saved = process.env.OPENBLAS_CORETYPE;
  afterEach(() => {
    if (saved === undefined) delete process.env.OPENBLAS_CORETYPE;
    else process.env.OPENBLAS_CORETYPE = saved;
  });

  it("reads the CPU's vector instruction set from /proc/cpuinfo flags", () => {
    expect(cpuVectorIsa(SKYLAKE_FLAGS)).toBe("avx512");
    expect(cpuVectorIsa(HASWELL_FLAGS)).toBe("avx2");
    expect(cpuVectorIsa(OLD_FLAGS)).toBe("none");
    expect(cpuVectorIsa("")).toBe("none");
    expect(coreIsa("SkylakeX")).toBe("avx512");
    expect(coreIsa("Zen")).toBe("avx2");
    expect(coreIsa("Prescott")).toBe("none");
  });

  it("replaces a core narrower than the CPU (the generic fallback) and keeps one that matches", () => {
    expect(chooseCoreType("avx512", "Prescott")).toBe("SkylakeX");
    expect(chooseCoreType("avx512", "Haswell")).toBe("SkylakeX");
    expect(chooseCoreType("avx2", "Prescott")).toBe("Haswell");
    expect(chooseCoreType("avx2", "Sandybridge")).toBe("Haswell");
    expect(chooseCoreType("avx512", "SkylakeX")).toBeUndefined();
    expect(chooseCoreType("avx512", "SapphireRapids")).toBeUndefined();
    expect(chooseCoreType("avx2", "Zen")).toBeUndefined();
    expect(chooseCoreType("none", "Prescott")).toBeUndefined();
  });

  it("the sgemm self-check passes a correct product and catches a wrong one", () => {
    expect(sgemmSelfCheck(jsSgemm)).toBeLessThan(1e-6);
    const offByOne: typeof jsSgemm = (heap, a, b, c, batch, sa, sb, m, n, k) => jsSgemm(heap, a, b + 1, c, batch, sa, sb, m, n, k);
    expect(sgemmSelfCheck(offByOne)).toBeGreaterThan(SELF_CHECK_TOLERANCE);
    const skipsLastTerm: typeof jsSgemm = (heap, a, b, c, batch, sa, sb, m, n, k) => jsSgemm(heap, a, b, c, batch, sa, sb, m, n, k - 1);
    expect(sgemmSelfCheck(skipsLastTerm)).toBeGreaterThan(SELF_CHECK_TOLERANCE);
  });

  it("a user's OPENBLAS_CORETYPE is kept when a child process runs it and passes the self-check", () => {
    process.env.OPENBLAS_CORETYPE = "Haswell";
    const seen: (string | undefined)[] = [];
    const r = prepareBlasCore(__filename, (env) => {
      seen.push(env.OPENBLAS_CORETYPE);
      return { core: "Haswell", error: 1e-7 };
    });
    expect(seen).toEqual(["Haswell"]);
    expect(r).toEqual({ source: "user", note: "OPENBLAS_CORETYPE=Haswell" });
    expect(process.env.OPENBLAS_CORETYPE).toBe("Haswell");
  });

  it("a user's OPENBLAS_CORETYPE that kills the child (SIGILL), fails its check or gives no answer is dropped, in one line", () => {
    const isa = cpuVectorIsa(cpuinfo);
    const own = isa === "avx512" ? "SkylakeX" : isa === "avx2" ? "Haswell" : "Prescott"; // OpenBLAS's own choice fits the CPU
    const cases: [ProbeResult, string][] = [
      [{ why: "killed by SIGILL" }, "a process using it failed (killed by SIGILL)"],
      [{ core: "SkylakeX", error: 0.3 }, "its sgemm self-check failed (relative error 0.3)"],
      [{}, "a process using it gave no answer"],
      [{ core: "SkylakeX", error: null as unknown as number }, "its sgemm self-check failed (relative error null)"], // NaN, as JSON carries it
    ];
    for (const [bad, why] of cases) {
      process.env.OPENBLAS_CORETYPE = "SkylakeX";
      const seen: (string | undefined)[] = [];
      const r = prepareBlasCore(__filename, (env) => {
        seen.push(env.OPENBLAS_CORETYPE);
        return env.OPENBLAS_CORETYPE ? bad : { core: own, error: 0 };
      });
      expect(r.note).toBe(`OPENBLAS_CORETYPE=SkylakeX ignored: ${why}`);
      expect(r.source).toBe("default");
      expect(process.env.OPENBLAS_CORETYPE).toBeUndefined();
      expect(seen).toEqual(isa === "none" ? ["SkylakeX"] : ["SkylakeX", undefined]);
    }
  });

  it.skipIf(cpuVectorIsa(cpuinfo) === "none")("a dropped user core is followed by the usual choice, and both are said", () => {
    const want = cpuVectorIsa(cpuinfo) === "avx512" ? "SkylakeX" : "Haswell";
    process.env.OPENBLAS_CORETYPE = "Bogus";
    const r = prepareBlasCore(__filename, (env) =>
      env.OPENBLAS_CORETYPE === "Bogus" ? { why: "killed by SIGILL" } : env.OPENBLAS_CORETYPE ? { core: env.OPENBLAS_CORETYPE, error: 0 } : { core: "Prescott", error: 0 },
    );
    expect(r.source).toBe("chosen");
    expect(r.note).toBe(`OPENBLAS_CORETYPE=Bogus ignored: a process using it failed (killed by SIGILL); OpenBLAS chose Prescott on an ${want === "SkylakeX" ? "AVX-512" : "AVX2"} CPU; using ${want}`);
    expect(process.env.OPENBLAS_CORETYPE).toBe(want);
  });

  it.skipIf(!cliProbes)("OPENBLAS_CORETYPE=SkylakeX whose probe dies of SIGILL (imitated by a preload in the probe's child) does not kill vae-lab info", () => {
    // On an AVX-512 CPU the SkylakeX kernels run; a preload kills the probing child (`node -e`, one argv
    // entry) the way an AVX2-only CPU would, so the whole path is exercised on every CPU.
    const dir = fs.mkdtempSync(path.join(require("os").tmpdir(), "vae-lab-sigill-"));
    try {
      const preload = path.join(dir, "sigill.js");
      fs.writeFileSync(preload, 'if (process.env.OPENBLAS_CORETYPE === "SkylakeX" && process.argv.length === 1) process.kill(process.pid, "SIGILL");\n');
      const cli = path.resolve(__dirname, "../dist/cli/main.js");
      const r = spawnSync(process.execPath, [cli, "info"], { encoding: "utf8", timeout: 120_000, env: { ...process.env, OPENBLAS_CORETYPE: "SkylakeX", VAE_LAB_BLAS_CACHE: "off", NODE_OPTIONS: `--require ${preload}` } });
      expect(r.signal).toBeNull();
      expect(r.status).toBe(0);
      expect(r.stdout).toMatch(/^blas: {4}OpenBLAS core \w+ \(OPENBLAS_CORETYPE=SkylakeX ignored: a process using it failed \(killed by SIGILL\)/m);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it.skipIf(!cliProbes || cpuVectorIsa(cpuinfo) !== "avx2")("on an AVX2-only CPU, OPENBLAS_CORETYPE=SkylakeX does not kill vae-lab info: it is ignored, in one line", () => {
    const cli = path.resolve(__dirname, "../dist/cli/main.js");
    const r = spawnSync(process.execPath, [cli, "info"], { encoding: "utf8", timeout: 120_000, env: { ...process.env, OPENBLAS_CORETYPE: "SkylakeX", VAE_LAB_BLAS_CACHE: "off" } });
    expect(r.signal).toBeNull();
    expect(r.status).toBe(0);
    expect(r.stdout).toContain("OPENBLAS_CORETYPE=SkylakeX ignored: a process using it failed (killed by SIGILL)");
  });

  it.skipIf(!canProbe)("a child process reports the core and a passing self-check, for OpenBLAS's choice and a forced Prescott", () => {
    const env = { ...process.env };
    delete env.OPENBLAS_CORETYPE;
    const own = probeBlasCore(NATIVE_ADDON_PATH, env);
    expect(own.core).toMatch(/^[A-Za-z0-9]+$/);
    expect(own.error).toBeLessThan(SELF_CHECK_TOLERANCE);
    const prescott = probeBlasCore(NATIVE_ADDON_PATH, { ...env, OPENBLAS_CORETYPE: "Prescott" });
    expect(prescott.core).toBe("Prescott");
    expect(prescott.error).toBeLessThan(SELF_CHECK_TOLERANCE);
  });

  it.skipIf(!canProbe)("on a generic fallback (Prescott), sets OPENBLAS_CORETYPE to the CPU's kernels after the child's check", () => {
    delete process.env.OPENBLAS_CORETYPE;
    const want = cpuVectorIsa(cpuinfo) === "avx512" ? "SkylakeX" : "Haswell";
    const seen: (string | undefined)[] = [];
    // The first probe pretends OpenBLAS fell back; the second is real, with the chosen core.
    const r = prepareBlasCore(NATIVE_ADDON_PATH, (env) => {
      seen.push(env.OPENBLAS_CORETYPE);
      return env.OPENBLAS_CORETYPE ? probeBlasCore(NATIVE_ADDON_PATH, env) : { core: "Prescott", error: 0 };
    });
    expect(seen).toEqual([undefined, want]);
    expect(r.source).toBe("chosen");
    expect(r.defaultCore).toBe("Prescott");
    expect(r.note).toContain(`using ${want}`);
    expect(process.env.OPENBLAS_CORETYPE).toBe(want);
  });

  it("keeps OpenBLAS's choice when the chosen core fails its check or kills the child", () => {
    for (const bad of [{ core: "SkylakeX", error: 0.3 }, { why: "killed by SIGILL" }] as ProbeResult[]) {
      delete process.env.OPENBLAS_CORETYPE;
      if (!fs.existsSync(NATIVE_ADDON_PATH) || cpuVectorIsa(cpuinfo) === "none") return; // needs the addon and /proc/cpuinfo
      const r = prepareBlasCore(NATIVE_ADDON_PATH, (env) => (env.OPENBLAS_CORETYPE ? bad : { core: "Prescott", error: 0 }));
      expect(r.source).toBe("default");
      expect(r.note).toMatch(/failed its check/);
      expect(process.env.OPENBLAS_CORETYPE).toBeUndefined();
    }
  });
});

describe("the probes' cache", () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
  });
  /** A scratch cache folder, a stand-in addon file in it, and a probe that counts its calls. */
  function setup() {
    const dir = fs.mkdtempSync(path.join(require("os").tmpdir(), "vae-lab-blascache-"));
    dirs.push(dir);
    const addon = path.join(dir, "addon.node");
    fs.writeFileSync(addon, "stand-in");
    const calls: (string | undefined)[] = [];
    let answer: ProbeResult = { core: "Haswell", error: 1e-7 };
    const probe = (env: NodeJS.ProcessEnv) => {
      calls.push(env.OPENBLAS_CORETYPE);
      return answer;
    };
    return { dir, addon, file: path.join(dir, "cache", "vae-lab", "openblas-core.json"), calls, probe, answer: (a: ProbeResult) => (answer = a) };
  }

  it("lives in XDG_CACHE_HOME (else ~/.cache) under vae-lab/, and nowhere with VAE_LAB_BLAS_CACHE=off", () => {
    expect(blasCoreCacheFile({ XDG_CACHE_HOME: "/x/cache" })).toBe("/x/cache/vae-lab/openblas-core.json");
    expect(blasCoreCacheFile({})).toBe(path.join(require("os").homedir(), ".cache", "vae-lab", "openblas-core.json"));
    expect(blasCoreCacheFile({ XDG_CACHE_HOME: "/x/cache", VAE_LAB_BLAS_CACHE: "off" })).toBeUndefined();
  });

  it("answers a second ask for the same setup from the file, without a child; another OPENBLAS_CORETYPE, CPU or addon asks again", () => {
    const t = setup();
    const env = { OPENBLAS_CORETYPE: "Haswell" };
    expect(cachedProbe(t.addon, env, t.probe, t.file, HASWELL_FLAGS)).toEqual({ core: "Haswell", error: 1e-7 });
    expect(cachedProbe(t.addon, env, t.probe, t.file, HASWELL_FLAGS)).toEqual({ core: "Haswell", error: 1e-7 });
    expect(t.calls).toEqual(["Haswell"]);
    t.answer({ core: "Prescott", error: 0 });
    expect(cachedProbe(t.addon, {}, t.probe, t.file, HASWELL_FLAGS)).toEqual({ core: "Prescott", error: 0 });
    expect(cachedProbe(t.addon, {}, t.probe, t.file, HASWELL_FLAGS)).toEqual({ core: "Prescott", error: 0 });
    expect(t.calls).toEqual(["Haswell", undefined]);
    // Another CPU (flags), then a rebuilt addon (new size and time): asked again, each once.
    cachedProbe(t.addon, {}, t.probe, t.file, SKYLAKE_FLAGS);
    cachedProbe(t.addon, {}, t.probe, t.file, SKYLAKE_FLAGS);
    expect(t.calls).toHaveLength(3);
    fs.writeFileSync(t.addon, "rebuilt stand-in");
    fs.utimesSync(t.addon, new Date(2020, 0, 1), new Date(2020, 0, 1));
    cachedProbe(t.addon, {}, t.probe, t.file, HASWELL_FLAGS);
    cachedProbe(t.addon, {}, t.probe, t.file, HASWELL_FLAGS);
    expect(t.calls).toHaveLength(4);
    // Each setup kept its own entry.
    expect(Object.keys(JSON.parse(fs.readFileSync(t.file, "utf8")).entries)).toHaveLength(4);
  });

  it("never keeps a failure to answer (a killed child is probed again next time)", () => {
    const t = setup();
    t.answer({ why: "killed by SIGILL" });
    expect(cachedProbe(t.addon, { OPENBLAS_CORETYPE: "SkylakeX" }, t.probe, t.file, HASWELL_FLAGS)).toEqual({ why: "killed by SIGILL" });
    expect(cachedProbe(t.addon, { OPENBLAS_CORETYPE: "SkylakeX" }, t.probe, t.file, HASWELL_FLAGS)).toEqual({ why: "killed by SIGILL" });
    expect(t.calls).toEqual(["SkylakeX", "SkylakeX"]);
    expect(fs.existsSync(t.file)).toBe(false);
  });

  it("a damaged, oversized or foreign cache file is treated as empty and replaced; an unwritable one leaves the probe's answer as it was", () => {
    const t = setup();
    fs.mkdirSync(path.dirname(t.file), { recursive: true });
    for (const junk of ["{ not json", JSON.stringify({ version: 2, entries: {} }), " ".repeat(70 * 1024), JSON.stringify({ version: 1, entries: { ["a".repeat(64)]: { core: "rm -rf", error: 0 } } })]) {
      fs.writeFileSync(t.file, junk);
      const before = t.calls.length;
      expect(cachedProbe(t.addon, {}, t.probe, t.file, HASWELL_FLAGS)).toEqual({ core: "Haswell", error: 1e-7 });
      expect(t.calls.length).toBe(before + 1);
      expect(JSON.parse(fs.readFileSync(t.file, "utf8")).version).toBe(1);
      fs.rmSync(t.file);
    }
    // The cache's folder is a file: nothing can be written, the answer still comes back, and every ask probes.
    const blocked = path.join(t.dir, "blocked");
    fs.writeFileSync(blocked, "");
    const file = path.join(blocked, "vae-lab", "openblas-core.json");
    expect(cachedProbe(t.addon, {}, t.probe, file, HASWELL_FLAGS)).toEqual({ core: "Haswell", error: 1e-7 });
    expect(cachedProbe(t.addon, {}, t.probe, file, HASWELL_FLAGS)).toEqual({ core: "Haswell", error: 1e-7 });
    expect(t.calls.length).toBe(6);
  });

  it("keeps at most 32 setups, the newest", () => {
    const t = setup();
    for (let i = 0; i < 40; i++) cachedProbe(t.addon, { OPENBLAS_CORETYPE: `Core${i}` }, t.probe, t.file, HASWELL_FLAGS);
    expect(Object.keys(JSON.parse(fs.readFileSync(t.file, "utf8")).entries)).toHaveLength(32);
    cachedProbe(t.addon, { OPENBLAS_CORETYPE: "Core39" }, t.probe, t.file, HASWELL_FLAGS);
    expect(t.calls).toHaveLength(40);
    cachedProbe(t.addon, { OPENBLAS_CORETYPE: "Core0" }, t.probe, t.file, HASWELL_FLAGS);
    expect(t.calls).toHaveLength(41);
  });

  it.skipIf(!cliProbes)("vae-lab info probes once, then reads the answer: the second run starts no child (a preload counts them)", () => {
    const dir = fs.mkdtempSync(path.join(require("os").tmpdir(), "vae-lab-blascache-cli-"));
    dirs.push(dir);
    const log = path.join(dir, "children.log");
    const preload = path.join(dir, "count.js");
    // The probing child is `node -e` (one argv entry); each one appends a line.
    fs.writeFileSync(preload, `if (process.argv.length === 1) require("fs").appendFileSync(${JSON.stringify(log)}, "probe\\n");\n`);
    const cli = path.resolve(__dirname, "../dist/cli/main.js");
    const env = { ...process.env, XDG_CACHE_HOME: path.join(dir, "cache"), NODE_OPTIONS: `--require ${preload}` };
    delete env.VAE_LAB_BLAS_CACHE;
    const lines = () => (fs.existsSync(log) ? fs.readFileSync(log, "utf8").trim().split("\n").length : 0);
    const first = spawnSync(process.execPath, [cli, "info"], { encoding: "utf8", timeout: 120_000, env });
    expect(first.status).toBe(0);
    const probes = lines();
    expect(probes).toBeGreaterThanOrEqual(1);
    expect(fs.existsSync(path.join(dir, "cache", "vae-lab", "openblas-core.json"))).toBe(true);
    const second = spawnSync(process.execPath, [cli, "info"], { encoding: "utf8", timeout: 120_000, env });
    expect(second.status).toBe(0);
    expect(lines()).toBe(probes);
    const blas = (out: string) => out.split("\n").find((l) => l.startsWith("blas:"));
    expect(blas(second.stdout)).toBe(blas(first.stdout));
    expect(blas(second.stdout)).toMatch(/^blas: {4}OpenBLAS core \w+/);
  });
});
