/**
 * What the mechanism measures show, as typed values: each finding holds its verdict, the counts and
 * the numbers it rests on, so the prose (lib/report/mechanism_text.ts) can only say what a value
 * holds. Thresholds are part of each value's definition, stated in its comment.
 */
import { MEASURES, type RunMeasures } from "./mechanism_data.ts";
import type { CorrelationRow } from "./mechanism_correlations.ts";
import type { EquivalenceRow } from "./mechanism_section3.ts";
import { median } from "../util/median.ts";
import type { DatasetName } from "../data/dataset.ts";
import { robustKeyOf, robustLabelOf } from "./robust_column.ts";

/** A run's robust accuracy in the column its dataset's findings read (robust_column.ts). */
const robustOf = (r: RunMeasures) => r.robust[robustKeyOf(r.dataset)];

/**
 * Whether two Spearman correlations are the same, up to float noise: a few runs order many
 * measures alike (4 CIFAR runs give -1 for most), and such measures tie rather than one leading.
 */
export const sameSpearman = (a: number, b: number) => Math.abs(a - b) < 1e-9;

/** A correlation with the robust column its file's findings read. */
export const ownColumn = (c: CorrelationRow) => c.robust === robustLabelOf(c.dataset);

const SAM_IDS = ["SAM-0.05", "SAM-0.1", "SAM-0.2"] as const;

const isAt = (r: RunMeasures) => r.row.group === "AT-linf" || r.row.group === "AT-l2";
const files = (records: readonly RunMeasures[]) => [...new Set(records.map((r) => r.results))];
const seedsOf = (records: readonly RunMeasures[]) =>
  [...new Set(records.map((r) => r.seed))].sort((a, b) => a - b);

function bySeed(records: readonly RunMeasures[], id: string, seed: number, file: string) {
  return records.find((r) => r.row.id === id && r.seed === seed && r.results === file);
}

export interface Range {
  min: number;
  max: number;
}
const rangeOf = (a: readonly number[]): Range => ({ min: Math.min(...a), max: Math.max(...a) });

/** One run as the findings cite it. */
export interface RunPoint {
  file: string;
  /** Its dataset: `robust` is in robustLabelOf(dataset)'s column. */
  dataset: DatasetName;
  row: string;
  seed: number;
  robust: number;
  sharpness: number;
  lambdaMax: number;
  gradL1: number;
}

function point(r: RunMeasures): RunPoint {
  return {
    file: r.results,
    dataset: r.dataset,
    row: r.row.label,
    seed: r.seed,
    robust: robustOf(r),
    sharpness: r.values["sharpness_0.1"],
    lambdaMax: r.values.lambda_max,
    gradL1: r.values.grad_l1,
  };
}

// ---------------------------------------------------------------------------------------------
// 1. Is SAM flatter than ST, and does robustness rise as it gets flatter?

export interface SamFlatness {
  /** SAM runs compared with ST of their file and seed. */
  pairs: number;
  /** Of those, SAM has both the smaller sharpness (rho 0.1) and the smaller lambda_max. */
  flatter: number;
  /** Seeds (per file) with ST and all three SAM rows: the chain ST -> rho 0.05 -> 0.1 -> 0.2. */
  chains: number;
  /** Chains along which sharpness (rho 0.1) falls at every step. */
  sharpnessFalls: number;
  /** Chains along which robust accuracy (each file's own column) rises at every step. */
  robustRises: number;
  /** Chains along which both happen. */
  both: number;
  /** "yes": every pair flatter; "mostly": more than half; "no": half or fewer. */
  answer: "yes" | "mostly" | "no";
}

