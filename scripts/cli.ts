/**
 * What the command-line scripts share: options parsed strictly, --help, and bad input answered
 * with the error's one sentence (exit 2) instead of a stack trace. Unexpected errors still throw.
 */
import { parseArgs, type ParseArgsConfig } from "node:util";
import { BackendError } from "../lib/backend/backend.ts";
import { CheckpointError } from "../lib/training/checkpoint.ts";
import { DatasetError } from "../lib/data/data.ts";
import { ExperimentError } from "../lib/experiments/grid.ts";
import { ModelFileError } from "../lib/models/model_file.ts";
import { TrainingDivergedError } from "../lib/training/train.ts";
import { OptionError } from "../lib/util/validate.ts";

export function fail(message: string): never {
  console.error(message);
  Deno.exit(2);
}

type Options = NonNullable<ParseArgsConfig["options"]>;
/** The parsed values: booleans, strings with a default, other strings possibly undefined. */
type Values<O extends Options> = {
  [K in keyof O]: O[K] extends { type: "boolean" } ? boolean
    : O[K] extends { default: string } ? string
    : string | undefined;
};

/** Parse Deno.args; print `help` and exit on --help or -h; one sentence on an unknown option. */
export function parseCli<const O extends Options>(
  options: O,
  help: string,
): Values<O> {
  const values = parseCliArgs(Deno.args, options, help);
  if (values === null) Deno.exit(0);
  return values;
}

/**
 * parseCli for given arguments, without exiting on --help or -h: it prints `help` and returns
 * null, so the caller decides what comes next (bench/options.ts: a shell script that must not
 * install anything). An unknown or malformed option still ends with its one sentence (exit 2).
 */
export function parseCliArgs<const O extends Options>(
  args: string[],
  options: O,
  help: string,
): Values<O> | null {
  if (args.includes("--help") || args.includes("-h")) {
    console.log(help);
    return null;
  }
  try {
    return parseArgs({ args, strict: true, allowPositionals: false, options })
      .values as unknown as Values<O>;
  } catch (err) {
    fail(`${err instanceof Error ? err.message : err}; see --help.`);
  }
}

/** Errors whose message is already the whole answer for the user. */
export function isUserError(err: unknown): err is Error {
  return err instanceof ExperimentError || err instanceof DatasetError ||
    err instanceof OptionError ||
    err instanceof CheckpointError || err instanceof TrainingDivergedError ||
    err instanceof BackendError || err instanceof ModelFileError;
}

/** Run a script's body; bad input and missing data end with their one sentence. */
export async function runCli(main: () => Promise<void>): Promise<void> {
  try {
    await main();
  } catch (err) {
    if (!isUserError(err)) throw err;
    fail(err.message);
  }
}
