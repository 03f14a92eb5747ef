/**
 * The rows an experiment can train, each a named training method with a short stable id that the
 * CLI takes and that joins with data/paper_tables.csv (paperRowId):
 * - the paper's 12 rows of Tables 1-2: ST; SAM at three rho; AT L-inf at 4 eps; AT L2 at 4 eps;
 * - beyond the paper: ASAM (adaptive SAM) at two radii and SAM+AT (SAM on PGD-AT inputs).
 *
 * The SAM rho of the paper's three SAM rows were lost from its text: {0.05, 0.1, 0.2} is assumed
 * (docs/theory.md#sam-rho-values; 0.05 is the authors' code default). RHO_NOTE says so.
 */
import { at, familyOf, type Method, sam, ST } from "../training/method.ts";
import { pgdInputs } from "../training/method.ts";
import { UserError } from "../util/user_error.ts";

/** A request the experiment runner cannot serve (unknown name, bad seed list); one sentence. */
export class ExperimentError extends UserError {
  override name = "ExperimentError";
}

export type RowGroup = "ST" | "SAM" | "AT-linf" | "AT-l2" | "ASAM" | "SAM+AT";

export interface GridRow {
  /** Stable, command-line friendly id: "ST", "SAM-0.05", "AT-linf-1", "AT-l2-16" (AT eps in 1/255). */
  id: string;
  group: RowGroup;
  method: Method;
  /** One of the paper's 12 rows (else our extension). */
  paper: boolean;
  /** Display label, e.g. "AT L∞ ε=4/255". */
  label: string;
}

export const RHO_NOTE =
  "SAM rho values: the paper's text lost them; {0.05, 0.1, 0.2} is assumed (docs/theory.md#sam-rho-values; 0.05 is the authors' code default).";

const SAM_RHOS = [0.05, 0.1, 0.2];
/** [eps, step, steps] in 1/255 units: the authors' L-inf AT settings. */
const AT_LINF: [number, number, number][] = [[1, 0.5, 5], [2, 1, 5], [4, 1, 10], [8, 2, 10]];
/** L2 AT: eps in 1/255, step eps/2, 5 steps. */
const AT_L2 = [16, 32, 64, 128];
/**
 * ASAM radii: Kwon et al. use rho 0.5-2 for ASAM where SAM uses 0.05-0.2 (the adaptive ball is
 * scaled by |w|, so the same rho moves weights far less); 0.5 and 1.0 bracket their CIFAR setting.
 */
const ASAM_RHOS = [0.5, 1.0];

/** The paper's 12 rows, in the tables' order. */
export const GRID: readonly GridRow[] = Object.freeze([
  { id: "ST", group: "ST", method: ST, paper: true, label: "ST" } as GridRow,
  ...SAM_RHOS.map((rho): GridRow => ({
    id: `SAM-${rho}`,
    group: "SAM",
    method: sam(rho),
    paper: true,
    label: `SAM ρ=${rho}*`,
  })),
  ...AT_LINF.map(([e, a, k]): GridRow => ({
    id: `AT-linf-${e}`,
    group: "AT-linf",
    method: at("linf", e / 255, a / 255, k),
    paper: true,
    label: `AT L∞ ε=${e}/255`,
  })),
  ...AT_L2.map((e): GridRow => ({
    id: `AT-l2-${e}`,
    group: "AT-l2",
    method: at("l2", e / 255, e / 2 / 255, 5),
    paper: true,
    label: `AT L2 ε=${e}/255`,
  })),
]);

/** Rows beyond the paper: ASAM at two radii, and SAM (rho 0.1) on PGD-AT L-inf 8/255 inputs. */
export const EXTRA_ROWS: readonly GridRow[] = Object.freeze([
  ...ASAM_RHOS.map((rho): GridRow => ({
    id: `ASAM-${rho}`,
    group: "ASAM",
    method: sam(rho, true),
    paper: false,
    label: `ASAM ρ=${rho}`,
  })),
  {
    id: "SAM-0.1+AT-linf-8",
    group: "SAM+AT",
    method: { optimizer: sam(0.1).optimizer, perturb: pgdInputs("linf", 8 / 255, 2 / 255, 10) },
    paper: false,
    label: "SAM ρ=0.1 + AT L∞ ε=8/255",
  },
]);

export const ALL_ROWS: readonly GridRow[] = Object.freeze([...GRID, ...EXTRA_ROWS]);

export function rowById(id: string): GridRow | undefined {
  return ALL_ROWS.find((r) => r.id === id);
}

/** The id of a data/paper_tables.csv row (columns method, rho, norm, eps as written there). */
export function paperRowId(r: Record<string, unknown>): string {
  if (r.method === "ST") return "ST";
  if (r.method === "SAM") return `SAM-${Number(r.rho)}`;
  return `AT-${r.norm}-${String(r.eps).split("/")[0]}`;
}

/**
 * Row ids as the user typed them ("all" = the given rows, or a comma list; "AT-linf-1/255" and any
 * case accepted), among `rows` (a preset's rows); returned in `rows` order.
 */
export function parseRows(
  spec: string | readonly string[] | undefined,
  rows: readonly GridRow[] = GRID,
): GridRow[] {
  if (spec === undefined) return [...rows];
  const names = (typeof spec === "string" ? spec.split(",") : [...spec]).map((s) => s.trim())
    .filter(Boolean);
  const ids = rows.map((r) => r.id).join(", ");
  if (names.length === 1 && names[0].toLowerCase() === "all") return [...rows];
  if (names.length === 0) {
    throw new ExperimentError(`No rows given: use "all" or a comma list of ${ids}.`);
  }
  const out: GridRow[] = [];
  for (const name of names) {
    const key = name.replace(/\/255$/, "").toLowerCase();
    const row = rows.find((r) => r.id.toLowerCase() === key);
    if (!row) {
      throw new ExperimentError(`Unknown row "${name}": use "all" or a comma list of ${ids}.`);
    }
    if (!out.includes(row)) out.push(row);
  }
  return rows.filter((r) => out.includes(r));
}

/** Seeds as typed ("0,1,2"): whole numbers 0..2^32-1, no repeats. */
export function parseSeeds(spec: string | readonly number[]): number[] {
  const parts = typeof spec === "string" ? spec.split(",").map((s) => s.trim()) : spec.map(String);
  const bad = parts.find((s) => !/^\d+$/.test(s) || Number(s) > 4294967295);
  if (parts.length === 0 || parts.every((s) => s === "") || bad !== undefined) {
    throw new ExperimentError(
      `Invalid seeds "${
        typeof spec === "string" ? spec : spec.join(",")
      }": give whole numbers from 0 to 4294967295 separated by commas, e.g. 0,1,2.`,
    );
  }
  const seeds = parts.map(Number);
  if (new Set(seeds).size !== seeds.length) {
    throw new ExperimentError(`Invalid seeds "${parts.join(",")}": each seed may appear once.`);
  }
  return seeds;
}

export { familyOf };