export function samFlatness(records: readonly RunMeasures[]): SamFlatness {
  let pairs = 0, flatter = 0, chains = 0, sharpnessFalls = 0, robustRises = 0, both = 0;
  const falls = (v: number[]) => v.every((x, i) => i === 0 || x < v[i - 1]);
  for (const file of files(records)) {
    for (const seed of seedsOf(records.filter((r) => r.results === file))) {
      const st = bySeed(records, "ST", seed, file);
      if (!st) continue;
      const sams = SAM_IDS.map((id) => bySeed(records, id, seed, file));
      for (const s of sams) {
        if (!s) continue;
        pairs++;
        if (
          s.values["sharpness_0.1"] < st.values["sharpness_0.1"] &&
          s.values.lambda_max < st.values.lambda_max
        ) flatter++;
      }
      if (sams.every((s) => s)) {
        chains++;
        const chain = [st, ...sams] as RunMeasures[];
        const f = falls(chain.map((r) => r.values["sharpness_0.1"]));
        const r = falls(chain.map((r) => -robustOf(r)));
        if (f) sharpnessFalls++;
        if (r) robustRises++;
        if (f && r) both++;
      }
    }
  }
  const answer = flatter === pairs ? "yes" : flatter > pairs / 2 ? "mostly" : "no";
  return { pairs, flatter, chains, sharpnessFalls, robustRises, both, answer };
}

/** Per results file: how often a SAM run is flatter than ST of its seed, over three measures. */
export interface FileFlatness {
  file: string;
  runs: number;
  seeds: number[];
  /** SAM run x measure (sharpness rho 0.1, m-sharpness rho 0.1, lambda_max) comparisons. */
  comparisons: number;
  flatter: number;
  /** ST beside SAM rho 0.2 per seed. */
  bySeed: { seed: number; st: RunPoint; sam: RunPoint }[];
}

export function fileFlatness(records: readonly RunMeasures[]): FileFlatness[] {
  return files(records).map((file) => {
    const mine = records.filter((r) => r.results === file);
    let comparisons = 0, flatter = 0;
    const perSeed: FileFlatness["bySeed"] = [];
    for (const seed of seedsOf(mine)) {
      const st = bySeed(mine, "ST", seed, file);
      if (!st) continue;
      for (const sam of mine.filter((r) => r.row.group === "SAM" && r.seed === seed)) {
        for (const k of ["sharpness_0.1", "m_sharpness_0.1", "lambda_max"]) {
          if (!Number.isFinite(sam.values[k]) || !Number.isFinite(st.values[k])) continue;
          comparisons++;
          if (sam.values[k] < st.values[k]) flatter++;
        }
      }
      const s02 = bySeed(mine, "SAM-0.2", seed, file);
      if (s02) perSeed.push({ seed, st: point(st), sam: point(s02) });
    }
    return { file, runs: mine.length, seeds: seedsOf(mine), comparisons, flatter, bySeed: perSeed };
  });
}

// ---------------------------------------------------------------------------------------------
// 2. AT in weight space, and does flatness explain robustness across methods?

/** Each AT run beside ST and SAM rho 0.2 of its file and seed. */
export interface AtComparison {
  at: RunPoint;
  st: RunPoint;
  sam?: RunPoint;
}

export function atComparisons(records: readonly RunMeasures[]): AtComparison[] {
  return records.filter(isAt).flatMap((at) => {
    const st = bySeed(records, "ST", at.seed, at.results);
    const sam = bySeed(records, "SAM-0.2", at.seed, at.results);
    return st ? [{ at: point(at), st: point(st), ...(sam ? { sam: point(sam) } : {}) }] : [];
  });
}

/** How the AT runs compare: counts over atComparisons. */
export interface AtSummary {
  runs: number;
  /** AT's lambda_max below ST's / below SAM rho 0.2's (of those with a SAM rho 0.2 run). */
  flatterThanSt: number;
  flatterThanSam: number;
  withSam: number;
  /** AT's mean input-gradient norm below both ST's and SAM rho 0.2's. */
  smallestGrad: number;
  /** AT more robust than SAM rho 0.2. */
  moreRobustThanSam: number;
}

