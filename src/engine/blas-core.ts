/**
 * Which OpenBLAS kernel set ("core") the native addon runs on, chosen before OpenBLAS loads.
 *
 * A dynamic-arch OpenBLAS (Debian's) picks its kernels once, when the library is loaded, from the CPU model
 * it recognises — or from OPENBLAS_CORETYPE. A CPU newer than the library (OpenBLAS 0.3.21 on a 2023 Xeon)
 * is not recognised and gets the generic "Prescott" kernels, 3–4× slower than the AVX-512 ones the CPU can
 * run. So before the addon (and with it OpenBLAS) is loaded into this process:
 *
 * 1. a child process loads it and reports the core OpenBLAS picks on its own;
 * 2. if that core lacks the vector instructions the CPU has (AVX2, AVX-512), a second child loads it with
 *    OPENBLAS_CORETYPE set to the matching kernel set (SkylakeX, Haswell) and checks an sgemm against a plain
 *    product — a kernel the CPU cannot run dies there, not here;
 * 3. only if that passes is OPENBLAS_CORETYPE set in this process, before the addon is loaded.
 *
 * A user's own OPENBLAS_CORETYPE is respected where a child process runs it and passes the same check; one
 * this CPU cannot run (SkylakeX on an AVX2-only CPU dies of SIGILL) is dropped, with a note saying why, and
 * the choice above is made instead. After loading, the core in use is checked once more with the same
 * numeric self-check (native-kernels.ts).
 */
import { spawnSync } from "child_process";
import { createHash } from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { writeFileAtomic } from "../files/atomic-write";
import { readFileBounded } from "../files/bounded-read";

export type VectorIsa = "avx512" | "avx2" | "none";

/** The widest vector instruction set OpenBLAS has kernels for, from /proc/cpuinfo's flags line. */
export function cpuVectorIsa(cpuinfo: string): VectorIsa {
  const line = cpuinfo.split("\n").find((l) => /^flags\s*:/.test(l)) ?? "";
  const flags = new Set(line.replace(/^flags\s*:/, "").trim().split(/\s+/));
  if (["avx512f", "avx512bw", "avx512vl", "avx512dq", "avx512cd"].every((f) => flags.has(f))) return "avx512";
  if (flags.has("avx2") && flags.has("fma")) return "avx2";
  return "none";
}

/** The vector instruction set an OpenBLAS core's kernels use (names as openblas_get_corename returns them). */
export function coreIsa(core: string): VectorIsa {
  const c = core.toLowerCase();
  if (["skylakex", "cooperlake", "sapphirerapids"].includes(c)) return "avx512";
  if (["haswell", "zen", "excavator"].includes(c)) return "avx2";
  return "none";
}

const RANK: Record<VectorIsa, number> = { none: 0, avx2: 1, avx512: 2 };

/**
 * The OPENBLAS_CORETYPE to set, or undefined to leave OpenBLAS's own choice: a core whose kernels use
 * narrower vectors than the CPU has (a generic fallback such as Prescott, or Haswell on an AVX-512 CPU) is
 * replaced by the kernel set matching the CPU.
 */
export function chooseCoreType(cpu: VectorIsa, defaultCore: string): "SkylakeX" | "Haswell" | undefined {
  if (RANK[coreIsa(defaultCore)] >= RANK[cpu]) return undefined;
  return cpu === "avx512" ? "SkylakeX" : cpu === "avx2" ? "Haswell" : undefined;
}

/** A matrix product checked against a plain float64 one: the largest error relative to the largest entry. */
export function sgemmSelfCheck(sgemm: (heap: Float32Array, a: number, b: number, c: number, batch: number, sa: number, sb: number, m: number, n: number, k: number, ta: boolean, tb: boolean) => void): number {
  const [m, n, k] = [37, 29, 53];
  const heap = new Float32Array(m * k + k * n + m * n);
  let s = 12345;
  for (let i = 0; i < m * k + k * n; i++) {
    s = (s * 1103515245 + 12345) % 2147483648;
    heap[i] = s / 1073741824 - 1;
  }
  sgemm(heap, 0, m * k, m * k + k * n, 1, 0, 0, m, n, k, false, false);
  let err = 0;
  let big = 0;
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let ref = 0;
      for (let t = 0; t < k; t++) ref += heap[i * k + t] * heap[m * k + t * n + j];
      err = Math.max(err, Math.abs(heap[m * k + k * n + i * n + j] - ref));
      big = Math.max(big, Math.abs(ref));
    }
  }
  return err / Math.max(big, 1e-30);
}

/** The self-check's bound: float32 sums of 53 products agree with float64 to ~1e-6 relative. */
export const SELF_CHECK_TOLERANCE = 1e-4;

