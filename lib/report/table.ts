/**
 * Tables for reading: a notebook's last expression shows a polars DataFrame with every float in
 * full (`1.3032287642118246e-13`, `10.986122886681098`). `readableTable` rounds the floats of a
 * table to a few significant digits for display only; CSVs are written from the unrounded data.
 */
import pl from "nodejs-polars";

export interface ReadableOptions {
  /** Significant digits of every float column (default 4). */
  digits?: number;
  /** Significant digits of named columns, overriding `digits` (e.g. check values to compare). */
  columns?: Record<string, number>;
}

/**
 * x rounded to `digits` significant digits, as a number (so the table prints its shortest form:
 * 10.99, 0.0007655, 1.303e-13). Integers, 0, NaN and ±Infinity come back unchanged.
 */
export function roundSignificant(x: number, digits: number): number {
  if (!Number.isInteger(digits) || digits < 1 || digits > 17) {
    throw new RangeError(`digits must be an integer from 1 to 17, got ${digits}.`);
  }
  if (!Number.isFinite(x) || Number.isInteger(x)) return x;
  return Number(x.toPrecision(digits));
}

/**
 * The table (a DataFrame, or rows as objects) with its float columns rounded for reading; other
 * columns (strings, booleans, integer columns) and nulls are unchanged. Use it for display only:
 *
 *   readableTable(rows)                                   // 4 significant digits
 *   readableTable(df, { digits: 6, columns: { gap: 2 } }) // 6, and 2 for the column "gap"
 */
export function readableTable(
  table: pl.DataFrame | Record<string, unknown>[],
  options: ReadableOptions = {},
): pl.DataFrame {
  const { digits = 4, columns = {} } = options;
  roundSignificant(0.5, digits); // validates digits
  for (const [name, n] of Object.entries(columns)) {
    try {
      roundSignificant(0.5, n);
    } catch (err) {
      throw new RangeError(`column ${name}: ${(err as Error).message}`);
    }
  }
  const df = Array.isArray(table) ? pl.DataFrame(table) : table;
  const unknown = Object.keys(columns).filter((name) => !df.columns.includes(name));
  if (unknown.length > 0) {
    throw new RangeError(`readableTable: no column ${unknown.join(", ")} in [${df.columns}].`);
  }
  return pl.DataFrame(
    df.getColumns().map((s) => {
      if (!s.isFloat()) return s;
      const n = columns[s.name] ?? digits;
      const values = Array.from(
        s as Iterable<number | null>,
        (v) => v === null ? null : roundSignificant(v, n),
      );
      return pl.Series(s.name, values, s.dtype);
    }),
  );
}
