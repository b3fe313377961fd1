/**
 * Fault injection for the tests, kept out of the shipped code. Preloaded into a CLI run with
 * `node --require test/harness/fault-preload.cjs dist/cli/main.js …`, it patches the build that CLI belongs
 * to (process.argv[1] is its dist/cli/main.js), as its environment asks:
 *
 * - VAE_LAB_TEST_KILL_AT=STEP: writeOutputSet kills the process with SIGKILL at that step ("staged
 *   report.html", "committed", "moved encoder/model.json", …; see files/output-set.ts) the first time it is
 *   reached; STEP#N: at that step of the N-th set written (train writes its epoch checkpoint, a set of its
 *   own, after every epoch, then its outputs);
 * - VAE_LAB_TEST_SIGNAL_IN=MODULE:FUNCTION:SIGNAL: the process sends itself SIGNAL when FUNCTION of
 *   dist/MODULE.js is first called (e.g. "vae/layers-export:layersExportFiles:SIGTERM"), so a test can
 *   interrupt a command at a known point of its work.
 *
 * The CLI itself has no such hooks: these variables do nothing to a user's run.
 */
const path = require("path");
const dist = path.resolve(path.dirname(process.argv[1]), "..");

const killAt = process.env.VAE_LAB_TEST_KILL_AT;
if (killAt) {
  const [step, nth] = killAt.split("#");
  const outputSet = require(path.join(dist, "files/output-set.js"));
  const write = outputSet.writeOutputSet;
  let sets = 0;
  outputSet.writeOutputSet = (dir, files, at) => {
    sets++;
    return write(dir, files, (s) => {
      if (at) at(s);
      if (s === step && (nth === undefined || sets === Number(nth))) process.kill(process.pid, "SIGKILL");
    });
  };
}

const signalIn = process.env.VAE_LAB_TEST_SIGNAL_IN;
if (signalIn) {
  const [mod, fn, signal] = signalIn.split(":");
  const m = require(path.join(dist, `${mod}.js`));
  const original = m[fn];
  if (typeof original !== "function") throw new Error(`fault-preload: dist/${mod}.js has no function ${fn}`);
  let sent = false;
  m[fn] = function (...args) {
    if (!sent) {
      sent = true;
      process.kill(process.pid, signal);
    }
    return original.apply(this, args);
  };
}
