/**
 * Issue 31: the results CSVs are read strictly, one line per row. A malformed line (an unbalanced
 * quote, a row cut short, a number that is not one) is named by its line and set aside: it never
 * swallows the rows after it and never counts as finished.
 */
import { TINY_QUICK as TINY, toySplits } from "./tiny_grid.ts";
import assert from "node:assert/strict";
import { initBackend } from "../lib/backend/backend.ts";
import { planGrid } from "../lib/experiments/plan.ts";
import {
  appendEval,
  appendRun,
  auditResults,
  EVAL_COLUMNS,
  evalsPathFor,
  flagsToBase64,
  readEvals,
  readResults,
  RUN_COLUMNS,
} from "../lib/experiments/results.ts";
import { runGrid } from "../lib/experiments/runner.ts";
import { maskingChecksOfResults } from "../lib/analysis/masking.ts";

const tempDir = (p: string) => Deno.makeTempDirSync({ prefix: `sam-at-${p}-` });

Deno.test("results CSV: an unbalanced quote sets its one line aside, named by line; the rows after it and rows appended later are read (issue 31 #3)", () => {
  const dir = tempDir("quote");
  try {
    const csv = `${dir}/r.csv`;
    for (const k of ["k00000001", "k00000002", "k00000003"]) {
      appendRun(csv, { run_key: k, row_id: "ST", seed: 0, clean: 0.5 });
    }
    // A stray quote opens a cell in row 1 (line 2) that the old parser never closed.
    const text = Deno.readTextFileSync(csv).replace("k00000001,", 'k00000001,"');
    Deno.writeTextFileSync(csv, text);
    assert.deepEqual(readResults(csv).map((r) => r.run_key), ["k00000002", "k00000003"]);
    assert.deepEqual(auditResults(csv), [
      `${csv} line 2 has an unbalanced quote; it is set aside (read as absent, so its work runs again): repair or delete that line.`,
    ]);
    // The run of the damaged line is added again, and read back: nothing later is swallowed.
    assert.equal(appendRun(csv, { run_key: "k00000001", row_id: "ST", seed: 0, clean: 0.5 }), true);
    assert.deepEqual(readResults(csv).map((r) => r.run_key), [
      "k00000002",
      "k00000003",
      "k00000001",
    ]);
    assert.equal(appendRun(csv, { run_key: "k00000001", clean: 0.5 }), false, "not twice");
    // A number that is not one, and a row with a cell too many, are set aside as well.
    const lines = Deno.readTextFileSync(csv).split("\n");
    lines[4] = lines[4].replace(",0.5,", ",abc,");
    Deno.writeTextFileSync(csv, lines.join("\n") + text.split("\n")[2] + ",x\n");
    assert.deepEqual(readResults(csv).map((r) => r.run_key), ["k00000002", "k00000003"]);
    assert.deepEqual(auditResults(csv).map((n) => n.replace(/;.*/, "")), [
      `${csv} line 2 has an unbalanced quote`,
      `${csv} line 5 holds "abc" in column clean, not a number`,
      `${csv} line 6 has 37 cells, the header names 36`,
    ]);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

/** The tiny synthetic grid (tests/tiny_grid.ts). */
const toy = () => toySplits(TINY);

Deno.test("runGrid: a runs row with an unbalanced quote is trained once more, named, and then done, not on every invocation (issue 31 #3)", async () => {
  await initBackend();
  const dir = tempDir("quote-grid");
  const lines: string[] = [];
  const o = {
    preset: TINY,
    data: toy(),
    rows: "ST,SAM-0.1",
    resultsPath: `${dir}/r.csv`,
    progress: "none" as const,
    workers: 1,
    log: (l: string) => lines.push(l),
  };
  try {
    assert.equal((await runGrid(o)).trained, 2);
    const csv = Deno.readTextFileSync(o.resultsPath).split("\n");
    csv[1] = csv[1].replace(",ST,", ',"ST,');
    Deno.writeTextFileSync(o.resultsPath, csv.join("\n"));
    lines.length = 0;
    assert.equal((await runGrid(o)).trained, 1, "the damaged run, once");
    assert.match(lines.join("\n"), /r\.csv line 2 has an unbalanced quote; it is set aside/);
    assert.equal((await runGrid(o)).trained, 0, "and not again");
    assert.equal(readResults(o.resultsPath).length, 2);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("evaluations CSV: a last row cut inside robust_flags is set aside, not finished; the masking checks never decode it (issue 31 #4)", () => {
  const dir = tempDir("torn");
  try {
    const csv = `${dir}/r.csv`;
    appendRun(csv, { run_key: "k00000001", row_id: "ST", seed: 0, clean: 0.5, test_size: 64 });
    const flags = flagsToBase64(new Uint8Array(64).fill(1));
    const ev = {
      run_key: "k00000001",
      eval_key: "aa_linf_8_255",
      attack: "autoattack",
      norm: "linf",
      eps: 8 / 255,
      options: "{}",
      n: 64,
      accuracy: 1,
      robust_flags: flags,
      seconds: 1,
    };
    appendEval(csv, { ...ev, eval_key: "pgd10_linf_8_255", attack: "pgd" });
    appendEval(csv, ev);
    const text = Deno.readTextFileSync(evalsPathFor(csv));
    const cut = text.slice(0, text.lastIndexOf(flags) + 5); // inside the flags, later cells gone
    Deno.writeTextFileSync(evalsPathFor(csv), cut);
    assert.deepEqual(readEvals(csv).map((r) => r.eval_key), ["pgd10_linf_8_255"]);
    assert.deepEqual(auditResults(csv), [
      `${
        evalsPathFor(csv)
      } line 3 is cut: 10 of ${EVAL_COLUMNS.length} cells; it is set aside (read as absent, so its work runs again): repair or delete that line.`,
    ]);
    assert.deepEqual(maskingChecksOfResults(readResults(csv), readEvals(csv), 64), []);
    // Cut after its last cell but before the newline: still cut.
    Deno.writeTextFileSync(evalsPathFor(csv), text.slice(0, -1));
    assert.equal(readEvals(csv).length, 1);
    // Flags that do not hold n bits are damage too.
    Deno.writeTextFileSync(evalsPathFor(csv), text.replace(`,${flags},`, `,${flags.slice(4)},`));
    assert.deepEqual(readEvals(csv).map((r) => r.eval_key), ["aa_linf_8_255"]);
    assert.match(auditResults(csv)[0], /line 2 has robust_flags of 5 bytes, n = 64 needs 8;/);
    // An append after a cut last row keeps it set aside, and the new row reads back.
    Deno.writeTextFileSync(evalsPathFor(csv), cut);
    assert.equal(appendEval(csv, ev), true);
    assert.deepEqual(readEvals(csv).map((r) => r.eval_key), ["pgd10_linf_8_255", "aa_linf_8_255"]);
    assert.equal(auditResults(csv).length, 1);
    assert.equal(RUN_COLUMNS.length, 36);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("strict reading: every committed results, evaluations and measure-cache CSV reads with no line set aside", () => {
  const root = new URL("..", import.meta.url).pathname;
  for (const name of ["fashion-mnist-default", "fashion-mnist-full"]) {
    const path = `${root}results/${name}.csv`;
    assert.deepEqual(auditResults(path), [], name);
    const lines = (p: string) => Deno.readTextFileSync(p).trim().split("\n").length - 1;
    assert.equal(readResults(path).length, lines(path));
    assert.equal(readEvals(path).length, lines(evalsPathFor(path)));
    const cache = path.replace(/\.csv$/, ".sharpness.csv");
    assert.equal(readResults(cache).length, lines(cache));
  }
  // planGrid reads them as before.
  assert.equal(planGrid({ preset: "default" }).runs.filter((r) => r.status === "done").length, 36);
});
