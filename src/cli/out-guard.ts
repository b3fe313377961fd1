/**
 * What every command that writes checks before it computes anything: that its --out cannot destroy what the
 * user made — the checkpoint it reads, or a file of a training run's output set — and that the file's
 * extension names the format that will be written into it. Each refusal is one line naming the flag.
 */
import * as fs from "fs";
import * as path from "path";
import { OUTPUT_FILES } from "./job-config";
import { UsageError } from "./main";

/** Whether two paths name the same file (through links too), where both exist; else whether they resolve alike. */
function sameFile(a: string, b: string): boolean {
  try {
    const sa = fs.statSync(a);
    const sb = fs.statSync(b);
    return sa.dev === sb.dev && sa.ino === sb.ino;
  } catch {
    return path.resolve(a) === path.resolve(b);
  }
}

/** A folder that holds a training run: the files vae-lab train leaves there. */
function isRunFolder(dir: string): boolean {
  return ["model.json", "training-state.json"].some((f) => fs.existsSync(path.join(dir, f)));
}

/**
 * Refuse an --out file that is one of `inputs` (flag → file read), that would replace a file of a training
 * run's output set, or whose extension is not one of `extensions` (lower case, without the dot).
 */
export function checkOutFile(out: string, extensions: readonly string[], inputs: Record<string, string | undefined> = {}): void {
  const ext = path.extname(out).slice(1).toLowerCase();
  if (!extensions.includes(ext)) {
    throw new UsageError(`--out: expected ${extensions.map((e) => `a .${e}`).join(" or ")} file (the format written follows the extension), got "${out}"`);
  }
  for (const [flag, file] of Object.entries(inputs)) {
    if (file !== undefined && sameFile(out, file)) throw new UsageError(`--out: ${out} is the --${flag} file, which would be overwritten; choose another --out`);
  }
  const dir = path.dirname(path.resolve(out));
  if ((OUTPUT_FILES as readonly string[]).includes(path.basename(out)) && isRunFolder(dir)) {
    throw new UsageError(`--out: ${out} would replace the ${path.basename(out)} of the training run in ${dir}; choose another --out`);
  }
  try {
    if (fs.statSync(out).isDirectory()) throw new UsageError(`--out: ${out} is a folder; give a file name`);
  } catch (e) {
    if (e instanceof UsageError) throw e;
  }
}

/** Refuse an --out folder that exists as something other than a folder. */
export function checkOutFolder(out: string): void {
  try {
    if (!fs.statSync(out).isDirectory()) throw new UsageError(`--out: ${out} is a file, not a folder`);
  } catch (e) {
    if (e instanceof UsageError) throw e;
  }
}
