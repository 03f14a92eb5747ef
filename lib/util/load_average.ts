/**
 * The machine's load averages, recorded beside timings (results rows, measure cache rows, bench
 * output): a slow run on a busy machine says so.
 */

/** The 1-minute load average, or null where the platform has none. */
export function loadAverage(): number | null {
  try {
    return Deno.loadavg()[0];
  } catch {
    return null;
  }
}

/** The 1, 5 and 15-minute load averages as "a b c" (two decimals), or "n/a" where the platform has none. */
export function loadAverages(): string {
  try {
    return Deno.loadavg().map((v) => v.toFixed(2)).join(" ");
  } catch {
    return "n/a";
  }
}
