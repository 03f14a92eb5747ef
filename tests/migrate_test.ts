/**
 * The one-time migration of the first version's results CSV (one wide row per run) to the runs +
 * evaluations files (the committed default results were regenerated since, with saved models and
 * AutoAttack columns: the first version's code trained differently, so its models could not be
 * rebuilt; its numbers stay in git history and in tests/fixtures/results_v1.csv).
 */
import assert from "node:assert/strict";
import { migrateV1 } from "../lib/experiments/migrate_v1.ts";
import { planGrid, runComplete } from "../lib/experiments/plan.ts";
import {
  appendEval,
  appendRun,
  evalsPathFor,
  readEvals,
  readResults,
  type ResultRow,
  RUN_COLUMNS,
} from "../lib/experiments/results.ts";

const root = new URL("..", import.meta.url).pathname;
const fixture = `${root}tests/fixtures/results_v1.csv`;
const OLD_ROBUST = [
  "linf_1_255",
  "linf_2_255",
  "linf_4_255",
  "linf_8_255",
  "l2_16_255",
  "l2_32_255",
  "l2_64_255",
  "l2_128_255",
];
/** Columns the migration writes anew (identity and where the model lives) or adds (the method's new parts). */
const NEW_VALUES = ["run_id", "run_key", "model_file", "optimizer", "adaptive", "perturb"];

const plan = () => planGrid({ dataset: "fashion-mnist", preset: "default" });

Deno.test("migrate: the first version's rows become runs rows with the planned run keys and every kept value", () => {
  const old = readResults(fixture);
  assert.deepEqual(old.map((r) => `${r.row_id}/${r.seed}`), ["ST/0", "SAM-0.05/0", "SAM-0.1/0"]);
  const p = plan();
  const m = migrateV1(old, p);
  assert.equal(m.runs.length, 3);
  for (const [i, o] of old.entries()) {
    const r = m.runs[i];
    const planned = p.runs.find((x) => x.row.id === o.row_id && x.seed === o.seed)!;
    assert.equal(r.run_key, planned.runKey, `${o.row_id}: the key of planGrid's run`);
    assert.equal(r.run_id, planned.runId);
    assert.equal(r.model_file, null); // the first version saved no models
    assert.deepEqual(Object.keys(r), [...RUN_COLUMNS]);
    // Every value the first version recorded under a kept column is carried over unchanged.
    for (const k of RUN_COLUMNS) {
      if (NEW_VALUES.includes(k)) continue;
      assert.ok(k in o, `the first version had ${k}`);
      assert.equal(r[k], o[k], `${o.row_id} ${k}`);
    }
    // The method's new columns say what the old ones meant.
    const sgd = o.method === "ST";
    assert.deepEqual(
      [r.optimizer, r.adaptive, r.perturb],
      sgd ? ["sgd", null, null] : ["sam", false, null],
    );
    // One PGD-10 evaluation row per old robust column, with the old number.
    const evals = m.evals.filter((e) => e.run_key === r.run_key);
    assert.equal(evals.length, 8);
    assert.deepEqual(
      evals.map((e) => e.eval_key).sort(),
      OLD_ROBUST.map((c) => `pgd10_${c}`).sort(),
    );
    for (const e of evals) {
      const col = String(e.eval_key).replace(/^pgd10_/, "");
      assert.equal(e.accuracy, o[col], `${o.row_id} ${col}`);
      assert.equal(e.n, o.test_size);
      assert.equal(e.attack, "pgd");
      assert.equal(e.seed, o.seed);
      assert.equal(e.robust_flags, null);
      assert.deepEqual(JSON.parse(String(e.options)), {
        steps: 10,
        alpha: Number(e.eps) / 4,
        randomStart: true,
      });
    }
  }
  assert.equal(m.evals.length, 24);
});

