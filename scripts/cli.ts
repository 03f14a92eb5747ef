/**
 * What the command-line scripts share: options parsed strictly, --help, and bad input answered
 * with the error's one sentence (exit 2) instead of a stack trace. Unexpected errors still throw.
 */
import { parseArgs, type ParseArgsConfig } from "node:util";
import { UserError } from "../lib/util/user_error.ts";

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
  let parsed;
  try {
    parsed = parseArgs({
      args: joinDashValues(args, options),
      strict: true,
      allowPositionals: false,
      options,
      tokens: true,
    });
  } catch (err) {
    fail(`${err instanceof Error ? err.message.split("\n")[0] : err}; see --help.`);
  }
  // parseArgs keeps the last of a repeated option: say so instead of dropping the first.
  const seen = new Map<string, number>();
  for (const t of parsed.tokens ?? []) {
    if (t.kind === "option" && !options[t.name]?.multiple) {
      seen.set(t.name, (seen.get(t.name) ?? 0) + 1);
    }
  }
  for (const [name, times] of seen) {
    if (times > 1) {
      fail(
        `Option --${name} was given ${times} times; give it once (a comma list takes several values).`,
      );
    }
  }
  return parsed.values as unknown as Values<O>;
}

/**
 * `--seeds -1` as `--seeds=-1`: a string option's value may start with "-" unless it is itself an
 * option, so the value's own check answers it (parseArgs would call it "ambiguous"). A string
 * option followed by another option or by nothing gets one sentence.
 */
function joinDashValues(args: string[], options: Options): string[] {
  const flags = new Set(
    Object.entries(options).flatMap(([n, o]) => [`--${n}`, ...(o.short ? [`-${o.short}`] : [])]),
  );
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    const name = a.startsWith("--") ? a.slice(2) : undefined;
    if (name === undefined || a.includes("=") || !Object.hasOwn(options, name)) {
      out.push(a);
      continue;
    }
    if (options[name].type !== "string") {
      out.push(a);
      continue;
    }
    const next = args[i + 1];
    if (next === undefined || flags.has(next.split("=")[0]) || next === "--") {
      fail(`Option --${name} needs a value; see --help.`);
    }
    out.push(`${a}=${next}`);
    i++;
  }
  return out;
}

/** Errors whose message is already the whole answer for the user (lib/util/user_error.ts). */
export function isUserError(err: unknown): err is UserError {
  return err instanceof UserError;
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
