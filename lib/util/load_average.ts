/**
 * The machine's 1-minute load average, or null where the platform has none. Recorded beside
 * timings (results rows, measure cache rows): a slow run on a busy machine says so.
 */
export function loadAverage(): number | null {
  try {
    return Deno.loadavg()[0];
  } catch {
    return null;
  }
}
