#!/usr/bin/env node
/**
 * The `vae-lab` command. Every user error (unknown flag, bad value, unreadable data) ends with one line on
 * stderr naming the flag or file, and a non-zero exit; VAE_LAB_DEBUG=1 shows stack traces.
 */
import { parseArgs } from "util";
import { BackendChoice, initBackend, parseBackendChoice } from "./backend";
import { defaultMnistDir, labelCounts, loadMnist } from "./mnist";

/** An error in how the command was called: exit code 2, with a pointer to --help. */
export class UsageError extends Error {}

const HELP = `vae-lab — Variational Autoencoders on MNIST with TensorFlow.js

Usage:
  vae-lab info [--backend auto|tensorflow|wasm|cpu] [--data DIR]
      Show the backend that runs here and the MNIST files that would be read.
  vae-lab --help

Environment: VAE_LAB_BACKEND (default backend), VAE_LAB_DEBUG=1 (stack traces on errors).
`;

type Parsed = ReturnType<typeof parseArgs>;

function parse(argv: string[], options: NonNullable<Parameters<typeof parseArgs>[0]>["options"]): Parsed {
  try {
    return parseArgs({ args: argv, options, strict: true, allowPositionals: false });
  } catch (e) {
    // Node's messages are long and multi-line; keep the first line, which names the flag.
    throw new UsageError((e as Error).message.split("\n")[0].replace(/\. To specify.*$/, ""));
  }
}

function backendFlag(value: unknown): BackendChoice {
  try {
    return parseBackendChoice(value as string | undefined, "--backend");
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
}

async function info(argv: string[]): Promise<void> {
  const { values } = parse(argv, { backend: { type: "string" }, data: { type: "string" } });
  const backend = await initBackend(backendFlag(values.backend));
  const dir = (values.data as string | undefined) ?? defaultMnistDir();
  const train = loadMnist({ dir, split: "train" });
  const test = loadMnist({ dir, split: "test" });
  console.log(`backend: ${backend.summary}`);
  console.log(`data:    ${dir}`);
  console.log(`         train ${train.count} × ${train.rows}×${train.cols}, test ${test.count}; digits per class ${labelCounts(train).join(" ")}`);
}

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case undefined:
      case "-h":
      case "--help":
      case "help":
        process.stdout.write(HELP);
        return 0;
      case "info":
        await info(rest);
        return 0;
      default:
        throw new UsageError(`unknown command "${command}"`);
    }
  } catch (e) {
    const usage = e instanceof UsageError;
    const msg = e instanceof Error ? e.message : String(e);
    process.stderr.write(`vae-lab: ${msg}${usage ? " (see vae-lab --help)" : ""}\n`);
    if (process.env.VAE_LAB_DEBUG && e instanceof Error) process.stderr.write(`${e.stack}\n`);
    return usage ? 2 : 1;
  }
}

if (require.main === module) {
  main(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}