export function atSummary(cmp: readonly AtComparison[]): AtSummary {
  const withSam = cmp.filter((c) => c.sam);
  return {
    runs: cmp.length,
    flatterThanSt: cmp.filter((c) => c.at.lambdaMax < c.st.lambdaMax).length,
    flatterThanSam: withSam.filter((c) => c.at.lambdaMax < c.sam!.lambdaMax).length,
    withSam: withSam.length,
    smallestGrad:
      withSam.filter((c) => c.at.gradL1 < c.st.gradL1 && c.at.gradL1 < c.sam!.gradL1).length,
    moreRobustThanSam: withSam.filter((c) => c.at.robust > c.sam!.robust).length,
  };
}

/** The margin (accuracy, as a fraction) by which AT must beat every SAM/ASAM run of its seed. */
export const AT_MARGIN = 0.05;

/**
 * An AT run more robust than every SAM/ASAM run of its file and seed by more than AT_MARGIN, yet
 * not flatter than some of them (their lambda_max or sharpness rho 0.1 at most AT's).
 */
export interface Separation {
  at: RunPoint;
  flatterSams: RunPoint[];
}

export interface FlatnessAcrossMethods {
  /** AT runs with a robust accuracy. */
  atRuns: number;
  /** AT runs more robust than every SAM/ASAM run of their seed by more than AT_MARGIN. */
  moreRobust: number;
  separations: Separation[];
  /** "no": some AT run separates flatness from robustness; "not separated": none does. */
  answer: "no" | "not separated";
}

export function flatnessAcrossMethods(records: readonly RunMeasures[]): FlatnessAcrossMethods {
  const ats = records.filter((r) => isAt(r) && Number.isFinite(robustOf(r)));
  const separations: Separation[] = [];
  let moreRobust = 0;
  for (const at of ats) {
    // Its own file and seed only: robust columns differ between datasets (robust_column.ts).
    const sams = records.filter((r) =>
      r.results === at.results && r.seed === at.seed &&
      (r.row.group === "SAM" || r.row.group === "ASAM")
    );
    const beatsAll = sams.length > 0 &&
      sams.every((s) => robustOf(at) > robustOf(s) + AT_MARGIN);
    if (!beatsAll) continue;
    moreRobust++;
    const flatter = sams.filter((s) =>
      s.values.lambda_max <= at.values.lambda_max ||
      s.values["sharpness_0.1"] <= at.values["sharpness_0.1"]
    );
    if (flatter.length) separations.push({ at: point(at), flatterSams: flatter.map(point) });
  }
  return {
    atRuns: ats.length,
    moreRobust,
    separations,
    answer: separations.length ? "no" : "not separated",
  };
}

// ---------------------------------------------------------------------------------------------
// 3. What tracks robustness?

export const INPUT_MEASURE = "mean ‖∇ₓL‖₁";

export interface StSamOrdering {
  file: string;
  n: number;
  shown: CorrelationRow[];
  /** The measures shown have the same Spearman: these runs cannot tell them apart. */
  sameOrdering: boolean;
  /** The smallest exact two-sided p possible with n runs (2/n!), for n <= 8. */
  smallestP: number;
}

export interface Trackers {
  /** The strongest (most negative) correlation over all runs of a file. */
  best: CorrelationRow;
  /** The other measures of best's file with the same Spearman: its runs order them alike. */
  tied: CorrelationRow[];
  /** The space of best and those tied with it; "tie" when they span both. */
  lead: "input" | "weight" | "tie";
  input: CorrelationRow[];
  weightBest?: CorrelationRow;
  stSam: StSamOrdering[];
}

/**
 * Correlations with each file's own robust column over all runs of each file; undefined when none
 * is defined (a constant column gives NaN, which ranks nothing).
 */