export interface BlasCoreChoice {
  /** The core OpenBLAS picks on its own (undefined when not probed). */
  defaultCore?: string;
  /** What was set: "user" (OPENBLAS_CORETYPE already set), "chosen" (set here), or "default". */
  source: "user" | "chosen" | "default";
  /** One-line note for the backend summary, e.g. "OpenBLAS chose Prescott on an AVX-512 CPU; using SkylakeX". */
  note: string;
}

/** What a child process that loads the addon reports: the core OpenBLAS picked there and the self-check's error. */
export interface ProbeResult {
  core?: string;
  error?: number;
  /** Why there is no answer (the child died, e.g. on an instruction the CPU lacks). */
  why?: string;
}

/** Load the addon in a child process with environment `env`; report its core and the sgemm self-check. */
export function probeBlasCore(addonPath: string, env: NodeJS.ProcessEnv): ProbeResult {
  // The self-check is passed as source, so the child needs nothing but the addon.
  const script = `const a = require(${JSON.stringify(addonPath)}); const check = ${sgemmSelfCheck.toString()};
process.stdout.write(JSON.stringify({ core: a.coreName(), error: check(a.sgemm) }));`;
  const r = spawnSync(process.execPath, ["-e", script], { env, encoding: "utf8", timeout: 60000 });
  if (r.status !== 0) return { why: r.signal ? `killed by ${r.signal}` : (r.stderr || "").trim().split("\n")[0] };
  try {
    return JSON.parse(r.stdout) as ProbeResult;
  } catch {
    return { why: "no answer" };
  }
}

/**
 * Where the probes' answers are kept between runs, so that a command does not start a child process (about
 * 0.15 s) to learn what it learnt last time: $XDG_CACHE_HOME/vae-lab/openblas-core.json, else
 * ~/.cache/vae-lab/openblas-core.json; none with VAE_LAB_BLAS_CACHE=off.
 */
export function blasCoreCacheFile(env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (env.VAE_LAB_BLAS_CACHE === "off") return undefined;
  const cache = env.XDG_CACHE_HOME || path.join(os.homedir(), ".cache");
  return path.join(cache, "vae-lab", "openblas-core.json");
}

/** The cache file's bound: a few hundred bytes an entry, at most CACHE_ENTRIES entries. */
const CACHE_MAX_BYTES = 64 * 1024;
const CACHE_ENTRIES = 32;

/** Size, time and real path of a file, or "-" where it does not exist. */
function fileStamp(file: string): string {
  try {
    const st = fs.statSync(file);
    return `${fs.realpathSync(file)}:${st.size}:${st.mtimeMs}`;
  } catch {
    return "-";
  }
}

/**
 * What a probe's answer depends on, as one key: the CPU (its model and flags), the addon and the OpenBLAS
 * library the dynamic loader would give it (path, size, time), Node, and the OPENBLAS_CORETYPE the child
 * runs with. A new CPU, a rebuilt addon, an upgraded OpenBLAS or another Node each make a new key, so a
 * cached answer is only ever reused for the same setup.
 */
export function probeKey(addonPath: string, env: NodeJS.ProcessEnv, cpuinfo: string): string {
  const cpu = cpuinfo.split("\n").filter((l) => /^(model name|flags)\s*:/.test(l)).slice(0, 2).join("\n");
  const dirs = [...(env.LD_LIBRARY_PATH ?? "").split(":").filter(Boolean), "/usr/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu", "/usr/lib", "/usr/local/lib"];
  const blas = dirs.map((d) => fileStamp(path.join(d, "libopenblas.so.0"))).join(",");
  const parts = [cpu, fileStamp(addonPath), blas, process.execPath, process.version, env.OPENBLAS_CORETYPE ?? ""];
  return createHash("sha256").update(JSON.stringify(parts)).digest("hex");
}

type ProbeCache = Record<string, ProbeResult>;

/** The cache's entries; an absent, unreadable, oversized or malformed file counts as empty. */
function readProbeCache(file: string): ProbeCache {
  try {
    const data = JSON.parse(readFileBounded(file, CACHE_MAX_BYTES, "a cache file").toString("utf8")) as { version?: unknown; entries?: unknown };
    if (data.version !== 1 || typeof data.entries !== "object" || data.entries === null) return {};
    const entries: ProbeCache = {};
    for (const [k, v] of Object.entries(data.entries as Record<string, ProbeResult>)) {
      if (/^[0-9a-f]{64}$/.test(k) && typeof v?.core === "string" && /^[A-Za-z0-9]{1,40}$/.test(v.core) && (typeof v.error === "number" || v.error === null)) entries[k] = { core: v.core, error: v.error };
    }
    return entries;
  } catch {
    return {};
  }
}

