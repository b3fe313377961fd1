/**
 * `vae-lab train --resume DIR`: the job configuration of a run continued from DIR (its model.json and
 * training-state.json, written by an earlier `vae-lab train --out DIR`).
 */
import * as path from "path";
import { loadTrainingState } from "../vae/checkpoint";
import { JobConfig } from "./job";
import { backendFlag, intFlag, parse, UsageError } from "./main";

/** Flags that may change when resuming; every other train flag is fixed by the run being continued. */
const RESUME_FLAGS = ["resume", "epochs", "out", "backend", "data", "iwae-k", "iwae-images"] as const;

export const RESUME_HELP = `Resuming (vae-lab train --resume DIR [--epochs N] [--out DIR2] [--data DIR] [--backend B] [--iwae-k N] [--iwae-images N]):
  continues the run saved in DIR — its model.json and training-state.json (Adam's step and moments, the
  random stream) — for --epochs N more epochs [as many as that run had], with that run's settings, and
  writes to --out [DIR itself]. 1 + 1 epochs give the same weights as 2 epochs in one run.
`;

/** Parse `train --resume DIR ...` into the job that continues DIR. */
export function parseResumeFlags(argv: string[], trainFlags: readonly string[]): JobConfig {
  const { values } = parse(argv, Object.fromEntries([...trainFlags, "resume"].map((f) => [f, { type: "string" as const }])));
  const fixed = Object.keys(values).filter((k) => !(RESUME_FLAGS as readonly string[]).includes(k));
  if (fixed.length) throw new UsageError(`--${fixed[0]}: cannot be changed when resuming (the run in ${values.resume} fixes it)`);
  const dir = values.resume as string;
  const { extra } = loadTrainingState(path.join(dir, "training-state.json"));
  const job = extra?.job as JobConfig | undefined;
  if (!job || typeof job.epochs !== "number") throw new UsageError(`--resume: ${path.join(dir, "training-state.json")} holds no job settings`);
  return {
    ...job,
    epochs: intFlag(values, "epochs", job.epochs),
    out: (values.out as string | undefined) ?? dir,
    backend: values.backend === undefined ? job.backend : backendFlag(values.backend),
    data: (values.data as string | undefined) ?? job.data,
    iwaeK: intFlag(values, "iwae-k", job.iwaeK, 0),
    iwaeImages: intFlag(values, "iwae-images", job.iwaeImages),
    resume: dir,
  };
}