export function trackers(corr: readonly CorrelationRow[]): Trackers | undefined {
  const weight = MEASURES.filter((m) => m.space === "weight").map((m) => m.label);
  const all = corr.filter((c) =>
    c.subsetName === "all runs" && ownColumn(c) && Number.isFinite(c.spearman)
  );
  const byStrength = [...all].sort((a, b) => a.spearman - b.spearman);
  const best = byStrength[0];
  if (!best) return undefined;
  // A few runs give many measures the same ranks (4 CIFAR runs: -1 for most): none of them leads.
  const tied = all.filter((c) =>
    c !== best && c.file === best.file && sameSpearman(c.spearman, best.spearman)
  );
  const spaces = new Set(
    [best, ...tied].map((c) => MEASURES.find((m) => m.label === c.measure)?.space),
  );
  const stSamRows = corr.filter((c) => c.subsetName === "ST + SAM only" && ownColumn(c));
  const stSam = [...new Set(stSamRows.map((c) => c.file))].map((file) => {
    const mine = stSamRows.filter((c) => c.file === file);
    const shown = ["sharpness ρ=0.1", "λ_max of the Hessian", INPUT_MEASURE]
      .map((m) => mine.find((c) => c.measure === m))
      .filter((c): c is CorrelationRow => c !== undefined);
    const n = mine[0]?.n ?? 0;
    let fact = 1;
    for (let k = 2; k <= n; k++) fact *= k;
    return {
      file,
      n,
      shown,
      sameOrdering: shown.length > 1 && shown.every((c) => c.spearman === shown[0].spearman),
      smallestP: n <= 8 ? 2 / fact : NaN,
    };
  });
  return {
    best,
    tied,
    lead: spaces.has("input") && spaces.has("weight")
      ? "tie"
      : spaces.has("input")
      ? "input"
      : "weight",
    input: all.filter((c) => c.measure === INPUT_MEASURE),
    weightBest: byStrength.find((c) => weight.includes(c.measure)),
    stSam,
  };
}

/** A measure's Spearman with its file's own robust column in one subset (README quotes these). */
export function correlationOf(
  corr: readonly CorrelationRow[],
  file: string,
  subsetName: string,
  measure: string,
): CorrelationRow | undefined {
  return corr.find((c) =>
    c.file === file && c.subsetName === subsetName && c.measure === measure && ownColumn(c)
  );
}

// ---------------------------------------------------------------------------------------------
// The Hutchinson trace's noise

export interface TraceNoise {
  /** Pairs of runs of the same file with a trace and its standard error. */
  pairs: number;
  /** Pairs whose traces differ by more than 2 combined standard errors. */
  separated: number;
  medianRelativeSe: number;
  /** "noise": fewer than half the pairs are separated. */
  answer: "noise" | "separates";
}

export function traceNoise(records: readonly RunMeasures[]): TraceNoise {
  const tr = records.filter((r) =>
    Number.isFinite(r.values.hessian_trace) && Number.isFinite(r.values.trace_se)
  );
  let separated = 0, pairs = 0;
  for (let i = 0; i < tr.length; i++) {
    for (let j = i + 1; j < tr.length; j++) {
      if (tr[i].results !== tr[j].results) continue;
      pairs++;
      const d = Math.abs(tr[i].values.hessian_trace - tr[j].values.hessian_trace);
      if (d > 2 * Math.hypot(tr[i].values.trace_se, tr[j].values.trace_se)) separated++;
    }
  }
  return {
    pairs,
    separated,
    medianRelativeSe: median(tr.map((r) => r.values.trace_se / Math.abs(r.values.hessian_trace))),
    answer: separated < pairs / 2 ? "noise" : "separates",
  };
}

// ---------------------------------------------------------------------------------------------
// 4. Section 3: is SAM's perturbation a weaker input perturbation?

/** Median relative residual above which SAM's feature change counts as "not an input perturbation". */
export const NOT_INPUT_RESIDUAL = 0.9;

export interface Section3 {
  /** SAM rows at their own rho. */
  n: number;
  /** AT's first-layer feature change over SAM's, L-inf 8/255 and L2 128/255. */
  linfRatio: Range;
  l2Ratio: Range;
  /** Rows where both AT perturbations change the features more than SAM's. */
  weakerBoth: number;
  /** "all" rows, "some" or "none". */
  weaker: "all" | "some" | "none";
  share: Range;
  residual: Range;
  medianResidual: number;
  lsLinf255: Range;
  /** "no": median residual above NOT_INPUT_RESIDUAL; "partly" otherwise. */
  inputPerturbation: "no" | "partly";
}

