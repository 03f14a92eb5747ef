/**
 * Option checks shared by the library. Every failure is an OptionError whose one sentence names
 * the option, the bad value and the valid range, e.g.
 *   "Invalid option rho: got -0.1, expected a finite number >= 0."
 */
import { UserError } from "./user_error.ts";

export class OptionError extends UserError {
  override name = "OptionError";
}

function show(value: unknown): string {
  if (typeof value === "string") return JSON.stringify(value);
  if (typeof value === "number" || typeof value === "boolean" || value == null) {
    return String(value);
  }
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}

export function fail(option: string, value: unknown, expected: string): never {
  throw new OptionError(`Invalid option ${option}: got ${show(value)}, expected ${expected}.`);
}

export interface NumberRule {
  /** Inclusive lower bound. */
  min?: number;
  /** Exclusive lower bound. */
  above?: number;
  /** Inclusive upper bound. */
  max?: number;
  /** Exclusive upper bound. */
  below?: number;
  integer?: boolean;
}

function describe(rule: NumberRule): string {
  const kind = rule.integer ? "an integer" : "a finite number";
  const parts: string[] = [];
  if (rule.min !== undefined) parts.push(`>= ${rule.min}`);
  if (rule.above !== undefined) parts.push(`> ${rule.above}`);
  if (rule.max !== undefined) parts.push(`<= ${rule.max}`);
  if (rule.below !== undefined) parts.push(`< ${rule.below}`);
  return parts.length ? `${kind} ${parts.join(" and ")}` : kind;
}

/** A finite number obeying the rule; returns it. */
export function checkNumber(option: string, value: unknown, rule: NumberRule = {}): number {
  const ok = typeof value === "number" && Number.isFinite(value) &&
    (!rule.integer || Number.isInteger(value)) &&
    (rule.min === undefined || value >= rule.min) &&
    (rule.above === undefined || value > rule.above) &&
    (rule.max === undefined || value <= rule.max) &&
    (rule.below === undefined || value < rule.below);
  if (!ok) fail(option, value, describe(rule));
  return value as number;
}

/** One of the listed strings; returns it. */
export function checkChoice<T extends string>(
  option: string,
  value: unknown,
  choices: readonly T[],
): T {
  if (typeof value !== "string" || !(choices as readonly string[]).includes(value)) {
    fail(option, value, `one of ${choices.map((c) => JSON.stringify(c)).join(", ")}`);
  }
  return value as T;
}

export function checkBoolean(option: string, value: unknown): boolean {
  if (typeof value !== "boolean") fail(option, value, "true or false");
  return value;
}

/** Reject keys that no option has, so a typo does not silently fall back to a default. */
export function checkKnownKeys(
  what: string,
  options: object,
  known: readonly string[],
): void {
  for (const key of Object.keys(options)) {
    if (!known.includes(key)) {
      throw new OptionError(
        `Unknown ${what} option ${JSON.stringify(key)}: valid options are ${known.join(", ")}.`,
      );
    }
  }
}
