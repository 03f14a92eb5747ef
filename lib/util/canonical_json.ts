/**
 * Canonical JSON: JSON.stringify with every object's keys sorted, at any depth, so two values
 * with the same content give the same text whatever order their keys were set in (run keys,
 * lib/experiments/plan.ts; checkpoint fingerprints, lib/training/checkpoint.ts). Run keys are
 * hashes of this text: it must never change (tests/run_key_pin_test.ts).
 *
 * As JSON.stringify: an undefined (or function) value gives undefined at the top, and a member
 * whose value is undefined is written as `"k":undefined` (no committed key has one).
 */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  if (value !== null && typeof value === "object") {
    const keys = Object.keys(value).sort();
    return `{${
      keys.map((k) => `${JSON.stringify(k)}:${canonicalJson((value as any)[k])}`).join(",")
    }}`;
  }
  return JSON.stringify(value);
}