Deno.test("migrate: the migrated files are what the planner reads as finished (nothing retrained or re-evaluated)", () => {
  const dir = Deno.makeTempDirSync({ prefix: "sam-at-migrate-" });
  try {
    const resultsPath = `${dir}/fm.csv`;
    const m = migrateV1(readResults(fixture), plan());
    for (const r of m.runs) appendRun(resultsPath, r);
    for (const e of m.evals) appendEval(resultsPath, e);
    assert.equal(readResults(resultsPath).length, 3);
    assert.equal(readEvals(resultsPath).length, 24);
    const p = planGrid({
      dataset: "fashion-mnist",
      preset: "default",
      rows: "ST,SAM-0.05,SAM-0.1",
      seeds: "0",
      resultsPath,
    });
    assert.deepEqual(p.runs.map((r) => r.status), ["done", "done", "done"]);
    // The migrated PGD-10 columns are not re-run; only what the first version never measured is
    // missing (seed 0's AutoAttack columns and their masking-check companions).
    const missing = p.runs.map((r) => r.missingEvals.map((e) => e.eval.key));
    assert.ok(
      missing.every((keys) => keys.length > 0 && !keys.some((k) => k.startsWith("pgd10_"))),
    );
    assert.ok(missing.every((keys) => keys.includes("aa-square1000_linf_8_255")), `${missing[0]}`);
    assert.ok(!p.runs.some(runComplete));
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("migrate: a row whose setting differs from the preset's run is refused with a sentence naming it", () => {
  const old = readResults(fixture);
  const p = plan();
  const refuse = (over: ResultRow, re: RegExp) =>
    assert.throws(() => migrateV1([old[0], { ...old[1], ...over }], p), (e: Error) => {
      assert.equal(e.name, "ExperimentError");
      assert.match(e.message, re);
      assert.doesNotMatch(e.message, /\n/);
      return true;
    });
  const id = String(old[1].run_id).replace(/\./g, "\\.");
  refuse(
    { lr: 0.05 },
    new RegExp(
      `^old results row ${id}: its lr is 0\\.05 but the preset's run has 0\\.1; it is not this run\\.$`,
    ),
  );
  refuse({ rho: 0.2 }, /: its rho is 0\.2 but the preset's run has 0\.05; it is not this run\.$/);
  refuse({ epochs: 100 }, /: its epochs is 100 but the preset's run has 10;/);
  refuse({ width: 16 }, /: its width is 16 but the preset's run has 8;/);
  refuse({ test_size: 10000 }, /: its test_size is 10000 but the preset's run has 1000;/);
  refuse({ eval_steps: 20 }, /: its eval_steps is 20 but the preset's run has 10;/);
  refuse(
    { running_stats: "all-passes" },
    /: its running_stats is "all-passes" but the preset's run has "loss-pass";/,
  );
  refuse(
    { row_id: "SAM-0.3" },
    new RegExp(`^old results row ${id}: no planned run has row SAM-0\\.3 and seed 0\\.$`),
  );
  refuse({ seed: 7 }, /: no planned run has row SAM-0\.05 and seed 7\.$/);
});

Deno.test("committed default results: all 36 runs, every evaluation of the preset, a model file each", () => {
  const p = plan();
  assert.equal(p.resultsPath, `${root}results/fashion-mnist-default.csv`);
  assert.equal(p.runs.length, 36);
  const notDone = p.runs.filter((r) => r.status !== "done").map((r) => `${r.row.id}/${r.seed}`);
  assert.deepEqual(notDone, [], "every run is trained");
  const missing = p.runs.flatMap((r) =>
    r.missingEvals.map((e) => `${r.row.id}/${r.seed} ${e.eval.key}`)
  );
  assert.deepEqual(missing, [], "every evaluation of the preset is there (AutoAttack: seed 0)");
  for (const r of p.runs) {
    assert.ok(Deno.statSync(r.modelPath).isFile, `${r.runId}: its model file`);
  }
  // Each run has exactly one runs row and one row per evaluation key and point count.
  const runs = readResults(p.resultsPath);
  assert.equal(new Set(runs.map((r) => r.run_key)).size, runs.length);
  const evals = readEvals(p.resultsPath);
  assert.equal(new Set(evals.map((e) => `${e.run_key} ${e.eval_key} ${e.n}`)).size, evals.length);
  for (const e of evals) {
    assert.ok(typeof e.accuracy === "number" && e.accuracy >= 0 && e.accuracy <= 1);
  }
});

Deno.test("migrate: the script writes both files once and refuses to overwrite", async () => {
  const dir = Deno.makeTempDirSync({ prefix: "sam-at-migrate-cli-" });
  const run = async (...args: string[]) => {
    const r = await new Deno.Command(Deno.execPath(), {
      args: ["run", "--allow-all", "scripts/migrate_results_v1.ts", ...args],
      cwd: root,
      stdout: "piped",
      stderr: "piped",
    }).output();
    const dec = new TextDecoder();
    return { code: r.code, out: dec.decode(r.stdout), err: dec.decode(r.stderr) };
  };
  try {
    const target = `${dir}/new.csv`;
    const first = await run("--old", fixture, "--results", target);
    assert.equal(first.code, 0, first.err);
    assert.match(first.out, /^3 runs and 24 evaluations written to /);
    assert.equal(readResults(target).length, 3);
    assert.equal(readResults(evalsPathFor(target)).length, 24);
    const again = await run("--old", fixture, "--results", target);
    assert.equal(again.code, 2);
    assert.equal(
      again.err.trim(),
      `${target} exists already; move it away or name another --results.`,
    );
    const none = await run("--results", `${dir}/x.csv`);
    assert.equal(none.code, 2);
    assert.match(none.err, /^Give the old results file with --old; usage: /);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});
