/**
 * The median of the finite values (the mean of the two middle ones for an even count), NaN when
 * there are none. Non-finite values (a failed measurement recorded as NaN) are left out rather
 * than sorted somewhere arbitrary.
 */
export function median(values: readonly number[]): number {
  const s = values.filter(Number.isFinite).sort((x, y) => x - y);
  if (s.length === 0) return NaN;
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}