export function section3(eq: readonly EquivalenceRow[]): Section3 | undefined {
  const own = eq.filter((e) => e.group === "SAM");
  if (own.length === 0) return undefined;
  const weakerBoth = own.filter((e) => e.atLinf8OverSam > 1 && e.atL2_128OverSam > 1).length;
  const medianResidual = median(own.map((e) => e.residual));
  return {
    n: own.length,
    linfRatio: rangeOf(own.map((e) => e.atLinf8OverSam)),
    l2Ratio: rangeOf(own.map((e) => e.atL2_128OverSam)),
    weakerBoth,
    weaker: weakerBoth === own.length ? "all" : weakerBoth > 0 ? "some" : "none",
    share: rangeOf(own.map((e) => e.share)),
    residual: rangeOf(own.map((e) => e.residual)),
    medianResidual,
    lsLinf255: rangeOf(own.map((e) => e.lsLinf_255)),
    inputPerturbation: medianResidual > NOT_INPUT_RESIDUAL ? "no" : "partly",
  };
}

// ---------------------------------------------------------------------------------------------
// The ordering of robustness the paper's picture predicts: AT > SAM > ST

export interface RobustOrdering {
  file: string;
  /** Mean robust accuracy (the file's own column) over each family's runs (NaN when none). */
  st: number;
  sam: number;
  at: number;
  /** Families by mean robust accuracy, highest first, e.g. ["AT", "SAM", "ST"]. */
  order: string[];
  holds: boolean;
}

export function robustOrdering(records: readonly RunMeasures[]): RobustOrdering[] {
  return files(records).flatMap((file) => {
    const mine = records.filter((r) => r.results === file);
    const mean = (keep: (r: RunMeasures) => boolean) => {
      const v = mine.filter(keep).map(robustOf).filter(Number.isFinite);
      return v.length ? v.reduce((a, b) => a + b, 0) / v.length : NaN;
    };
    const st = mean((r) => r.row.group === "ST");
    const sam = mean((r) => r.row.group === "SAM");
    const at = mean(isAt);
    if (![st, sam, at].every(Number.isFinite)) return [];
    const order = ([["AT", at], ["SAM", sam], ["ST", st]] as [string, number][])
      .sort((a, b) => b[1] - a[1]).map(([k]) => k);
    return [{ file, st, sam, at, order, holds: at > sam && sam > st }];
  });
}

// ---------------------------------------------------------------------------------------------

/** Every mechanism finding, computed once: what the notebook, README and index render. */
export interface MechanismFindings {
  /** The datasets of the runs, once each: each fixes its files' robust column (robust_column.ts). */
  datasets: DatasetName[];
  samFlatness: SamFlatness;
  fileFlatness: FileFlatness[];
  atComparisons: AtComparison[];
  atSummary: AtSummary;
  acrossMethods: FlatnessAcrossMethods;
  trackers?: Trackers;
  traceNoise: TraceNoise;
  section3?: Section3;
  ordering: RobustOrdering[];
}

export function mechanismFindings(
  records: readonly RunMeasures[],
  corr: readonly CorrelationRow[],
  eq: readonly EquivalenceRow[],
): MechanismFindings {
  const cmp = atComparisons(records);
  return {
    datasets: [...new Set(records.map((r) => r.dataset))],
    samFlatness: samFlatness(records),
    fileFlatness: fileFlatness(records),
    atComparisons: cmp,
    atSummary: atSummary(cmp),
    acrossMethods: flatnessAcrossMethods(records),
    trackers: trackers(corr),
    traceNoise: traceNoise(records),
    section3: section3(eq),
    ordering: robustOrdering(records),
  };
}