/**
 * `probe`, answered from the cache file when the same setup (probeKey) was probed before. Only answers
 * (a core and its self-check error) are kept, never a failure to answer, which may not recur (a child
 * killed by a timeout on a busy machine); a child killed by an instruction the CPU lacks is probed again
 * each time, as before. The cache is a convenience: when it cannot be read or written, the probe runs.
 */
export function cachedProbe(addonPath: string, env: NodeJS.ProcessEnv, probe: (env: NodeJS.ProcessEnv) => ProbeResult, file = blasCoreCacheFile(env), cpuinfo?: string): ProbeResult {
  if (!file) return probe(env);
  let key: string;
  try {
    key = probeKey(addonPath, env, cpuinfo ?? fs.readFileSync("/proc/cpuinfo", "utf8"));
  } catch {
    return probe(env);
  }
  const entries = readProbeCache(file);
  if (entries[key]) return entries[key];
  const answer = probe(env);
  if (typeof answer.core !== "string") return answer;
  const kept = Object.entries({ ...entries, [key]: { core: answer.core, error: answer.error } }).slice(-CACHE_ENTRIES);
  try {
    writeFileAtomic(file, JSON.stringify({ version: 1, entries: Object.fromEntries(kept) }) + "\n");
  } catch {
    // Not writable (a read-only home, a full disk): the next run probes again.
  }
  return answer;
}

/**
 * Set OPENBLAS_CORETYPE for this process if OpenBLAS would fall back to narrower kernels than the CPU runs.
 * Call before the addon is first loaded. Does nothing where there is no /proc/cpuinfo or no addon, or where
 * the user set OPENBLAS_CORETYPE to a core that passes its check in a child (or set VAE_LAB_BLAS_CORE=keep).
 * The children's answers are reused from the cache (cachedProbe). `probe` is replaceable for tests.
 */
export function prepareBlasCore(addonPath: string, probe: (env: NodeJS.ProcessEnv) => ProbeResult = (env) => cachedProbe(addonPath, env, (e) => probeBlasCore(addonPath, e))): BlasCoreChoice {
  const userCore = process.env.OPENBLAS_CORETYPE;
  if (userCore && !fs.existsSync(addonPath)) return { source: "user", note: `OPENBLAS_CORETYPE=${userCore}` };
  if (userCore) {
    // The user's choice is kept if a child process runs it correctly; a core the CPU cannot run (SkylakeX on an
    // AVX2-only CPU dies of SIGILL) or that computes wrong products is dropped before OpenBLAS loads here.
    const r = probe(process.env);
    if (r.core && typeof r.error === "number" && r.error <= SELF_CHECK_TOLERANCE) return { source: "user", note: `OPENBLAS_CORETYPE=${userCore}` };
    delete process.env.OPENBLAS_CORETYPE;
    const why = r.why ? `a process using it failed (${r.why})` : r.core ? `its sgemm self-check failed (relative error ${r.error})` : "a process using it gave no answer";
    const rest = prepareBlasCore(addonPath, probe);
    const ignored = `OPENBLAS_CORETYPE=${userCore} ignored: ${why}`;
    return { ...rest, note: rest.note ? `${ignored}; ${rest.note}` : ignored };
  }
  if (process.env.VAE_LAB_BLAS_CORE === "keep" || !fs.existsSync(addonPath)) return { source: "default", note: "" };
  let cpu: VectorIsa = "none";
  try {
    cpu = cpuVectorIsa(fs.readFileSync("/proc/cpuinfo", "utf8"));
  } catch {
    return { source: "default", note: "" };
  }
  if (cpu === "none") return { source: "default", note: "" };
  const first = probe(process.env);
  if (!first.core) return { source: "default", note: "" };
  const choice = chooseCoreType(cpu, first.core);
  if (!choice) return { defaultCore: first.core, source: "default", note: "" };
  const second = probe({ ...process.env, OPENBLAS_CORETYPE: choice });
  const cpuName = cpu === "avx512" ? "AVX-512" : "AVX2";
  if (second.core !== choice || !(typeof second.error === "number" && second.error <= SELF_CHECK_TOLERANCE)) {
    return { defaultCore: first.core, source: "default", note: `OpenBLAS chose ${first.core} on an ${cpuName} CPU; ${choice} failed its check (${second.why ?? `core ${second.core}, error ${second.error}`})` };
  }
  process.env.OPENBLAS_CORETYPE = choice;
  return { defaultCore: first.core, source: "chosen", note: `OpenBLAS chose ${first.core} on an ${cpuName} CPU; using ${choice}` };
}
