/**
 * Running a command that file permissions apply to, whoever runs the tests and wherever the checkout is.
 *
 * Root (CI) passes every permission check through two capabilities, CAP_DAC_OVERRIDE and
 * CAP_DAC_READ_SEARCH. `unprivileged(cmd, args)` starts the command through util-linux's setpriv with both
 * dropped: it is still root, so it still reads the checkout wherever it lives (a mode-700 home folder, a
 * `mktemp -d` folder), which running it as `nobody` could not, but a folder it lacks write permission for
 * refuses it with EACCES as it would refuse a user. Not root: the permissions already apply; the command is
 * run as it is.
 *
 * `permissionsUnenforced` says why that cannot be arranged here (root without setpriv, or a system that lets
 * the command write anyway); undefined when it can. It is probed once, by writing into a mode-555 folder.
 */
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";

const isRoot = process.getuid?.() === 0;
const DROPPED = "-dac_override,-dac_read_search";

/** `[cmd, args]` wrapped so that file permissions apply to the command. */
export function unprivileged(cmd: string, args: string[]): [string, string[]] {
  return isRoot ? ["setpriv", ["--bounding-set", DROPPED, "--inh-caps", DROPPED, "--", cmd, ...args]] : [cmd, args];
}

function probe(): string | undefined {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "vae-lab-perm-"));
  try {
    const locked = path.join(dir, "locked");
    fs.mkdirSync(locked, { mode: 0o555 });
    fs.chmodSync(locked, 0o555);
    const [cmd, args] = unprivileged("sh", ["-c", 'touch "$1/x"', "sh", locked]);
    const r = spawnSync(cmd, args, { encoding: "utf8" });
    if (r.error) return `${cmd} could not be started (${r.error.message})`;
    if (r.status === 0) return `a mode-555 folder was writable${isRoot ? " after dropping CAP_DAC_OVERRIDE" : ""}`;
    if (!/denied/i.test(r.stderr)) return `writing into a mode-555 folder failed otherwise: ${r.stderr.trim()}`;
    return undefined;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** Why file permissions cannot be made to apply to a child here (undefined: they can). */
export const permissionsUnenforced: string | undefined = probe();
